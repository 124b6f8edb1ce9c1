"""The public data model: `Session` and `SessionMetadata` (pydantic v2, pure code).

These mirror the reference trait's types. The library owns some fields: `turn_count` is derived from the
messages, `created_at`, `updated_at` and `version` are set when a commit lands. Callers own the rest.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from .keys import check_name, check_session_id, check_tags, new_session_id


def now_seconds() -> int:
    """Returns the current Unix time in whole seconds (the unit of `created_at` / `updated_at`)."""
    return int(time.time())


class SessionMetadata(BaseModel):
    """What `list()` returns for each session; also the header of a `Session`.

    Attributes:
        id: 1-200 characters of ``[A-Za-z0-9._-]``; a time-ordered hex id when not given.
        name: Optional human name, 1-256 printable characters.
        tags: Labels, 1-64 printable characters each, at most 64, unique, in first-added order.
        agent_name: Which agent the session belongs to (free text).
        created_at: Unix seconds of the first commit (set by the library).
        updated_at: Unix seconds of the latest commit; strictly increases at every commit.
        turn_count: Number of turns, derived from the messages (see `s3sessions.turns`).
        message_bytes: Size of the messages as compact JSON, derived by the library (what ``ls`` shows).
        total_tokens: The caller's running token count, stored as given.
        parent_id: For a fork, the session it was copied from.
        forked_at_turn: For a fork, how many turns it shares with its parent.
        version: The opaque ETag of the head this copy was read from; None if never saved.
    """

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    id: str = Field(default_factory=new_session_id)
    name: str | None = None
    tags: list[str] = Field(default_factory=list)
    agent_name: str = "agent"
    created_at: int = Field(default_factory=now_seconds)
    updated_at: int = Field(default_factory=now_seconds)
    turn_count: int = 0
    message_bytes: int = 0
    total_tokens: int = 0
    parent_id: str | None = None
    forked_at_turn: int | None = None
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

    @property
    def id(self) -> str:
        """The session id (shorthand for ``metadata.id``)."""
        return self.metadata.id
