"""The session metadata fields, declared once: where each `SessionMetadata` field lives when stored (pure).

Three shapes carry a session's metadata: the public model (`s3sessions.models.SessionMetadata`), the head
(`records.StoredMetadata` plus a few head-level attributes) and the index entry's listing (`listing`). Adding a
field means adding it here first; ``tests/test_pure.py`` pins the three shapes to this table and round-trips a
head with every field set through an index entry, so a field missing from any of them fails a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

HeadPlace = Literal["metadata", "record", "key", "etag"]
"""Where a head holds a field: in its stored metadata, as a head attribute, in its key (the session prefix),
or as the head object's ETag."""


@dataclass(frozen=True)
class MetadataField:
    """One `SessionMetadata` field: where the head and the index entry keep it.

    Attributes:
        name: The `SessionMetadata` attribute.
        head: Where a head holds it (`HeadPlace`).
        index: Its code in an entry's listing, or None when the entry's key position carries it (id, updated_at).
        always: Whether the listing always carries the code (else only when the value is set).
    """

    name: str
    head: HeadPlace
    index: str | None
    always: bool = True


METADATA_FIELDS: tuple[MetadataField, ...] = (
    MetadataField("id", "key", None),
    MetadataField("name", "metadata", "n", always=False),
    MetadataField("tags", "metadata", "t", always=False),
    MetadataField("agent_name", "metadata", "a"),
    MetadataField("created_at", "metadata", "c"),
    MetadataField("updated_at", "metadata", None),
    MetadataField("turn_count", "metadata", "tc"),
    MetadataField("message_bytes", "record", "b"),
    MetadataField("total_tokens", "metadata", "tk"),
    MetadataField("parent_id", "metadata", "p", always=False),
    MetadataField("forked_at_turn", "metadata", "f", always=False),
    MetadataField("summary", "metadata", "s", always=False),
    MetadataField("version", "etag", "v"),
)

ENTRY_ONLY_CODES = {"r": "revision", "i": "incarnation"}
"""Listing codes that are not metadata: the head's revision and incarnation (they order a session's entries)."""

LISTING_CODES = frozenset(field.index for field in METADATA_FIELDS if field.index) | frozenset(ENTRY_ONLY_CODES)
"""Every code a listing may carry."""
REQUIRED_CODES = frozenset(field.index for field in METADATA_FIELDS if field.index and field.always) | frozenset(
    ENTRY_ONLY_CODES
)
"""The codes every listing carries."""
SUMMARY_CODE = "s"
"""The summary's code: always the listing's last field, and the only one whose value may be in the body."""
REPEATED_CODE = "t"
"""The one code that repeats (a tag each)."""
