"""Index format 2: the LIST is the index; each session's entry is a key that carries its listing (pure code).

An entry is an empty object at::

    {prefix}index/{f}/{rts}~{id}~r=7&i=9f2c..&v=5d41..&c=1750000000000&tc=3&b=5120&a=coder&n=refactor&t=prod

``f`` spreads sessions over a small fan-out of S3 partitions; ``rts`` is 13 digits of 10^13 - 1 - `updated_at`
in milliseconds, so S3's lexicographic LIST order is newest first, ties by id. The listing is every field
`list` returns, percent-encoded (``~`` too, so ``~`` only ever separates). A session's ``summary`` (the
caller's small JSON object) is the listing's last field, ``s=`` and its compact JSON, when the key still fits
`ENTRY_KEY_LIMIT` bytes; otherwise the key says ``s=%2B`` (``+``: in the body) and the object's body holds it,
so a `list()` that does not ask for summaries never reads a body for one. When even the listing with that
marker would pass the limit (long names, many tags), the key keeps only the fixed fields and ends ``~+``, and
the body holds the rest of the listing and the summary.

An entry's key is a pure function of the head it describes and that head's ETag, so the next commit can compute
the key it replaces and delete it without a read. Everything parsed from a key is validated like caller input:
anyone who can write the bucket can plant keys here.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput
from ..models import SessionMetadata, page_cursor
from ..validation import check_name, check_session_id, check_summary, check_tag, is_session_id
from .fields import LISTING_CODES, REPEATED_CODE, REQUIRED_CODES, SUMMARY_CODE
from .json_values import decode_json, encode_checked
from .records import HeadRecord

ENTRY_KEY_LIMIT = 900
"""Bytes of key above which the listing moves into the entry's body (S3 allows 1,024)."""
OVERFLOW_MARK = "+"
SUMMARY_IN_BODY = "+"
"""The value of the summary field when the entry's body holds the summary (no JSON text is ``+``)."""
_RTS = re.compile(r"[0-9]{13}")
_VERSION = re.compile(r"[0-9A-Za-z._:/+=-]{1,200}")
_INCARNATION_TAIL = re.compile(r"[0-9a-f]{12}")
_MAX_COUNT = 10**15
_TIME_SPAN_MS = 10**13


def rts_of(updated_at: float) -> str:
    """Returns the inverted millisecond timestamp that orders entries newest first."""
    return f"{_TIME_SPAN_MS - 1 - round(updated_at * 1000):013d}"


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="").replace("~", "%7E")


def _fields(head: HeadRecord, version: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Returns (fixed, variable) listing fields of a head: the fixed ones always stay in the key.

    The codes are `fields.METADATA_FIELDS`'s (a test pins them together)."""
    metadata = head.metadata
    fixed = [
        ("r", str(head.revision)),
        ("i", head.incarnation[-12:]),
        ("v", version.strip('"')),
        ("c", str(round(metadata.created_at * 1000))),
        ("tc", str(metadata.turn_count)),
        ("b", str(head.message_bytes)),
        ("tk", str(metadata.total_tokens)),
    ]
    if metadata.forked_at_turn is not None:
        fixed.append(("f", str(metadata.forked_at_turn)))
    variable = [("a", metadata.agent_name)]
    if metadata.parent_id is not None:
        variable.append(("p", metadata.parent_id))
    if metadata.name is not None:
        variable.append(("n", metadata.name))
    variable += [("t", tag) for tag in metadata.tags]
    return fixed, variable


def _encode(fields: list[tuple[str, str]]) -> str:
    return "&".join(f"{name}={_quote(value)}" for name, value in fields)


@dataclass(frozen=True)
class EntryName:
    """An index entry: its name under ``index/{f}/`` and what its body holds when the key could not.

    Attributes:
        name: The key under ``index/{f}/``.
        body_listing: The listing's variable fields (the key ends ``~+``), or None.
        body_summary: The session's summary when the key does not carry it, or None.
    """

    name: str
    body_listing: str | None = None
    body_summary: dict[str, Any] | None = None

    @property
    def has_body(self) -> bool:
        return self.body_listing is not None or self.body_summary is not None


def entry_name(session_id: str, head: HeadRecord, version: str, *, prefix_bytes: int) -> EntryName:
    """Returns the index entry of a head whose ETag is ``version``.

    Args:
        prefix_bytes: Length of ``{prefix}index/{f}/``, which counts against the key limit.
    """
    fixed, variable = _fields(head, version)
    start = f"{rts_of(head.metadata.updated_at)}~{session_id}~"
    summary = head.metadata.summary

    def fits(listing: str) -> bool:
        return prefix_bytes + len((start + listing).encode("utf-8")) <= ENTRY_KEY_LIMIT

    listing = _encode(fixed + variable)
    if summary is None and fits(listing):
        return EntryName(start + listing)
    if summary is not None:
        inline = _encode([*fixed, *variable, (SUMMARY_CODE, encode_checked(summary).decode("utf-8"))])
        if fits(inline):
            return EntryName(start + inline)
        marked = _encode([*fixed, *variable, (SUMMARY_CODE, SUMMARY_IN_BODY)])
        if fits(marked):
            return EntryName(start + marked, body_summary=summary)
    return EntryName(f"{start}{_encode(fixed)}~{OVERFLOW_MARK}", body_listing=listing, body_summary=summary)


@dataclass(frozen=True)
class ParsedEntry:
    """What an entry key says before its listing is trusted: position, id, and the fields that order it."""

    name: str
    rts: str
    session_id: str
    listing: str | None
    """The encoded listing, or None when the body holds it (``~+``)."""

    @property
    def cursor(self) -> str:
        return f"{self.rts}~{self.session_id}"

    @property
    def version(self) -> str | None:
        """The ETag (unquoted) of the head this entry describes, from the fields always kept in the key."""
        for part in self.name.split("~")[2].split("&"):
            if part.startswith("v="):
                return urllib.parse.unquote(part[2:])
        return None


def parse_entry_name(name: str) -> ParsedEntry | None:
    """Returns the parts of an entry name, or None if it is not one (a planted or foreign key)."""
    parts = name.split("~")
    if len(parts) == 3:
        rts, session_id, listing = parts
        body: str | None = listing
    elif len(parts) == 4 and parts[3] == OVERFLOW_MARK:
        rts, session_id, _, _ = parts
        body = None
    else:
        return None
    if not _RTS.fullmatch(rts) or not is_session_id(session_id):
        return None
    return ParsedEntry(name, rts, session_id, body)


@dataclass(frozen=True)
class Listing:
    """A validated listing: the metadata `list` returns, and the fields that tell entries of one id apart."""

    metadata: SessionMetadata
    incarnation_tail: str
    revision: int
    summary_text: str | None = None
    """The summary's JSON as the key carries it (parsed only when asked for: `summary_of`)."""
    summary_in_body: bool = False
    """Whether the entry's body holds the summary."""
    body_summary: Any = None
    """The summary as a ``~+`` body held it, already read but not yet validated (None: not read)."""


def summary_of(listing: Listing, *, key: str) -> dict[str, Any] | None:
    """Returns the summary a listing's key carries, validated like caller input (None if it carries none).

    Raises:
        CorruptObject: not JSON.
        InvalidInput: not an object, or over the size bound.
    """
    if listing.summary_text is None:
        return None
    return check_summary(decode_json(listing.summary_text.encode("utf-8"), key=key))


def _count(value: str, field: str) -> int:
    if not value.isdigit() or len(value) > 16:
        raise InvalidInput(f"index field {field}={value[:40]!r} is not a count")
    number = int(value)
    if number >= _MAX_COUNT:
        raise InvalidInput(f"index field {field} out of range")
    return number


def parse_listing(entry: ParsedEntry, listing: str) -> Listing:
    """Validates a listing like caller input and returns it as metadata.

    Raises:
        InvalidInput: any field malformed, unknown or missing (the caller skips such an entry and fsck reports it).
    """
    values: dict[str, str] = {}
    tags: list[str] = []
    for part in listing.split("&"):
        name, equals, raw = part.partition("=")
        if not equals or "%" in name:
            raise InvalidInput(f"malformed index field {part[:40]!r}")
        try:
            value = urllib.parse.unquote(raw, errors="strict")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"index field {name[:8]!r} is not percent-encoded UTF-8") from exc
        if name == REPEATED_CODE:
            tags.append(check_tag(value))
        elif name in values:
            raise InvalidInput(f"index field {name} repeated")
        else:
            values[name] = value
    unknown = set(values) - LISTING_CODES
    missing = REQUIRED_CODES - set(values)
    if unknown or missing:
        raise InvalidInput(f"index listing fields unknown {sorted(unknown)} or missing {sorted(missing)}")
    if not _INCARNATION_TAIL.fullmatch(values["i"]) or not _VERSION.fullmatch(values["v"]):
        raise InvalidInput("index listing has a malformed incarnation or version")
    agent = values["a"]
    if not 1 <= len(agent) <= 256 or not agent.isprintable():
        raise InvalidInput(f"index listing has an invalid agent name {agent[:40]!r}")
    updated_ms = _TIME_SPAN_MS - 1 - int(entry.rts)
    fields: dict[str, Any] = {
        "id": entry.session_id,
        "name": check_name(values["n"]) if "n" in values else None,
        "tags": list(dict.fromkeys(tags)),
        "agent_name": agent,
        "created_at": _count(values["c"], "c") / 1000,
        "updated_at": updated_ms / 1000,
        "turn_count": _count(values["tc"], "tc"),
        "message_bytes": _count(values["b"], "b"),
        "total_tokens": _count(values["tk"], "tk"),
        "parent_id": check_session_id(values["p"]) if "p" in values else None,
        "forked_at_turn": _count(values["f"], "f") if "f" in values else None,
        "summary": None,
        "version": '"' + values["v"] + '"',
    }
    if len(fields["tags"]) > 64 or not math.isfinite(fields["created_at"]):
        raise InvalidInput("index listing has too many tags")
    metadata = SessionMetadata.model_construct(**fields)
    if page_cursor(metadata) != entry.cursor:
        raise InvalidInput("index listing does not match its position")
    summary = values.get(SUMMARY_CODE)
    in_body = summary == SUMMARY_IN_BODY
    return Listing(metadata, values["i"], _count(values["r"], "r"), None if in_body else summary, in_body)
