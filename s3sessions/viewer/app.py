"""The viewer's routes: a request path and query in, a page out; only reads, never a write (no HTTP here).

======================================  ==================================================================
``GET /``                               the session list; ``q`` (name or id contains), ``tag``, ``agent``,
                                        ``cursor`` (the index's, from the "older" link)
``GET /session/ID``                     a session; ``page`` (1-based); ``turn=K`` and ``fork=FORK_ID``
                                        redirect to the page where turn K starts or where that fork diverged
``GET /session/ID/message/N``           message N whole, and its stored JSON
``GET /session/ID/message/N.json``      message N's stored JSON, as a download
``GET /compare/FORK_ID``                a fork beside its parent from where they part; ``page``
``GET /static/NAME``                    the stylesheet, the script and the icon shipped in the package
======================================  ==================================================================

`ViewerApp` reaches the sessions only through a `SessionReader` (``list_page`` and ``resume``), so no route can
change anything; `ReadOnlySessions` wraps a manager so that even its other methods are out of reach.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote

from s3sessions import AgentError, InvalidInput, Session, SessionMetadata, SessionNotFound, SessionPage, turn_starts

from .compare import CompareView, compare_page
from .lineage import SessionReader, Snapshot, all_sessions, family_tree, forks_by_parent, shared_cut
from .markup import Markup
from .messages import parse_message
from .pages import ListView, MessageView, error_page, list_page, message_page, query_path
from .render import session_path
from .transcript import SessionView, page_of_message, page_of_turn, session_page, turn_of

_T = TypeVar("_T")
LIST_PAGE_SIZE = 50
NAME_SCAN_LIMIT = 2000
"""With a name filter, one list page looks at up to this many sessions before it offers the next page."""
STATIC_TYPES = {
    "viewer.css": "text/css; charset=utf-8",
    "viewer.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
HTML = "text/html; charset=utf-8"


class Runner(Protocol):
    """Runs a coroutine to completion and returns its result (e.g. `s3sessions.loop_thread.LoopThread.run`)."""

    def __call__(self, coroutine: Coroutine[Any, Any, _T], /) -> _T: ...


class ReadOnlySessions:
    """A manager seen through its two reads only: what the viewer is given, so it cannot write."""

    def __init__(self, manager: SessionReader) -> None:
        self._manager = manager

    async def list_page(
        self, limit: int = 100, cursor: str | None = None, *, tag: str | None = None, agent_name: str | None = None
    ) -> SessionPage:
        """Returns one page of the index (see `s3sessions.SessionManager.list_page`)."""
        return await self._manager.list_page(limit, cursor, tag=tag, agent_name=agent_name)

    async def resume(self, session_id: str) -> Session:
        """Returns one session (see `s3sessions.SessionManager.resume`)."""
        return await self._manager.resume(session_id)


@dataclass(frozen=True)
class Response:
    """What a route answers: a status, a body, its type, and for redirects where to."""

    status: int
    body: bytes
    content_type: str = HTML
    location: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _html(status: int, page: Markup) -> Response:
    return Response(status, page.encode("utf-8"))


def _one(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name) or []
    value = values[-1].strip() if values else ""
    return value or None


def _number(query: Mapping[str, Sequence[str]], name: str, default: int) -> int:
    value = _one(query, name)
    if value is None:
        return default
    if not value.isdigit() or len(value) > 9:
        raise InvalidInput(f"{name} must be a whole number, not {value[:40]!r}")
    return int(value)


def _static_files() -> dict[str, bytes]:
    folder = resources.files("s3sessions.viewer") / "static"
    return {name: (folder / name).read_bytes() for name in STATIC_TYPES}


class ViewerApp:
    """Answers the viewer's routes from a `SessionReader`, running its coroutines through ``run``.

    Example:
        >>> from s3sessions import InMemorySessionManager
        >>> app = ViewerApp(ReadOnlySessions(InMemorySessionManager()), asyncio.run, "memory")  # doctest: +SKIP
        >>> app.handle("/", {}).status  # doctest: +SKIP
        200
    """

    def __init__(self, reader: SessionReader, run: Runner, location: str, *, snapshot_seconds: float = 5.0) -> None:
        self._reader = reader
        self._run = run
        self.location = location
        self._snapshot = Snapshot(snapshot_seconds)
        self._static = _static_files()

    def handle(self, path: str, query: Mapping[str, Sequence[str]]) -> Response:
        """Returns the response to ``GET path?query`` (errors become pages with the matching status)."""
        try:
            return self._route(path, query)
        except SessionNotFound as exc:
            return _html(404, error_page(self.location, "Not found", str(exc)))
        except InvalidInput as exc:
            return _html(400, error_page(self.location, "Bad request", str(exc)))
        except AgentError as exc:
            return _html(502, error_page(self.location, "The sessions could not be read", str(exc)))

    def _route(self, path: str, query: Mapping[str, Sequence[str]]) -> Response:
        parts = [unquote(part) for part in path.split("/")[1:]]
        if parts in ([""], []):
            return self._list(query)
        if len(parts) == 2 and parts[0] == "static" and parts[1] in self._static:
            cache = {"Cache-Control": "max-age=3600"}
            return Response(200, self._static[parts[1]], STATIC_TYPES[parts[1]], headers=cache)
        if len(parts) == 2 and parts[0] == "session" and parts[1]:
            return self._session(parts[1], query)
        if len(parts) == 4 and parts[0] == "session" and parts[2] == "message" and parts[1]:
            number, download = parts[3].removesuffix(".json"), parts[3].endswith(".json")
            if not number.isdigit() or len(number) > 9:
                raise InvalidInput(f"no message {parts[3][:40]!r}: messages are numbered from 0")
            return self._message(parts[1], int(number), download=download)
        if len(parts) == 2 and parts[0] == "compare" and parts[1]:
            return self._compare(parts[1], _number(query, "page", 1))
        return _html(404, error_page(self.location, "Not found", f"no page at {path[:200]}"))

    # ------------------------------------------------------------------------------------------------- list

    async def _scan(
        self, text: str, cursor: str | None, tag: str | None, agent: str | None
    ) -> tuple[list[SessionMetadata], str | None, int]:
        """Returns the sessions whose name or id contains ``text`` from a few index pages on."""
        needle = text.casefold()
        found: list[SessionMetadata] = []
        scanned = 0
        while True:
            page = await self._reader.list_page(LIST_PAGE_SIZE, cursor, tag=tag, agent_name=agent)
            scanned += len(page.sessions)
            found += [m for m in page.sessions if needle in (m.name or "").casefold() or needle in m.id.casefold()]
            cursor = page.next_cursor
            if cursor is None or len(found) >= LIST_PAGE_SIZE or scanned >= NAME_SCAN_LIMIT:
                return found, cursor, scanned

    def _list(self, query: Mapping[str, Sequence[str]]) -> Response:
        tag, agent, text, cursor = (_one(query, name) for name in ("tag", "agent", "q", "cursor"))
        if text is None:
            page = self._run(self._reader.list_page(LIST_PAGE_SIZE, cursor, tag=tag, agent_name=agent))
            found, next_cursor, scanned = page.sessions, page.next_cursor, len(page.sessions)
        else:
            found, next_cursor, scanned = self._run(self._scan(text, cursor, tag, agent))
        view = ListView(found, next_cursor, cursor=cursor, tag=tag, agent=agent, text=text, scanned=scanned)
        return _html(200, list_page(self.location, view))

    # ---------------------------------------------------------------------------------------------- session

    def _sessions(self) -> dict[str, SessionMetadata]:
        return self._snapshot.get(lambda: self._run(all_sessions(self._reader)))

    def _session(self, session_id: str, query: Mapping[str, Sequence[str]]) -> Response:
        session = self._run(self._reader.resume(session_id))
        count = len(session.messages)
        path = session_path(session.id)
        if _one(query, "turn") is not None:
            turn = _number(query, "turn", 0)
            page = page_of_turn(turn_starts(session.messages), count, turn)
            return Response(303, b"", location=query_path(path, page=page) + f"#turn-{turn}")
        sessions = {**self._sessions(), session.id: session.metadata}
        forks = forks_by_parent(sessions.values()).get(session.id, [])
        if (fork_id := _one(query, "fork")) is not None:
            fork = next((fork for fork in forks if fork.id == fork_id), None)
            if fork is None:
                return Response(303, b"", location=path)
            position = shared_cut(turn_starts(session.messages), count, fork.forked_at_turn or 0)
            return Response(
                303, b"", location=query_path(path, page=page_of_message(position, count)) + f"#fork-{fork.id}"
            )
        view = SessionView(
            session=session,
            page=_number(query, "page", 1),
            forks=forks,
            family=family_tree(sessions, session.id),
            parent_exists=session.metadata.parent_id in sessions,
        )
        return _html(200, session_page(self.location, view))

    def _message(self, session_id: str, index: int, *, download: bool) -> Response:
        session = self._run(self._reader.resume(session_id))
        count = len(session.messages)
        if index >= count:
            detail = f"session {session.id} has {count} message(s); there is no message {index}"
            return _html(404, error_page(self.location, "Not found", detail))
        raw = session.messages[index]
        if download:  # an attachment: the browser saves it and never renders it
            body = json.dumps(raw, indent=2, ensure_ascii=False).encode("utf-8")
            disposition = f'attachment; filename="{session.id}-message-{index}.json"'
            return Response(200, body, "application/json; charset=utf-8", headers={"Content-Disposition": disposition})
        turn = turn_of(turn_starts(session.messages), index)
        page = page_of_message(index, count)
        view = MessageView(session.metadata, parse_message(raw), raw, index, count, page, turn)
        return _html(200, message_page(self.location, view))

    def _compare(self, fork_id: str, page: int) -> Response:
        fork = self._run(self._reader.resume(fork_id))
        parent_id = fork.metadata.parent_id
        if parent_id is None:
            return _html(
                404, error_page(self.location, "Not a fork", f"session {fork.id} has no parent to compare with")
            )
        try:
            parent = self._run(self._reader.resume(parent_id))
        except SessionNotFound:
            detail = f"the parent of {fork.id}, {parent_id}, no longer exists"
            return _html(404, error_page(self.location, "Parent not found", detail))
        return _html(200, compare_page(self.location, CompareView(fork, parent, page)))


__all__ = ["HTML", "LIST_PAGE_SIZE", "ReadOnlySessions", "Response", "Runner", "ViewerApp"]
