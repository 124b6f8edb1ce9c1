"""Strands Agents sessions on s3sessions: ``Agent(session_manager=StrandsSessionManager("chat-42", bucket=...))``.

`StrandsSessionManager` is Strands' own ``RepositorySessionManager`` (restore logic, conversation-manager
offsets, broken tool-use repair, redaction: all unchanged) over `S3SessionsRepository`, a Strands
``SessionRepository`` that keeps each agent in one s3sessions `Session` (layout: `_strands_format`). Like
Strands' own ``S3SessionManager`` and ``FileSessionManager`` it is also that repository (``read_agent``,
``list_messages``, ``delete_session``, ...), and it persists multi-agent (``Swarm``, ``Graph``) state.

Commit modes (``commit=``):

- ``"invocation"`` (default): everything one agent invocation writes (the prompt, tool calls and results, the
  reply, agent state, conversation-manager state) is saved once, when the invocation ends (Strands'
  ``AfterInvocationEvent``, which also fires when the invocation fails): 2 PUTs per invocation, whatever it held.
- ``"message"``: one save per message, as Strands' own repositories write: 2 PUTs per message (4 for a plain
  turn, 8 for a turn with one tool call). Choose it when a crash in the middle of a long invocation must not
  lose the messages it had produced so far.

Either way a save uploads only what changed (the new messages and the inline tail, never the history) and is
conditional: a second process writing the same agent gets `ConflictError` (also a Strands ``SessionException``)
and nothing it wrote is half-applied. Resuming an agent is one GET (two once the history outgrows the 64 KiB
inline tail), whatever the length. Multi-agent state is saved after every node, so a Swarm or Graph resumes
from its last finished node.

Strands calls its session manager synchronously (from hooks, possibly inside a running event loop), so the
async s3sessions manager runs on a private loop in a daemon thread. Close the manager (``close()`` or ``with``)
to release its connections.

Requires ``pip install 's3sessions[strands]'``.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Literal

from strands.hooks import AfterInvocationEvent, BeforeInvocationEvent, HookRegistry, MessageAddedEvent
from strands.session.repository_session_manager import RepositorySessionManager
from strands.session.session_repository import SessionRepository
from strands.types.agent import LocalAgent
from strands.types.session import Session as StrandsSession
from strands.types.session import SessionAgent, SessionMessage

from ..base import SessionManager
from ..errors import InvalidInput
from ..loop_thread import LoopThread
from . import _strands_format as fmt
from ._manager import open_manager
from ._strands_repository import S3SessionsRepository, SessionConflict, SessionMissing

__all__ = ["COMMIT_MODES", "S3SessionsRepository", "SessionConflict", "SessionMissing", "StrandsSessionManager"]

CommitMode = Literal["invocation", "message"]
COMMIT_MODES: tuple[CommitMode, ...] = ("invocation", "message")


class StrandsSessionManager(RepositorySessionManager, SessionRepository):
    """A Strands session manager that stores each agent in one s3sessions session.

    Args:
        session_id: The Strands session id. The agent ``"default"`` is stored under this s3sessions id,
            another agent under ``"<session_id>.<agent_id>"``, a multi-agent under
            ``"<session_id>.multi_agent_<id>"`` (all limited to ``[A-Za-z0-9._-]``).
        manager: An s3sessions manager to use; the caller keeps ownership and closes it.
        commit: ``"invocation"`` (one save per agent invocation) or ``"message"`` (one per message).
        **manager_options: Without ``manager``: `S3SessionManager` options (``bucket``, ``prefix``,
            ``endpoint_url``, ``region_name``, ``profile_name``, ``kms_key_id``, ``client_config``, ...), passed
            verbatim; this object then owns its manager and closes it in `close`.

    Example:
        >>> from strands import Agent  # doctest: +SKIP
        >>> with StrandsSessionManager("chat-42", bucket="my-bucket", prefix="agents/") as sessions:  # doctest: +SKIP
        ...     Agent(session_manager=sessions)("Hello!")
    """

    def __init__(
        self,
        session_id: str,
        *,
        manager: SessionManager | None = None,
        commit: CommitMode = "invocation",
        **manager_options: Any,
    ) -> None:
        if commit not in COMMIT_MODES:
            raise InvalidInput(f"invalid commit mode {commit!r}: use one of {', '.join(COMMIT_MODES)}")
        self.commit_mode: CommitMode = commit
        self.manager, self._owns_manager = open_manager(manager, manager_options)
        self._loop: LoopThread | None = LoopThread(name=f"s3sessions-strands-{session_id}")
        self._repository = S3SessionsRepository(self.manager, self._loop.run)
        self._message_holds: set[str] = set()
        try:
            super().__init__(session_id=session_id, session_repository=self._repository)
        except BaseException:
            self.close()
            raise

    # --------------------------------------------------------------------------------- session management

    def register_hooks(self, registry: HookRegistry, **kwargs: Any) -> None:
        """Registers Strands' persistence hooks, and around them the holds that make one save of each message
        and the agent state Strands syncs after it (``"message"``) or of each whole invocation
        (``"invocation"``)."""
        registry.add_callback(MessageAddedEvent, self._hold_message)
        super().register_hooks(registry, **kwargs)
        registry.add_callback(MessageAddedEvent, self._release_message)
        if self.commit_mode == "invocation":
            registry.add_callback(BeforeInvocationEvent, self._start_invocation)
        registry.add_callback(AfterInvocationEvent, self._end_invocation)

    def initialize(self, agent: LocalAgent, **kwargs: Any) -> None:
        """Restores the agent, or creates it with its initial messages in one save."""
        with self._repository.deferred(self._key(agent)):
            super().initialize(agent, **kwargs)

    def _hold_message(self, event: MessageAddedEvent) -> None:
        key = self._key(event.agent)
        if self._repository.hold(key):
            self._message_holds.add(key)

    def _release_message(self, event: MessageAddedEvent) -> None:
        key = self._key(event.agent)
        if key in self._message_holds:
            self._message_holds.discard(key)
            self._repository.release(key)

    def _start_invocation(self, event: BeforeInvocationEvent) -> None:
        self._repository.hold(self._key(event.agent))

    def _end_invocation(self, event: AfterInvocationEvent) -> None:
        """Syncs the agent and saves what the invocation held (also a message hold a failed write left)."""
        key = self._key(event.agent)
        self.sync_agent(event.agent)
        self._message_holds.discard(key)
        self._repository.release(key)

    def _key(self, agent: LocalAgent) -> str:
        return fmt.storage_id(self.session_id, agent.agent_id)

    # ------------------------------------------------------------------------- the repository, delegated

    def create_session(self, session: StrandsSession, **kwargs: Any) -> StrandsSession:
        return self._repository.create_session(session, **kwargs)

    def read_session(self, session_id: str, **kwargs: Any) -> StrandsSession | None:
        return self._repository.read_session(session_id, **kwargs)

    def delete_session(self, session_id: str, **kwargs: Any) -> None:
        """Deletes a Strands session: every agent and multi-agent stored in it."""
        self._repository.delete_session(session_id, **kwargs)

    def create_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        self._repository.create_agent(session_id, session_agent, **kwargs)

    def read_agent(self, session_id: str, agent_id: str, **kwargs: Any) -> SessionAgent | None:
        return self._repository.read_agent(session_id, agent_id, **kwargs)

    def update_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        self._repository.update_agent(session_id, session_agent, **kwargs)

    def create_message(self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any) -> None:
        self._repository.create_message(session_id, agent_id, session_message, **kwargs)

    def read_message(self, session_id: str, agent_id: str, message_id: int, **kwargs: Any) -> SessionMessage | None:
        return self._repository.read_message(session_id, agent_id, message_id, **kwargs)

    def update_message(self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any) -> None:
        self._repository.update_message(session_id, agent_id, session_message, **kwargs)

    def list_messages(
        self, session_id: str, agent_id: str, limit: int | None = None, offset: int = 0, **kwargs: Any
    ) -> list[SessionMessage]:
        return self._repository.list_messages(session_id, agent_id, limit, offset, **kwargs)

    def create_multi_agent(self, session_id: str, multi_agent: Any, **kwargs: Any) -> None:
        self._repository.create_multi_agent(session_id, multi_agent, **kwargs)

    def read_multi_agent(self, session_id: str, multi_agent_id: str, **kwargs: Any) -> dict[str, Any] | None:
        return self._repository.read_multi_agent(session_id, multi_agent_id, **kwargs)

    def update_multi_agent(self, session_id: str, multi_agent: Any, **kwargs: Any) -> None:
        self._repository.update_multi_agent(session_id, multi_agent, **kwargs)

    # ------------------------------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Closes the manager if this object created it, and stops the private loop; idempotent."""
        loop, self._loop = getattr(self, "_loop", None), None
        if loop is not None:
            loop.close(self.manager.close() if self._owns_manager else None)

    def __enter__(self) -> StrandsSessionManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
