"""How a Strands agent is laid out in an s3sessions `Session` (pure code, no Strands import).

Shared by the Strands adapter and the migration from Strands' own ``S3SessionManager``, so both write the
same shape::

    Session.metadata.id          "<strands session id>" for the agent "default" (also the Strands session's own
                                 record: it exists once the session holds an agent or a multi-agent),
                                 "<session id>.<agent id>" for another agent,
                                 "<session id>.multi_agent_<id>" for a multi-agent (Swarm, Graph) state
    Session.metadata.agent_name  "default", the agent id, or "multi_agent_<id>": the id is always
                                 "<session id>" or "<session id>.<agent_name>" (`belongs_to`)
    Session.messages[i]          the agent's i-th message as the model sees it (the redacted one if redacted),
                                 plus one key "_strands": {"message_id", "created_at", "updated_at",
                                 and "unredacted" (the original) when a guardrail redacted it}
    Session.state                {"strands": {"format": 1, "session": {...}, "agent": {...}}}:
                                 Strands' session record and its agent record (state, conversation manager
                                 state, internal state, timestamps); "multi_agent": {...} (the multi-agent's
                                 serialized state) instead of "agent" for a multi-agent; only "session" in
                                 "<session id>" while the session has no default agent

Raw bytes (image and document blocks) are not JSON; they are stored with an explicit, unambiguous encoding:
``bytes`` becomes ``{"$bytes": "<base64>"}``, and a genuine dict whose only key is ``"$bytes"`` or ``"$dict"``
is escaped as ``{"$dict": {...}}``. Decoding inverts both exactly, so every value round-trips.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput
from ..validation import check_session_id

DEFAULT_AGENT_ID = "default"
MULTI_AGENT_PREFIX = "multi_agent_"
STATE_KEY = "strands"
MESSAGE_META_KEY = "_strands"
FORMAT = 1
_BYTES = "$bytes"
_DICT = "$dict"
_ESCAPED_KEYS = (frozenset({_BYTES}), frozenset({_DICT}))


def storage_id(session_id: str, agent_id: str) -> str:
    """Returns the s3sessions id holding one Strands agent of one Strands session.

    Raises:
        InvalidInput: the ids contain characters s3sessions ids cannot hold (``[A-Za-z0-9._-]`` only).
    """
    combined = session_id if agent_id == DEFAULT_AGENT_ID else f"{session_id}.{agent_id}"
    try:
        return check_session_id(combined)
    except InvalidInput as exc:
        raise InvalidInput(f"Strands session {session_id!r} / agent {agent_id!r} cannot be stored: {exc}") from exc


def multi_agent_slot(multi_agent_id: str) -> str:
    """Returns the agent name (and id suffix) under which a multi-agent's state is stored."""
    return f"{MULTI_AGENT_PREFIX}{multi_agent_id}"


def belongs_to(storage_id: str, agent_name: str, session_id: str) -> bool:
    """True if the s3sessions session ``storage_id`` (of ``agent_name``) holds part of Strands session
    ``session_id``. Decided by the agent name, so session ``a`` never claims the default agent of session ``a.b``."""
    return storage_id == session_id or storage_id == f"{session_id}.{agent_name}"


def encode_value(value: Any) -> Any:
    """Returns ``value`` as JSON, with bytes (and dicts that look like our escapes) encoded explicitly.

    Raises:
        InvalidInput: a value that is neither JSON nor bytes (a set, an object...).
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return {_BYTES: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        encoded = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"cannot store a dict key {key!r} of type {type(key).__name__}: keys must be str")
            encoded[key] = encode_value(item)
        return {_DICT: encoded} if frozenset(encoded) in _ESCAPED_KEYS else encoded
    if isinstance(value, list | tuple):
        return [encode_value(item) for item in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise InvalidInput(f"cannot store a value of type {type(value).__name__} in a Strands session")


def decode_value(value: Any) -> Any:
    """Inverts `encode_value`."""
    if isinstance(value, dict):
        if len(value) == 1 and _BYTES in value and isinstance(value[_BYTES], str):
            try:
                return base64.b64decode(value[_BYTES], validate=True)
            except binascii.Error as exc:
                raise InvalidInput(f"invalid base64 in a stored bytes value: {exc}") from exc
        if len(value) == 1 and _DICT in value and isinstance(value[_DICT], dict):
            return {key: decode_value(item) for key, item in value[_DICT].items()}
        return {key: decode_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    return value


def decode_strands_bytes(value: Any) -> Any:
    """Decodes Strands' own bytes convention (``{"__bytes_encoded__": true, "data": <base64>}``), as its
    ``from_dict`` does, for files written by Strands' ``S3SessionManager``."""
    if isinstance(value, dict):
        if value.get("__bytes_encoded__") is True and "data" in value:
            return base64.b64decode(value["data"])
        return {key: decode_strands_bytes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_strands_bytes(item) for item in value]
    return value


def stored_message(record: Mapping[str, Any]) -> dict[str, Any]:
    """Returns the stored form of one Strands message record (the fields of ``SessionMessage``).

    Args:
        record: ``message``, ``message_id``, ``redact_message`` (may be None), ``created_at``, ``updated_at``,
            with raw bytes (not Strands' base64 dicts). Unknown fields are kept.
    """
    message = record["message"]
    redacted = record.get("redact_message")
    effective = redacted if redacted is not None else message
    if not isinstance(effective, Mapping):
        raise InvalidInput(f"a Strands message must be a dict, not {type(effective).__name__}")
    if MESSAGE_META_KEY in effective:
        raise InvalidInput(f"a Strands message may not carry the key {MESSAGE_META_KEY!r} (reserved by s3sessions)")
    stored: dict[str, Any] = encode_value(effective)
    if _DICT in stored and len(stored) == 1:
        stored = {**stored[_DICT]}  # a message never has the escaped shape once the meta key is added
    meta = {key: encode_value(value) for key, value in record.items() if key not in {"message", "redact_message"}}
    if redacted is not None:
        meta["unredacted"] = encode_value(message)
    stored[MESSAGE_META_KEY] = meta
    return stored


def message_record(stored: Any, position: int) -> dict[str, Any]:
    """Inverts `stored_message`: returns the fields of a Strands ``SessionMessage``.

    A message without the meta key (written by something else) gets ``message_id = position``.
    """
    if not isinstance(stored, dict):
        raise InvalidInput(f"message {position} is not a dict: not a Strands session")
    body = {key: value for key, value in stored.items() if key != MESSAGE_META_KEY}
    meta = stored.get(MESSAGE_META_KEY)
    meta = dict(meta) if isinstance(meta, dict) else {"message_id": position}
    message = {key: decode_value(value) for key, value in body.items()}
    record = {key: decode_value(value) for key, value in meta.items() if key != "unredacted"}
    if "unredacted" in meta:
        record["message"] = decode_value(meta["unredacted"])
        record["redact_message"] = message
    else:
        record["message"] = message
        record["redact_message"] = None
    return record


def message_id_of(stored: Any, position: int) -> int:
    """Returns the Strands message id of a stored message."""
    if isinstance(stored, dict):
        meta = stored.get(MESSAGE_META_KEY)
        if isinstance(meta, dict) and isinstance(meta.get("message_id"), int):
            return int(meta["message_id"])
    return position


def stored_state(
    session_record: Mapping[str, Any],
    agent_record: Mapping[str, Any] | None = None,
    *,
    multi_agent: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Returns ``Session.state`` for a Strands session record and an agent record or a multi-agent state (raw
    bytes allowed); neither for a session that has no default agent yet."""
    strands: dict[str, Any] = {"format": FORMAT, "session": encode_value(session_record)}
    if agent_record is not None:
        strands["agent"] = encode_value(agent_record)
    if multi_agent is not None:
        strands["multi_agent"] = encode_value(multi_agent)
    return {STATE_KEY: strands}


def state_records(state: Any, session_id: str) -> dict[str, Any]:
    """Inverts `stored_state`: returns ``{"session": {...}}`` plus ``"agent"`` or ``"multi_agent"`` if stored.

    Raises:
        InvalidInput: the state was not written by the Strands adapter or the migration.
    """
    strands = state.get(STATE_KEY) if isinstance(state, dict) else None
    if not isinstance(strands, dict) or strands.get("format") != FORMAT:
        raise InvalidInput(
            f"session {session_id!r} holds no Strands record (state[{STATE_KEY!r}] format {FORMAT}):"
            " it was not written by s3sessions.integrations.strands"
        )
    records = {"session": decode_value(strands.get("session") or {})}
    for name in ("agent", "multi_agent"):
        if isinstance(strands.get(name), dict):
            records[name] = decode_value(strands[name])
    return records


def total_tokens(messages: list[Any]) -> int:
    """Sums ``metadata.usage.totalTokens`` over the (stored) messages: Strands' per-response usage."""
    total = 0
    for message in messages:
        metadata = message.get("metadata") if isinstance(message, dict) else None
        usage = metadata.get("usage") if isinstance(metadata, dict) else None
        if isinstance(usage, dict) and isinstance(usage.get("totalTokens"), int):
            total += usage["totalTokens"]
    return total
