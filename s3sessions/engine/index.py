"""Index format 2: one entry per session whose key is its listing; a page is one parallel wave of LISTs.

A commit PUTs its head's new entry and deletes the entries its head says may remain from earlier commits, side
by side: one round trip, O(1) bytes whatever the number of sessions, no compare-and-swap, no shared object.
A page LISTs each fan-out bucket from the cursor in parallel and merges them (S3 returns keys in order, and
the inverted timestamp makes that newest first). The index lags, it never lies for good: a duplicate left by a
crash or a delayed write is deduplicated here and removed by the session's next commit, `reindex` or `fsck`.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ..errors import AgentError, CorruptObject, InvalidInput, ObjectMissing
from ..formats.bodies import decode_document, encode_record, validate
from ..formats.keys import KeyLayout, fanout_bucket_of
from ..formats.listing import Listing, ParsedEntry, entry_name, parse_entry_name, parse_listing, summary_of
from ..formats.records import EntryBody, HeadRecord
from ..gc_pause import collection_paused
from ..models import SessionMetadata, SessionPage, check_page_request
from ..storage.protocol import ObjectInfo, ObjectStore
from ..validation import check_summary
from ..waves import gather
from .manifest import Manifest

log = logging.getLogger("s3sessions.index")
_PAGE_SLACK = 8
"""Extra keys a page asks each bucket for, so that a few duplicates never cost a second round trip."""
_CURSOR_END = "~~"
"""Appended to a cursor to start after every entry at that position (``~`` sorts after every listing byte)."""


@dataclass(frozen=True)
class Chosen:
    """An entry's key and its validated listing."""

    key: str
    listing: Listing


@dataclass(frozen=True)
class RawEntry:
    """An index key as listed, with what could be made of it (for fsck and reindex)."""

    key: str
    parsed: ParsedEntry | None


class SessionIndex:
    """Writes and reads the format-2 index of one prefix.

    Args:
        store: The object store.
        layout: The prefix's key layout.
        manifest: The prefix's manifest (fan-out).
        max_bytes: Size cap for entry bodies.
    """

    def __init__(self, store: ObjectStore, layout: KeyLayout, manifest: Manifest, *, max_bytes: int) -> None:
        self._store = store
        self._layout = layout
        self._manifest = manifest
        self._max_bytes = max_bytes

    def entry(self, session_id: str, head: HeadRecord, etag: str, fanout: int) -> tuple[str, bytes]:
        """Returns the key and body of the entry that describes a head whose ETag is ``etag``."""
        bucket = self._layout.index_bucket(fanout_bucket_of(session_id, fanout))
        name = entry_name(session_id, head, etag, prefix_bytes=len(bucket.encode("utf-8")))
        body = b""
        if name.has_body:
            body = encode_record(
                EntryBody(listing=name.body_listing, summary=name.body_summary), max_bytes=self._max_bytes
            )
        return bucket + name.name, body

    async def entry_key(self, session_id: str, head: HeadRecord, etag: str) -> str:
        """Returns the entry key of a head (the manifest gives the fan-out)."""
        manifest = await self._manifest.require()
        return self.entry(session_id, head, etag, manifest.fanout)[0]

    async def record(self, session_id: str, head: HeadRecord, etag: str) -> None:
        """After a commit: PUT the head's entry and delete the ones it replaces, side by side.

        A failure is logged, never raised: the head, which is the truth, has changed, and the session's next
        commit, `reindex` or `fsck --repair` repairs the entry.
        """
        manifest = await self._manifest.require()
        key, body = self.entry(session_id, head, etag, manifest.fanout)
        stale = [old for old in head.index_keys if old != key]
        results = await asyncio.gather(
            self._store.put(key, body), self.remove(stale, session_id=session_id), return_exceptions=True
        )
        for result in results:
            if isinstance(result, AgentError):
                log.warning(
                    "session %s changed but its index entry may be stale (its next commit, reindex or fsck --repair"
                    " repairs it): %s",
                    session_id,
                    result,
                )
            elif isinstance(result, BaseException):
                raise result

    async def remove(self, keys: Sequence[str], *, session_id: str | None = None) -> None:
        """Deletes index entries (one DeleteObjects); only keys under this prefix's index are ever touched."""
        doomed = [key for key in dict.fromkeys(keys) if key.startswith(self._layout.index_root)]
        if doomed:
            await self._store.delete_keys(doomed)

    # ------------------------------------------------------------------------------------------------ read

    async def page(
        self,
        limit: int,
        cursor: str | None,
        *,
        tag: str | None = None,
        agent_name: str | None = None,
        summaries: bool = False,
    ) -> SessionPage:
        """Returns up to ``limit`` sessions after ``cursor``, newest first (see `SessionManager.list_page`)."""
        check_page_request(limit, cursor, tag, agent_name, summaries)
        manifest = await self._manifest.get(create=False)
        if manifest is None:
            return SessionPage()
        filtered = tag is not None or agent_name is not None
        per_bucket = 1000 if filtered else min(1000, limit + _PAGE_SLACK)
        buckets = [self._layout.index_bucket(bucket) for bucket in range(manifest.fanout)]
        found: list[Chosen] = []
        position = cursor
        while True:
            pages = await gather(
                self._store.list_page(
                    bucket, start_after=bucket + position + _CURSOR_END if position else None, max_keys=per_bucket
                )
                for bucket in buckets
            )
            # Every entry up to the earliest last key of a truncated bucket is final; past it, a bucket may
            # still hold entries that sort in between.
            horizon: ParsedEntry | None = None
            merged: list[ParsedEntry] = []
            for bucket, page in zip(buckets, pages, strict=True):
                entries = self._parsed(bucket, page.objects)
                merged += entries
                if page.truncated and entries and (horizon is None or entries[-1].name < horizon.name):
                    horizon = entries[-1]
            if horizon is not None:
                merged = [entry for entry in merged if entry.name <= horizon.name]
            merged.sort(key=lambda entry: entry.name)
            found += [chosen for chosen in await self._resolve(merged) if _wanted(chosen, tag, agent_name)]
            sessions = _unique(found)
            if horizon is None or len(sessions) >= limit:
                break
            position = horizon.cursor
        page_sessions = await self._finish(sessions[:limit], summaries)
        more = len(sessions) > limit or horizon is not None
        return SessionPage(
            sessions=page_sessions, next_cursor=_cursor(page_sessions[-1]) if more and page_sessions else None
        )

    async def everything(
        self, *, tag: str | None = None, agent_name: str | None = None, summaries: bool = False
    ) -> list[SessionMetadata]:
        """Returns every session, newest first: each bucket listed to its end in parallel, merged, deduplicated."""
        check_page_request(1, None, tag, agent_name, summaries)
        manifest = await self._manifest.get(create=False)
        if manifest is None:
            return []
        buckets = [self._layout.index_bucket(bucket) for bucket in range(manifest.fanout)]
        listings = await gather(self._store.list_objects(bucket) for bucket in buckets)
        merged = list(
            heapq.merge(
                *(self._parsed(bucket, objects) for bucket, objects in zip(buckets, listings, strict=True)),
                key=lambda entry: entry.name,
            )
        )
        wanted = [chosen for chosen in _unique(await self._resolve(merged)) if _wanted(chosen, tag, agent_name)]
        return await self._finish(wanted, summaries)

    async def keys_of(self, session_id: str) -> list[str]:
        """Returns every entry key of one session, found by listing its whole fan-out bucket (the slow path, for
        a session whose head cannot be read to say which keys it has)."""
        manifest = await self._manifest.get(create=False)
        if manifest is None:
            return []
        bucket = self._layout.index_bucket(fanout_bucket_of(session_id, manifest.fanout))
        return [item.key for item in await self._store.list_objects(bucket) if f"~{session_id}~" in item.key]

    async def scan(self) -> list[RawEntry]:
        """Returns every key under the index prefix, parsed where it is an entry (fsck, reindex)."""
        objects = await self._store.list_objects(self._layout.index_root)
        result = []
        for item in objects:
            name = item.key.removeprefix(self._layout.index_root).partition("/")[2]
            result.append(RawEntry(item.key, parse_entry_name(name) if name else None))
        return result

    def _parsed(self, bucket: str, objects: Iterable[ObjectInfo]) -> list[ParsedEntry]:
        parsed = []
        with collection_paused:
            for item in objects:
                entry = parse_entry_name(item.key[len(bucket) :])
                if entry is None:
                    log.warning("index: ignoring a key that is not an entry: %r", item.key[:200])
                else:
                    parsed.append(entry)
        return parsed

    async def listing(self, bucket_key: str, entry: ParsedEntry) -> Listing:
        """Returns an entry's validated listing, from its key or (``~+``) its body (whose summary it keeps, unread).

        Raises:
            InvalidInput: a malformed or planted listing.
            CorruptObject: an undecodable body.
        """
        text = entry.listing
        if text is not None:
            return parse_listing(entry, text)
        body = await self._body(bucket_key)
        if body.listing is None:
            raise InvalidInput("the entry's key ends ~+ but its body holds no listing")
        listing = parse_listing(entry, body.listing)
        if body.summary is not None:
            listing = replace(listing, summary_in_body=True, body_summary=body.summary)
        return listing

    async def with_summary(self, bucket_key: str, listing: Listing, *, strict: bool = False) -> SessionMetadata:
        """Returns the listing's metadata with the session's summary, from the key or the entry's body.

        A summary that cannot be read is logged and left out (the session is still listed), or with ``strict``
        (fsck, reindex) raised.

        Raises:
            InvalidInput, CorruptObject, ObjectMissing: only with ``strict``.
        """
        try:
            if listing.summary_text is not None:
                summary = summary_of(listing, key=bucket_key)
            elif listing.summary_in_body:
                raw = listing.body_summary
                if raw is None:
                    raw = (await self._body(bucket_key)).summary
                summary = check_summary(raw)
                if summary is None:
                    raise InvalidInput("the entry's key says its body holds the summary, but the body holds none")
            else:
                return listing.metadata
        except (InvalidInput, CorruptObject, ObjectMissing) as exc:  # missing: a commit replaced it meanwhile
            if strict:
                raise
            log.warning("index: leaving out the summary of %r: %s", bucket_key[:200], exc)
            return listing.metadata
        return listing.metadata.model_copy(update={"summary": summary})

    async def _finish(self, chosen: Sequence[Chosen], summaries: bool) -> list[SessionMetadata]:
        """The metadata of the chosen entries, with their summaries when asked (one wave of GETs for those
        in entry bodies: only the sessions returned, never the entries a page merged and left out)."""
        if not summaries:
            return [item.listing.metadata for item in chosen]
        return await gather(self.with_summary(item.key, item.listing) for item in chosen)

    async def _body(self, bucket_key: str) -> EntryBody:
        stored = await self._store.get(bucket_key, max_bytes=self._max_bytes)
        document = decode_document(stored.body, kind="entry", max_bytes=self._max_bytes, key=bucket_key)
        return validate(EntryBody, document, key=bucket_key)

    async def _resolve(self, entries: Sequence[ParsedEntry]) -> list[Chosen]:
        """Validates entries (reading ``~+`` bodies in one wave) and keeps one per session: the newest revision
        of the current incarnation (asking the head which incarnation is current only when two disagree)."""
        manifest = await self._manifest.get(create=False)
        fanout = manifest.fanout if manifest else 1

        def key_of(entry: ParsedEntry) -> str:
            return self._layout.index_bucket(fanout_bucket_of(entry.session_id, fanout)) + entry.name

        def parse_inline(entry: ParsedEntry, text: str) -> Chosen | None:
            key = key_of(entry)
            try:
                return Chosen(key, parse_listing(entry, text))
            except (InvalidInput, CorruptObject) as exc:
                log.warning("index: ignoring the entry %r: %s", key[:200], exc)
                return None

        async def load(entry: ParsedEntry) -> Chosen | None:
            key = key_of(entry)
            try:
                return Chosen(key, await self.listing(key, entry))
            except (InvalidInput, CorruptObject, ObjectMissing) as exc:
                log.warning("index: ignoring the entry %r: %s", key[:200], exc)
                return None

        # Listings in their keys (nearly all) are parsed in one synchronous pass, with the collector paused (a
        # coroutine per entry, and collections walking the growing result, were most of a long list's own CPU);
        # only ``~+`` entries, whose listing is in the body, are read, in one wave.
        with collection_paused:
            loaded = [parse_inline(entry, entry.listing) if entry.listing is not None else None for entry in entries]
        in_bodies = [position for position, entry in enumerate(entries) if entry.listing is None]
        read = await gather(load(entries[position]) for position in in_bodies)
        for position, item in zip(in_bodies, read, strict=True):
            loaded[position] = item
        by_id: dict[str, list[Chosen]] = {}
        order: list[str] = []
        for item in loaded:
            if item is None:
                continue
            session_id = item.listing.metadata.id
            if session_id not in by_id:
                order.append(session_id)
            by_id.setdefault(session_id, []).append(item)
        contested = [sid for sid in order if len({item.listing.incarnation_tail for item in by_id[sid]}) > 1]
        current = dict(zip(contested, await gather(self._incarnation(sid) for sid in contested), strict=True))
        chosen: list[Chosen] = []
        for session_id in order:
            candidates = by_id[session_id]
            if session_id in current:
                candidates = [item for item in candidates if item.listing.incarnation_tail == current[session_id]]
            if candidates:
                chosen.append(max(candidates, key=lambda item: item.listing.revision))
        chosen.sort(key=lambda item: _cursor(item.listing.metadata))
        return chosen

    async def _incarnation(self, session_id: str) -> str | None:
        """Returns the incarnation of the session's live head (from its user metadata), None if it has none."""
        try:
            meta = await self._store.head(self._layout.head(session_id))
        except ObjectMissing:
            return None
        if meta.metadata.get("deleted"):
            return None
        return meta.metadata.get("incarnation")


def _cursor(metadata: SessionMetadata) -> str:
    from ..models import page_cursor

    return page_cursor(metadata)


def _wanted(chosen: Chosen, tag: str | None, agent_name: str | None) -> bool:
    """Whether an entry passes a listing's filters (the same for a page and for everything)."""
    metadata = chosen.listing.metadata
    return (tag is None or tag in metadata.tags) and (agent_name is None or metadata.agent_name == agent_name)


def _unique(listed: Iterable[Chosen]) -> list[Chosen]:
    seen: set[str] = set()
    unique = []
    for item in listed:
        if item.listing.metadata.id not in seen:
            seen.add(item.listing.metadata.id)
            unique.append(item)
    return unique
