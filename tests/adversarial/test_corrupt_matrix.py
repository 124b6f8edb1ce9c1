"""The corrupt-object matrix (findings 4, 5 and 10): every kind of corrupt object x every operation. Only
`AgentError` subclasses ever escape, never a bare exception and never a hang; what a read hands out passes the
same validation as caller input (else it is `CorruptObject`); one bad object never stops `fsck` or `reindex` for
the others; a head that cannot be decoded is never overwritten; a corrupt session can always be deleted.

Counts: 111 corruption kinds (70 of a head or tombstone, 16 of a segment, 16 of the manifest, 9 of an overflowing
index entry; 7 of them damage the zstd frame, the rest its JSON, numbers, nesting, text or structure) x 16
operations = 1,776 cells on the in-memory store, each a fresh copy of a prefix holding the victim and a bystander
(1,776 corrupt objects planted, about 1,800 operations);
then 7 kinds x 6 CLI commands against moto (42 command runs), each checked for a one-line error, no traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import boto3
import pytest
import zstandard
from click.testing import CliRunner
from conftest import LATER

from s3sessions import (
    AgentError,
    CorruptObject,
    S3SessionManager,
    Session,
    SessionMetadata,
    SessionNotFound,
)
from s3sessions.admin.fsck import fsck
from s3sessions.cli import cli
from s3sessions.formats.json_values import check_value
from s3sessions.testing import InMemoryObjectStore
from s3sessions.validation import check_session_id

from .conftest import (
    BUCKET,
    PREFIX,
    TALLY,
    clone_store,
    compress,
    decompress,
    index_keys,
    join_head,
    memory_manager,
    nested,
    s3_manager,
    saved,
    session_keys,
    split_head,
    turn,
)

CAP = 1024 * 1024
OPTIONS = {"max_object_bytes": CAP}
VICTIM = "victim"
BYSTANDER = "bystander"
LONG_NAME = "n" * 250
LONG_TAGS = [f"{index}" + "t" * 59 for index in range(12)]
"""The victim's name: long enough that its index entry overflows into a body (``~+``), so entry bodies are tested."""
HEAD = f"{PREFIX}sessions/{VICTIM}/head.json.zst"
MANIFEST = f"{PREFIX}manifest.json.zst"
BIG = "1" + "0" * 5000
"""An integer of 5,001 digits (past Python's 4,300-digit str limit and pydantic-core's number range)."""
BIGGISH = "1" + "0" * 4250
"""An integer of 4,251 digits: parses, prints, and is over the write path's 14,000-bit bound."""


# -------------------------------------------------------------------------------------------- forgeries

Forge = Callable[[dict[str, Any]], Any]


def head_fields(change: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
    """A head forgery that edits the header fields (metadata, counts, refs...) and keeps state and tail."""

    def forge(raw: bytes) -> bytes:
        header, state, tail = split_head(raw)
        change(header)
        return join_head(header, state, tail)

    return forge


def head_text(*, state: bytes | None = None, tail_line: bytes | None = None) -> Callable[[bytes], bytes]:
    """A head forgery that replaces the state's JSON text, or appends raw JSON text as one more tail message
    (counted, so that only the value itself is wrong)."""

    def forge(raw: bytes) -> bytes:
        header, old_state, tail = split_head(raw)
        if tail_line is not None:
            tail = tail + b"\n," + tail_line if tail else tail_line
            header["message_count"] += 1
        return join_head(header, state if state is not None else old_state, tail)

    return forge


def raw_text(text: bytes) -> Callable[[bytes], bytes]:
    return lambda raw: text


def json_value_text(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def set_meta(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(header: dict[str, Any]) -> None:
        header["metadata"].update(fields)

    return change


def set_top(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(header: dict[str, Any]) -> None:
        header.update(fields)

    return change


def first_ref(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(header: dict[str, Any]) -> None:
        header["segments"][0].update(fields)

    return change


def big(text: str) -> int:
    import sys

    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return int(text)
    finally:
        sys.set_int_max_str_digits(limit)


HEAD_BYTES: dict[str, Callable[[bytes], bytes]] = {
    "not-json": raw_text(b"{"),
    "not-utf8": raw_text(b'{"format":2,"kind":"head","x":"\xff\xfe"}'),
    "json-array": raw_text(b"[]"),
    "json-string": raw_text(b'"head"'),
    "json-null": raw_text(b"null"),
    "unknown-format": raw_text(b'{"format":99,"kind":"head"}'),
    "wrong-kind": raw_text(b'{"format":2,"kind":"segment","count":0,"messages":[\n\n]}'),
    "missing-fields": raw_text(b'{"format":2,"kind":"head"}'),
    "no-regions": lambda raw: raw.replace(b"\n", b""),
    "huge-int-in-json-header": raw_text(b'{"format":2,"kind":"head","revision":' + BIG.encode() + b"}"),
    "deep-header-5000": raw_text(b'{"format":2,"kind":"head","metadata":' + nested(5000) + b"}"),
    "metadata-not-object": head_fields(set_top(metadata="x")),
    "other-session": head_fields(set_top(session_id=BYSTANDER)),
    "revision-zero": head_fields(set_top(revision=0)),
    "revision-4251-digits": head_fields(set_top(revision=big(BIGGISH))),
    "revision-5001-digits": head_fields(set_top(revision=big(BIG))),
    "tokens-4251-digits": head_fields(set_meta(total_tokens=big(BIGGISH))),
    "tokens-5001-digits": head_fields(set_meta(total_tokens=big(BIG))),
    "tokens-negative": head_fields(set_meta(total_tokens=-1)),
    "tokens-1e20": head_fields(set_meta(total_tokens=10**20)),
    "message-bytes-negative": head_fields(set_top(message_bytes=-3)),
    "created-nan": head_fields(set_meta(created_at=float("nan"))),
    "created-infinity": head_fields(set_meta(created_at=float("inf"))),
    "created-negative": head_fields(set_meta(created_at=-1.0)),
    "created-1e300": head_fields(set_meta(created_at=1e300)),
    "updated-nan": head_fields(set_meta(updated_at=float("nan"))),
    "updated-minus-infinity": head_fields(set_meta(updated_at=float("-inf"))),
    "updated-negative": head_fields(set_meta(updated_at=-5.0)),
    "updated-1e20": head_fields(set_meta(updated_at=1e20)),
    "forked-at-negative": head_fields(set_meta(forked_at_turn=-1)),
    "name-ansi": head_fields(set_meta(name="\x1b[31mred\x1b[0m")),
    "name-too-long": head_fields(set_meta(name="x" * 300)),
    "name-empty": head_fields(set_meta(name="")),
    "name-lone-surrogate": lambda raw: head_fields(set_meta(name="@@S@@"))(raw).replace(b"@@S@@", b"\\ud800"),
    "tags-invalid": head_fields(set_meta(tags=["\x1b[2J", "ok"])),
    "tags-too-many": head_fields(set_meta(tags=[f"t{index}" for index in range(100)])),
    "agent-empty": head_fields(set_meta(agent_name="")),
    "parent-traversal": head_fields(set_meta(parent_id="../../etc")),
    "message-count-wrong": head_fields(set_top(message_count=3)),
    "turn-count-wrong": head_fields(set_meta(turn_count=99)),
    "tail-turn-starts-backwards": head_fields(set_top(tail_turn_starts=[1, 0])),
    "segment-name-traversal": head_fields(first_ref(name="../../../../etc/passwd")),
    "segment-digest-not-hex": head_fields(first_ref(digest="../" + "0" * 61)),
    "segment-take-over-count": head_fields(first_ref(take=10**6)),
    "incarnation-traversal": head_fields(set_top(incarnation="../x")),
    "state-5001-digit-int": head_text(state=BIG.encode()),
    "state-4251-digit-int": head_text(state=BIGGISH.encode()),
    "state-nan": head_text(state=b"NaN"),
    "state-infinity-nested": head_text(state=b'{"x":[Infinity]}'),
    "state-deep-101": head_text(state=nested(101)),
    "state-deep-255": head_text(state=nested(255)),
    "state-deep-490": head_text(state=nested(490)),
    "state-deep-950": head_text(state=nested(950)),
    "state-deep-100000": head_text(state=nested(100_000)),
    "state-lone-surrogate": head_text(state=json_value_text('"\\udc80"')),
    "tail-5001-digit-int": head_text(tail_line=b'{"role":"assistant","n":' + BIG.encode() + b"}"),
    "tail-nan": head_text(tail_line=b'{"role":"assistant","score":NaN}'),
    "tail-deep-101": head_text(tail_line=b'{"role":"assistant","content":' + nested(100) + b"}"),
    "tail-deep-490": head_text(tail_line=b'{"role":"assistant","content":' + nested(489) + b"}"),
    "tail-deep-950": head_text(tail_line=b'{"role":"assistant","content":' + nested(949) + b"}"),
}
TOMBSTONES: dict[str, bytes] = {
    "tombstone-malformed": b'{"format":2,"kind":"tombstone"}',
    "tombstone-nan-deleted-at": b'{"format":2,"kind":"tombstone","session_id":"victim","incarnation":"'
    + b"0" * 32
    + b'","revision":9,"deleted_at":NaN}',
    "tombstone-bad-incarnation": b'{"format":2,"kind":"tombstone","session_id":"victim","incarnation":"../x",'
    b'"revision":9,"deleted_at":1.0}',
}


def frame_kinds() -> dict[str, Callable[[bytes], bytes]]:
    """Corruptions of the zstd frame itself (they apply to any object)."""
    unsized = zstandard.ZstdCompressor(write_content_size=False)
    return {
        "frame-not-zstd": lambda body: b"damaged",
        "frame-empty": lambda body: b"",
        "frame-truncated": lambda body: body[: len(body) // 2],
        "frame-trailing-bytes": lambda body: body + b"trailing",
        "frame-bomb-declared": lambda body: compress(b" " * (CAP + 1)),
        "frame-bomb-unsized": lambda body: unsized.compress(b" " * (2 * CAP)),
        "frame-bit-flip": lambda body: body[:-6] + bytes([body[-6] ^ 0x40]) + body[-5:],
    }


def segment_lines_forgery(lines: list[bytes]) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """A consistent forgery: the first segment holds ``lines`` and the head's reference says so (digest, counts),
    so it passes every digest check and only the decoder can refuse it."""

    async def forge(ctx: dict[str, Any]) -> None:
        store: InMemoryObjectStore = ctx["store"]
        region = b"\n,".join(lines)
        digest = hashlib.sha256(region).hexdigest()
        body = b'{"format":2,"kind":"segment","count":%d,"messages":[\n%s\n]}' % (len(lines), region)
        await store.put(ctx["segment"], compress(body))
        raw = decompress((await store.get(HEAD, max_bytes=10**9)).body)
        header, state, tail = split_head(raw)
        ref = header["segments"][0]
        ref.update(digest=digest, count=len(lines), take=len(lines), take_digest=None, size=len(region) + 1, turns=0)
        header["message_count"] = sum(item["take"] for item in header["segments"]) + (
            tail.count(b"\n,") + 1 if tail else 0
        )
        header["metadata"]["turn_count"] = sum(item["turns"] for item in header["segments"]) + len(
            header["tail_turn_starts"]
        )
        await store.put(HEAD, compress(join_head(header, state, tail)))

    return forge


def build_kinds() -> dict[str, Forge]:
    kinds: dict[str, Forge] = {}

    def on_head(transform: Callable[[bytes], bytes]) -> Forge:
        async def forge(ctx: dict[str, Any]) -> None:
            store = ctx["store"]
            raw = decompress((await store.get(HEAD, max_bytes=10**9)).body)
            await store.put(HEAD, compress(transform(raw)))

        return forge

    def on_body(key_name: str, transform: Callable[[bytes], bytes]) -> Forge:
        async def forge(ctx: dict[str, Any]) -> None:
            store = ctx["store"]
            key = ctx[key_name]
            await store.put(key, transform((await store.get(key, max_bytes=10**9)).body))

        return forge

    def raw_object(key_name: str, raw: bytes) -> Forge:
        async def forge(ctx: dict[str, Any]) -> None:
            await ctx["store"].put(ctx[key_name], compress(raw))

        return forge

    for name, transform in frame_kinds().items():
        kinds[f"head/{name}"] = on_body("head", transform)
        kinds[f"segment/{name}"] = on_body("segment", transform)
        kinds[f"manifest/{name}"] = on_body("manifest", transform)
        kinds[f"entry/{name}"] = on_body("entry", transform)
    for name, transform in HEAD_BYTES.items():
        kinds[f"head/{name}"] = on_head(transform)
    for name, raw in TOMBSTONES.items():
        kinds[f"head/{name}"] = raw_object("head", raw)

    async def delete_segment(ctx: dict[str, Any]) -> None:
        await ctx["store"].delete(ctx["segment"])

    kinds["segment/missing"] = delete_segment
    kinds["segment/other-content"] = raw_object(
        "segment", b'{"format":2,"kind":"segment","count":1,"messages":[\n{"role":"user","content":"forged"}\n]}'
    )
    user = b'{"role":"user","content":"q"}'
    kinds["segment/deep-101"] = segment_lines_forgery([user, b'{"role":"assistant","content":' + nested(100) + b"}"])
    kinds["segment/deep-950"] = segment_lines_forgery([user, nested(950)])
    kinds["segment/nan"] = segment_lines_forgery([user, b'{"role":"assistant","score":NaN}'])
    kinds["segment/int-4251-digits"] = segment_lines_forgery([user, b'{"n":' + BIGGISH.encode() + b"}"])
    kinds["segment/int-5001-digits"] = segment_lines_forgery([user, b'{"n":' + BIG.encode() + b"}"])
    kinds["segment/lone-surrogate"] = segment_lines_forgery([user, json_value_text('{"text":"\\ud800"}')])
    kinds["segment/not-a-message-list"] = raw_object("segment", b'{"format":2,"kind":"segment","count":1,"messages":7}')
    for name, raw in {
        "not-json": b"{",
        "fanout-zero": b'{"format":2,"kind":"manifest","fanout":0}',
        "fanout-5001-digits": b'{"format":2,"kind":"manifest","fanout":' + BIG.encode() + b"}",
        "fanout-nan": b'{"format":2,"kind":"manifest","fanout":NaN}',
        "fanout-string": b'{"format":2,"kind":"manifest","fanout":"4"}',
        "deep-1000": b'{"format":2,"kind":"manifest","checks":' + nested(1000) + b"}",
        "wrong-kind": b'{"format":2,"kind":"head"}',
        "unknown-format": b'{"format":99,"kind":"manifest"}',
        "bad-dialect": b'{"format":2,"kind":"manifest","dialect":{"if_match":"sideways"}}',
    }.items():
        kinds[f"manifest/{name}"] = raw_object("manifest", raw)
    for name, raw in {
        "body-not-json": b"{",
        "body-deep-1000": b'{"format":2,"kind":"entry","listing":' + nested(1000) + b"}",
    }.items():
        kinds[f"entry/{name}"] = raw_object("entry", raw)
    return kinds


KINDS = build_kinds()


# ------------------------------------------------------------------------------------------- operations

Operation = Callable[[S3SessionManager, dict[str, Any]], Awaitable[Any]]


async def save_held(manager: S3SessionManager, ctx: dict[str, Any]) -> Any:
    held: Session = ctx["held"]
    held.messages.extend(turn("held-more"))
    return await manager.save(held)


OPERATIONS: dict[str, Operation] = {
    "resume": lambda m, ctx: m.resume(VICTIM),
    "resume-last-turn": lambda m, ctx: m.resume(VICTIM, last_turns=1),
    "list": lambda m, ctx: m.list(),
    "list-page": lambda m, ctx: m.list_page(limit=1),
    "save-held-copy": save_held,
    "save-new-same-id": lambda m, ctx: m.save(Session(metadata=SessionMetadata(id=VICTIM), messages=turn("n"))),
    "save-other-session": lambda m, ctx: m.save(Session(metadata=SessionMetadata(id="third"), messages=turn("t"))),
    "tag": lambda m, ctx: m.tag(VICTIM, ["t"]),
    "rename": lambda m, ctx: m.rename(VICTIM, "renamed"),
    "rewind": lambda m, ctx: m.rewind(VICTIM, 0),
    "fork": lambda m, ctx: m.fork(VICTIM),
    "update": lambda m, ctx: m.update(VICTIM, lambda s: s.messages.extend(turn("u"))),
    "delete": lambda m, ctx: m.delete(VICTIM),
    "reindex": lambda m, ctx: m.reindex(),
    "fsck": lambda m, ctx: fsck(m, grace_seconds=0, now=LATER),
    "fsck-repair": lambda m, ctx: fsck(m, repair=True, grace_seconds=0, now=LATER),
}

_BASE: dict[str, Any] = {}


async def base_prefix() -> dict[str, Any]:
    """The prefix every cell starts from: the victim (segments, a tail, an overflowing index entry) and a
    bystander whose index entry was lost (so reindex and fsck --repair have work to do for the others)."""
    if not _BASE:
        store = InMemoryObjectStore()
        manager = memory_manager(store, **OPTIONS)
        await saved(manager, VICTIM, 8, name=LONG_NAME, tags=LONG_TAGS)
        await saved(manager, BYSTANDER, 2)
        await store.delete_keys(index_keys(store, BYSTANDER))
        head = await manager.objects.read_live_head(VICTIM)
        assert head.record.segments, "the victim needs sealed segments"
        (entry,) = index_keys(store, VICTIM)
        assert entry.endswith("~+"), "the victim's entry must overflow into a body"
        _BASE.update(
            store=store,
            head=HEAD,
            segment=manager.objects.layout.segment(VICTIM, head.record.segments[0]),
            manifest=MANIFEST,
            entry=entry,
        )
    return _BASE


def storable(session: Session) -> list[str]:
    """Why what a read handed out would not pass the write path's validation (empty: it would)."""
    problems = []
    metadata = session.metadata
    try:
        SessionMetadata.model_validate(metadata.model_dump(exclude={"version"}))
        if metadata.parent_id is not None:
            check_session_id(metadata.parent_id)
    except Exception as exc:
        problems.append(f"metadata: {exc}"[:300])
    for label, value in (("state", session.state), *((f"messages[{i}]", m) for i, m in enumerate(session.messages))):
        try:
            check_value(value, label=label)
        except AgentError as exc:
            problems.append(str(exc)[:300])
    return problems


@pytest.fixture
def no_backoff(monkeypatch: Any) -> None:
    """Losing writers retry at once: the matrix is about what escapes, not about timing."""
    from s3sessions import retry

    monkeypatch.setattr(retry, "BACKOFF_BASE_SECONDS", 0.0)


async def run_cell(kind: str, operation: str) -> str | None:
    """Plants one corrupt object in a fresh copy of the base prefix and runs one operation; returns what went
    wrong (None: nothing). A bare exception is reported, never raised."""
    base = await base_prefix()
    store = clone_store(base["store"])
    ctx = {**base, "store": store}
    manager = memory_manager(store, **OPTIONS)
    if operation == "save-held-copy":
        ctx["held"] = await manager.resume(VICTIM)
    await KINDS[kind](ctx)
    TALLY["corruptions"] += 1
    head_was_readable = True
    try:
        await memory_manager(store, **OPTIONS).objects.read_head(VICTIM)
    except CorruptObject:
        head_was_readable = False
    victim_before = {key: (await store.get(key, max_bytes=10**9)).body for key in session_keys(store, VICTIM)}
    started = time.perf_counter()
    TALLY["operations"] += 1
    try:
        result: Any = await asyncio.wait_for(OPERATIONS[operation](manager, ctx), timeout=20)
        raised: AgentError | None = None
    except AgentError as exc:
        result, raised = None, exc
    except Exception as exc:
        return f"bare {type(exc).__name__}: {exc}"[:300]
    if time.perf_counter() - started > 10:
        return "took over 10 s"
    fresh = memory_manager(store, **OPTIONS)
    if operation in {"resume", "resume-last-turn"} and raised is None and (problems := storable(result)):
        return f"a read handed out what the write path refuses: {problems}"
    repairing = operation in {"reindex", "fsck-repair"} and not kind.startswith("manifest/")
    if repairing and BYSTANDER not in {m.id for m in await fresh.list()}:
        return f"one bad object stopped the repair of the others ({raised!r})"
    stopped = operation == "fsck" and (raised is not None or BYSTANDER not in result.missing_entries)
    if stopped and not kind.startswith("manifest/"):
        return f"one bad object stopped fsck ({raised!r})"
    if kind.startswith("manifest/") and operation == "fsck-repair":
        try:
            await fresh.save(Session(metadata=SessionMetadata(id="after-repair"), messages=turn("r")))
            listed = {m.id for m in await fresh.list()}
        except AgentError as exc:
            return f"fsck --repair left the manifest broken: {exc!r}"
        if not {BYSTANDER, "after-repair"} <= listed:
            return f"after fsck --repair of the manifest the index lists only {sorted(listed)}"
    if not head_was_readable and operation != "delete":
        for key, body in victim_before.items():  # a head that cannot be decoded is never overwritten or collected
            if (await store.get(key, max_bytes=10**9)).body != body:
                return f"{operation} changed {key} of a session whose head cannot be decoded"
    if operation == "delete" and kind.startswith("head/"):
        if raised is not None and not isinstance(raised, SessionNotFound):
            return f"a corrupt session cannot be deleted: {raised!r}"
        try:
            await fresh.objects.read_live_head(VICTIM)
            return "the session is still there after its delete"
        except SessionNotFound:
            pass
    return None


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_corrupt_object_never_lets_a_bare_exception_escape(kind, no_backoff):
    """Every operation on every kind of corrupt object: an AgentError or a correct answer, never anything else."""
    failures = {}
    for operation in OPERATIONS:
        if failure := await run_cell(kind, operation):
            failures[operation] = failure
    assert failures == {}


# ---------------------------------------------------------------------------------------- the CLI on moto

CLI_KINDS = [
    "head/frame-not-zstd",
    "head/state-deep-950",
    "head/state-deep-100000",
    "head/revision-5001-digits",
    "head/tombstone-malformed",
    "manifest/not-json",
    "head/created-nan",
]
CLI_COMMANDS = [
    ["ls"],
    ["show", VICTIM],
    ["tag", VICTIM, "t"],
    ["reindex"],
    ["fsck", "--repair"],
    ["rm", "--yes", VICTIM],
]


class BotoStore:
    """Just enough of an ObjectStore over boto3 (sync) for the forgeries to run against moto."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def get(self, key: str, *, max_bytes: int) -> Any:
        from s3sessions.storage.protocol import StoredObject

        response = self.client.get_object(Bucket=BUCKET, Key=key)
        return StoredObject(response["Body"].read(), response["ETag"])

    async def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=BUCKET, Key=key, Body=body)

    async def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=BUCKET, Key=key)


@pytest.mark.parametrize("kind", CLI_KINDS)
def test_the_cli_prints_one_line_and_never_a_traceback(s3_endpoint, kind):
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")

    async def setup() -> dict[str, Any]:
        async with s3_manager(s3_endpoint, **OPTIONS) as manager:
            await saved(manager, VICTIM, 8, name=LONG_NAME, tags=LONG_TAGS)
            await saved(manager, BYSTANDER, 2)
            head = await manager.objects.read_live_head(VICTIM)
            (entry,) = [
                item["Key"]
                for item in client.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}index/")["Contents"]
                if f"~{VICTIM}~" in item["Key"]
            ]
            return {
                "head": HEAD,
                "segment": manager.objects.layout.segment(VICTIM, head.record.segments[0]),
                "manifest": MANIFEST,
                "entry": entry,
            }

    ctx = asyncio.run(setup())
    ctx["store"] = BotoStore(client)
    asyncio.run(KINDS[kind](ctx))
    TALLY["corruptions"] += 1

    def listing() -> dict[str, str]:
        return {item["Key"]: item["ETag"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}

    corrupted = {key: client.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in listing()}
    etags = listing()
    runner = CliRunner()
    for command in CLI_COMMANDS:
        TALLY["operations"] += 1
        result = runner.invoke(
            cli,
            ["--bucket", BUCKET, "--prefix", PREFIX, "--endpoint-url", s3_endpoint, *command],
            catch_exceptions=True,
        )
        shown = f"{command}: exit {result.exit_code}\n{result.output[-2000:]}\n{result.exception!r}"
        assert result.exit_code in (0, 1), shown
        assert result.exception is None or isinstance(result.exception, SystemExit), shown
        assert "Traceback" not in result.output, shown
        if result.exit_code == 1 and command[0] != "fsck":
            assert result.output.strip().startswith("Error:") and result.output.strip().count("\n") == 0, shown
        now = listing()  # back to the corrupted prefix for the next command
        for key in now.keys() - etags.keys():
            client.delete_object(Bucket=BUCKET, Key=key)
        for key, etag in etags.items():
            if now.get(key) != etag:
                client.put_object(Bucket=BUCKET, Key=key, Body=corrupted[key])
