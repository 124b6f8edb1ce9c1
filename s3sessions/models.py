"""The public data model: `Session` and `SessionMetadata` (pydantic v2, pure code).

These mirror the reference trait's types. The library owns some fields: `turn_count` and `message_bytes` are
derived from the messages, `updated_at` and `version` are set when a commit lands. Callers own the rest.

Times are Unix seconds as floats with millisecond resolution. `updated_at` = max(the writer's clock, previous
+ 1 ms) at every commit: it never goes backwards and no two commits share it. `created_at` is the caller's (so
export and import round-trip it), by default when the `SessionMetadata` was made; a negative value or one more
than a day ahead of the clock is `InvalidInput`.
"""

from __future__ import annotations

import re
import time

from pydantic import BaseModel, ConfigDict, Field, JsonValue, PrivateAttr, ValidationInfo, field_validator

from .errors import InvalidInput
from .validation import (
    check_agent_name,
    check_count,
    check_created_at,
    check_name,
    check_session_id,
    check_summary,
    check_tag,
    check_tags,
    new_session_id,
)


def now_seconds() -> float:
    """Returns the current Unix time in seconds, rounded to the millisecond (the unit of every stored time)."""
    return round(time.time(), 3)


class SessionMetadata(BaseModel):
    """What `list()` returns for each session; also the header of a `Session`.

    Attributes:
        id: 1-200 characters of ``[A-Za-z0-9._-]``; a time-ordered hex id when not given.
        name: Optional human name, 1-256 printable characters.
        tags: Labels, 1-64 printable characters each, at most 64, unique, in first-added order.
        agent_name: Which agent the session belongs to: 1-256 printable characters.
        created_at: Unix seconds (millisecond resolution) the session was created; the caller's, kept as given.
        updated_at: Unix seconds of the latest commit, set by the library; strictly increases at every commit.
        turn_count: Number of turns, derived from the messages (see `s3sessions.turns`).
        message_bytes: Size of the messages as compact JSON, derived by the library (what ``ls`` shows).
        total_tokens: The caller's running token count, stored as given.
        parent_id: For a fork, the session it was copied from.
        forked_at_turn: For a fork, how many turns it shares with its parent.
        summary: The caller's small JSON object about the session (a title, its first prompt: at most 8 KiB as
            compact JSON), stored as given and carried by the index, so that ``list(summaries=True)`` returns it
            without reading any session. Fork, rewind, tag and rename keep it; restore brings back the restored
            version's; a stale save that merges (see `SessionManager.save`) stores the saving copy's, as it does
            ``total_tokens``. ``list()`` leaves it None unless asked (parsing thousands of summaries is not free).
        version: The opaque ETag of the head this copy was read from; None if never saved.
    """

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    id: str = Field(default_factory=new_session_id)
    name: str | None = None
    tags: list[str] = Field(default_factory=list)
    agent_name: str = "agent"
    created_at: float = Field(default_factory=now_seconds)
    updated_at: float = Field(default_factory=now_seconds)
    turn_count: int = 0
    message_bytes: int = 0
    total_tokens: int = 0
    parent_id: str | None = None
    forked_at_turn: int | None = None
    summary: dict[str, JsonValue] | None = None
    version: str | None = None

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return check_session_id(value)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value)

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, value: list[str]) -> list[str]:
        return check_tags(value)

    @field_validator("agent_name")
    @classmethod
    def _valid_agent_name(cls, value: str) -> str:
        return check_agent_name(value)

    @field_validator("created_at", mode="before")
    @classmethod
    def _valid_created_at(cls, value: object) -> float:
        return check_created_at(value)

    @field_validator("summary", mode="before")
    @classmethod
    def _valid_summary(cls, value: object) -> dict[str, JsonValue] | None:
        return check_summary(value)

    @field_validator("total_tokens", "turn_count", "message_bytes", mode="before")
    @classmethod
    def _valid_count(cls, value: object, info: ValidationInfo) -> int:
        return check_count(value, name=info.field_name or "count")


MAX_PAGE_SIZE = 1000
_CURSOR = re.compile(r"[0-9]{13}~[A-Za-z0-9._-]{1,200}")
_TIME_SPAN_MS = 10**13


def page_cursor(metadata: SessionMetadata) -> str:
    """Returns the listing position of a session: inverted millisecond ``updated_at``, then id.

    Sorting by it is newest first, ties by id; `SessionManager.list_page` cursors are these strings.
    """
    return f"{_TIME_SPAN_MS - 1 - round(metadata.updated_at * 1000):013d}~{metadata.id}"


def check_page_request(
    limit: object, cursor: object, tag: object, agent_name: object, summaries: object = False
) -> None:
    """Raises InvalidInput for a page size outside 1-1000, a malformed cursor, a bad filter or ``summaries`` flag."""
    if not isinstance(summaries, bool):
        raise InvalidInput(f"invalid summaries {summaries!r}: use True or False")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"invalid page size {limit!r}: use 1-{MAX_PAGE_SIZE}")
    if cursor is not None and (not isinstance(cursor, str) or not _CURSOR.fullmatch(cursor)):
        raise InvalidInput(f"invalid cursor {cursor!r}: pass the next_cursor of a previous page")
    if tag is not None:
        check_tag(tag)
    if agent_name is not None and not isinstance(agent_name, str):
        raise InvalidInput(f"invalid agent name {agent_name!r}: must be a string")


class SessionPage(BaseModel):
    """One page of `SessionManager.list_page`: sessions newest first, and where the next page starts.

    Attributes:
        sessions: Up to the requested number of sessions, most recently updated first (ties by id).
        next_cursor: Pass it back as ``cursor`` for the next page; None when this is the last page.
    """

    model_config = ConfigDict(extra="forbid")

    sessions: list[SessionMetadata] = Field(default_factory=list)
    next_cursor: str | None = None


class Session(BaseModel):
    """A conversation: metadata, the provider's messages stored verbatim, and free-form agent state.

    Example:
        >>> session = Session(metadata=SessionMetadata(agent_name="coder", name="refactor"))
        >>> session.messages.append({"role": "user", "content": "hello"})
    """

    model_config = ConfigDict(extra="forbid")

    metadata: SessionMetadata = Field(default_factory=SessionMetadata)
    messages: list[JsonValue] = Field(default_factory=list)
    state: JsonValue = Field(default_factory=dict)
    _omitted: int = PrivateAttr(default=0)

    @property
    def omitted_messages(self) -> int:
        """How many earlier messages a partial resume (``resume(id, last_turns=K)``) left out; 0 for a whole session.

        ``messages`` then holds only the later ones, and a `save` of this session keeps the omitted ones as stored:
        a partial session can be extended or edited, never cut, through save.
        """
        return self._omitted

    @property
    def id(self) -> str:
        """The session id (shorthand for ``metadata.id``)."""
        return self.metadata.id
