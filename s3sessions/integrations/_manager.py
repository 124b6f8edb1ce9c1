"""How every adapter gets its manager and commits through it (shared by Strands, OpenAI Agents and Claude).

`open_manager`: an adapter takes either ``manager=`` (the caller's: the caller closes it) or ``**manager_options``,
forwarded verbatim to `S3SessionManager` (bucket, prefix, endpoint_url, region_name, profile_name, kms_key_id,
client_config, pool_size, session, client, ...: every option, with the library's defaults and environment
variables), in which case the adapter owns the manager and closes it.

`commit`: the one read-apply-save path of the OpenAI and Claude adapters. It first applies the change to the copy
the adapter already holds (no GET when that copy is current); when another writer committed first it hands over to
`SessionManager.update`, which re-reads, applies again and retries with jittered back-off. Starting from the held
copy is why the adapters do not call `update` directly: `update` always reads first, which would add a GET to
every write (a ``Runner.run`` turn would go from 1 GET + 4 PUT to 3 GET + 4 PUT).

`Writer`: one session as one adapter object writes it. Writes started concurrently on one event loop are applied
together, in order, in one save (group commit), so an object's own writes never conflict with each other (25
concurrent ``add_items`` are one or two saves, not 25 rounds of retries); writes from other loops or processes
are other writers, settled by `commit`. No asyncio object is shared between loops: the queue and its lock are
per loop.
"""

from __future__ import annotations

import asyncio
import copy
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..base import SessionManager
from ..errors import ConflictError, InvalidInput, SessionNotFound
from ..models import Session

COMMIT_ATTEMPTS = 24
"""Attempts of an adapter's read-apply-save loop (`SessionManager.update`'s default is 8). A framework calls
``add_items`` / ``append`` with no way to handle a lost race (its own backends never raise one), and writers on
other event loops or processes contend on one session without the per-loop group commit: 8 threads appending
3 turns each to one OpenAI session exhausted 8 attempts in about 1 run in 6."""

__all__ = ["NoChange", "Writer", "commit", "open_manager"]


def open_manager(manager: SessionManager | None, options: Mapping[str, Any]) -> tuple[SessionManager, bool]:
    """Returns (the manager to use, whether the adapter owns it and must close it).

    Args:
        manager: The caller's manager, or None to create an `S3SessionManager` from ``options``.
        options: `S3SessionManager` keyword arguments, passed as they are.

    Raises:
        InvalidInput: both a manager and options were given (the options would be silently ignored).
        TypeError: an option `S3SessionManager` does not take.
    """
    if manager is not None:
        if options:
            raise InvalidInput(
                f"pass either manager= or S3SessionManager options, not both (got {', '.join(sorted(options))})"
            )
        return manager, False
    from ..manager import S3SessionManager

    return S3SessionManager(**options), True


class NoChange(Exception):
    """Raised by a `commit` change to say that nothing needs writing (`commit` then writes nothing)."""


def _copy(session: Session) -> Session:
    return session.model_copy(
        update={
            "messages": list(session.messages),
            "state": copy.deepcopy(session.state),
            "metadata": session.metadata.model_copy(deep=True),
        }
    )


async def commit(
    manager: SessionManager,
    session_id: str,
    held: Session | None,
    change: Callable[[Session], None],
    *,
    agent_name: str,
) -> Session | None:
    """Applies ``change`` to the session and saves it; returns the saved session, or None if ``change`` raised
    `NoChange` (nothing was written).

    ``change`` mutates the session it is given (a new, empty one when the session does not exist) and may run
    more than once, each time on a newer copy.

    S3 requests: with a current ``held`` copy, those of one `SessionManager.save`; otherwise, or after a lost
    race, those of `SessionManager.update` (a GET, then the save).

    Raises:
        ConflictError: the session kept changing under `COMMIT_ATTEMPTS` attempts of `SessionManager.update`.
    """
    if held is not None:
        candidate = _copy(held)
        try:
            change(candidate)
        except NoChange:
            return None
        try:
            await manager.save(candidate)
        except (ConflictError, SessionNotFound):
            pass  # another writer committed (or deleted) since `held` was read: read again and re-apply
        else:
            return candidate
    try:
        return await manager.update(session_id, change, attempts=COMMIT_ATTEMPTS, agent_name=agent_name)
    except NoChange:
        return None


@dataclass
class _Pending:
    change: Callable[[Session], None]
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Writer:
    """The writes of one adapter object to one session: the copy it holds, and group commit per event loop.

    Args:
        manager: The s3sessions manager.
        session_id: The session.
        agent_name: Recorded when the session is created.
    """

    def __init__(self, manager: SessionManager, session_id: str, agent_name: str) -> None:
        self.manager = manager
        self.session_id = session_id
        self.agent_name = agent_name
        self.held: Session | None = None
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[_Pending]] = weakref.WeakKeyDictionary()
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    async def write(self, change: Callable[[Session], None]) -> None:
        """Applies ``change`` (see `commit`) together with the writes queued meanwhile on this loop.

        A caller cancelled while its batch is being saved stops waiting; the batch is still saved.

        Raises:
            ConflictError: the session kept changing under every attempt.
        """
        loop = asyncio.get_running_loop()
        pending = _Pending(change)
        self._queues.setdefault(loop, []).append(pending)
        async with self._locks.setdefault(loop, asyncio.Lock()):
            if not pending.done.done():
                batch, self._queues[loop] = self._queues[loop], []
                await asyncio.shield(loop.create_task(self._save(batch)))
        pending.done.result()

    async def _save(self, batch: list[_Pending]) -> None:
        def apply(session: Session) -> None:
            changed = False
            for pending in batch:
                try:
                    pending.change(session)
                except NoChange:
                    continue
                changed = True
            if not changed:
                raise NoChange

        try:
            saved = await commit(self.manager, self.session_id, self.held, apply, agent_name=self.agent_name)
        except Exception as exc:
            for pending in batch:
                pending.done.set_exception(exc)
            return
        if saved is not None:
            self.held = saved
        for pending in batch:
            pending.done.set_result(None)
