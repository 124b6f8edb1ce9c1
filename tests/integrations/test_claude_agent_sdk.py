"""The Claude Agent SDK adapter against the real claude-agent-sdk package.

Running a full agent needs the bundled Claude Code binary and the Anthropic API, which these tests cannot use,
so they drive the adapter through the SDK's own store-level API instead: its conformance suite
(``claude_agent_sdk.testing``), its ``TranscriptMirrorBatcher`` (what calls ``append`` during a run) and its
``*_from_store`` / ``*_via_store`` helpers (what resume, listing, rename, tag, fork and delete call).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import uuid

import pytest
from _support import BUCKET, RequestCounter, counted_manager, require, run_fresh_process, summary

require("claude_agent_sdk")

from claude_agent_sdk import (  # noqa: E402
    delete_session_via_store,
    fork_session_via_store,
    get_session_messages_from_store,
    list_sessions_from_store,
    project_key_for_directory,
    rename_session_via_store,
    tag_session_via_store,
)
from claude_agent_sdk._internal.transcript_mirror_batcher import TranscriptMirrorBatcher  # noqa: E402
from claude_agent_sdk.testing import run_session_store_conformance  # noqa: E402

from s3sessions import S3SessionManager  # noqa: E402
from s3sessions.integrations.claude_agent_sdk import ClaudeSessionStore, storage_id  # noqa: E402

pytestmark = pytest.mark.claude_agent_sdk
PREFIX = "claude/"
DIRECTORY = "/work/demo-project"
PROJECT = project_key_for_directory(DIRECTORY)


@pytest.fixture
async def sessions(s3_endpoint):
    async with S3SessionManager(bucket=BUCKET, prefix=PREFIX, endpoint_url=s3_endpoint) as manager:
        yield manager


class Transcript:
    """Builds transcript entries shaped like the CLI's JSONL lines (user/assistant, chained by parentUuid)."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.parent: str | None = None
        self.clock = itertools.count()

    def _entry(self, kind: str, message: dict) -> dict:
        entry = {
            "type": kind,
            "uuid": str(uuid.uuid4()),
            "parentUuid": self.parent,
            "sessionId": self.session_id,
            "timestamp": f"2026-01-01T00:00:{next(self.clock):02d}.000Z",
            "cwd": DIRECTORY,
            "isSidechain": False,
            "userType": "external",
            "version": "2.1.0",
            "message": message,
        }
        self.parent = entry["uuid"]
        return entry

    def user(self, content: object) -> dict:
        return self._entry("user", {"role": "user", "content": content})

    def assistant(self, content: list) -> dict:
        message = {
            "id": f"msg_{uuid.uuid4().hex[:12]}",
            "type": "message",
            "role": "assistant",
            "model": "claude-scripted",
            "content": content,
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 12, "output_tokens": 7},
        }
        return self._entry("assistant", message)

    def turns(self) -> list[list[dict]]:
        tool_use = {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/etc/hostname"}}
        return [
            [
                self.user("What is this machine called?"),
                self.assistant([tool_use]),
                self.user([{"type": "tool_result", "tool_use_id": "toolu_1", "content": "builder-7"}]),
                self.assistant([{"type": "text", "text": "It is called builder-7."}]),
            ],
            [self.user("Thanks! Say it backwards."), self.assistant([{"type": "text", "text": "7-redliub."}])],
        ]


async def test_the_sdk_conformance_suite(s3_endpoint):
    stores: list[ClaudeSessionStore] = []
    prefixes = itertools.count()

    def make_store() -> ClaudeSessionStore:
        store = ClaudeSessionStore(bucket=BUCKET, prefix=f"conformance-{next(prefixes)}/", endpoint_url=s3_endpoint)
        stores.append(store)
        return store

    try:
        await run_session_store_conformance(make_store)
    finally:
        for store in stores:
            await store.close()


async def test_two_turns_mirrored_then_resumed_in_a_fresh_process(sessions, s3_endpoint, tmp_path):
    session_id = str(uuid.uuid4())
    errors: list[object] = []

    async def on_error(key: object, message: str) -> None:
        errors.append((key, message))

    store = ClaudeSessionStore(sessions)
    batcher = TranscriptMirrorBatcher(store=store, projects_dir=str(tmp_path), on_error=on_error)
    file_path = str(tmp_path / PROJECT / f"{session_id}.jsonl")
    turns = Transcript(session_id).turns()
    for turn in turns:
        for entry in turn:  # the CLI mirrors each line as it writes it; the batcher flushes once per turn
            batcher.enqueue(file_path, [entry])
        await batcher.flush()
    await store.append({"project_key": PROJECT, "session_id": session_id}, turns[1])  # a retried batch
    assert errors == []
    written = [entry for turn in turns for entry in turn]
    messages = await get_session_messages_from_store(store, session_id, directory=DIRECTORY)
    assert [m.type for m in messages] == ["user", "assistant", "user", "assistant", "user", "assistant"]

    resumed = await asyncio.to_thread(
        run_fresh_process, "claude_resume.py", s3_endpoint, BUCKET, PREFIX, DIRECTORY, session_id
    )

    assert resumed["entries"] == written  # no duplicate from the retry, order kept
    assert resumed["messages"] == [dataclasses.asdict(m) for m in messages]
    stored = await sessions.resume(storage_id(PROJECT, session_id))
    assert stored.messages == written


async def test_eager_flush_mode_appends_each_frame_in_order(sessions, tmp_path):
    """``session_store_flush="eager"``: every enqueued frame is flushed by itself, in order, as it arrives.

    The SDK's own test of this waits at most 1 s of wall clock per append (skipped in the ported suite: a
    loaded CI machine can exceed it); this one waits on the appends themselves, bounded only against a hang."""
    from claude_agent_sdk._internal.session_resume import build_mirror_batcher

    errors: list[object] = []

    async def on_error(key: object, message: str) -> None:
        errors.append((key, message))

    store = ClaudeSessionStore(sessions)
    appended: list[list[dict]] = []
    arrived = asyncio.Condition()
    original_append = store.append

    async def recording_append(key, entries):  # type: ignore[no-untyped-def]
        await original_append(key, entries)
        async with arrived:
            appended.append(list(entries))
            arrived.notify_all()

    store.append = recording_append  # type: ignore[method-assign]
    batcher = build_mirror_batcher(
        store=store, materialized=None, env={"CLAUDE_CONFIG_DIR": str(tmp_path)}, on_error=on_error, flush_mode="eager"
    )
    session_id = str(uuid.uuid4())
    file_path = str(tmp_path / "projects" / PROJECT / f"{session_id}.jsonl")
    entries = [entry for turn in Transcript(session_id).turns() for entry in turn]
    for count, entry in enumerate(entries, start=1):
        batcher.enqueue(file_path, [entry])
        async with arrived:
            await asyncio.wait_for(arrived.wait_for(lambda count=count: len(appended) == count), 60)
    assert errors == []
    assert appended == [[entry] for entry in entries]  # one append per frame, none batched, in order
    stored = await sessions.resume(storage_id(PROJECT, session_id))
    assert stored.messages == entries


async def test_two_writers_on_one_transcript_neither_lose_nor_duplicate(sessions, s3_endpoint):
    key = {"project_key": PROJECT, "session_id": str(uuid.uuid4())}
    async with S3SessionManager(bucket=BUCKET, prefix=PREFIX, endpoint_url=s3_endpoint) as other:
        store_a, store_b = ClaudeSessionStore(sessions), ClaudeSessionStore(other)
        await store_a.append(key, [{"type": "user", "uuid": "u0"}])
        await store_b.load(key)  # both now hold the same version
        batches = [[{"type": "user", "uuid": f"u{n}"}, {"type": "user", "uuid": "shared"}] for n in range(1, 7)]
        await asyncio.gather(
            *(store.append(key, batch) for store, batch in zip(itertools.cycle([store_a, store_b]), batches))
        )
        loaded = await ClaudeSessionStore(sessions).load(key)
    assert loaded is not None
    uuids = [entry["uuid"] for entry in loaded]
    assert uuids[0] == "u0"
    assert sorted(uuids) == sorted(["u0", "shared", *(f"u{n}" for n in range(1, 7))])


async def test_the_sdk_store_helpers_list_rename_tag_fork_and_delete(sessions, tmp_path):
    store = ClaudeSessionStore(sessions)
    session_id = str(uuid.uuid4())
    transcript = Transcript(session_id)
    for turn in transcript.turns():
        await store.append({"project_key": PROJECT, "session_id": session_id}, turn)
    subagent = {"project_key": PROJECT, "session_id": session_id, "subpath": "subagents/agent-a1"}
    await store.append(subagent, [Transcript(session_id).user("sub task")])
    assert await store.list_subkeys({"project_key": PROJECT, "session_id": session_id}) == ["subagents/agent-a1"]

    await rename_session_via_store(store, session_id, "Hostname chat", directory=DIRECTORY)
    await tag_session_via_store(store, session_id, "ops", directory=DIRECTORY)
    [info] = await list_sessions_from_store(store, directory=DIRECTORY)
    assert (info.session_id, info.custom_title, info.tag) == (session_id, "Hostname chat", "ops")
    assert info.last_modified > 1e12

    fork = await fork_session_via_store(store, session_id, directory=DIRECTORY)
    assert len(await get_session_messages_from_store(store, fork.session_id, directory=DIRECTORY)) == 6
    assert {s.session_id for s in await list_sessions_from_store(store, directory=DIRECTORY)} == {
        session_id,
        fork.session_id,
    }

    await delete_session_via_store(store, session_id, directory=DIRECTORY)
    assert await store.load({"project_key": PROJECT, "session_id": session_id}) is None
    assert await store.load(subagent) is None  # deleting the main transcript cascades to its subagents
    assert [s.session_id for s in await list_sessions_from_store(store, directory=DIRECTORY)] == [fork.session_id]


def test_storage_ids_are_reversible_and_stay_in_the_id_alphabet():
    project = "/home/ada/my project/ü"
    sid = storage_id(project, "1f0e-ab", "subagents/agent-x.y_z")
    assert sid.count(".") == 2 and sid.split(".")[1:] == ["1f0e-ab", "subagents_2Fagent-x_2Ey_5Fz"]
    assert storage_id(project, "s") != storage_id("/other", "s")


async def test_requests_per_flushed_batch(s3_endpoint, capsys):
    """The benchmark behind the README's table: S3 requests per turn (one flushed batch), per load and listing."""
    counter = RequestCounter()
    async with counted_manager(s3_endpoint, PREFIX, counter) as sessions:
        store = ClaudeSessionStore(sessions)
        key = {"project_key": PROJECT, "session_id": str(uuid.uuid4())}
        transcript = Transcript(key["session_id"])
        for _ in range(5):
            for turn in transcript.turns():
                await store.append(key, turn)
        counter.take()
        await store.append(key, transcript.turns()[1])
        turn = counter.take()
        await ClaudeSessionStore(sessions).load(key)
        load = counter.take()
        await store.list_sessions(PROJECT)
        listing = counter.take()
        await ClaudeSessionStore(sessions).list_session_summaries(PROJECT)
        summaries = counter.take()
    # The head and the new index entry; the superseded entry's DeleteObjects (S3 does not bill DELETEs).
    assert sorted(turn) == ["DeleteObjects", "PutObject", "PutObject"]
    assert load == ["GetObject"]
    assert summaries == listing  # the index carries the summary: no transcript is read
    with capsys.disabled():
        print(
            f"\nClaude Agent SDK per flushed turn: {summary(turn)}; load: {summary(load)};"
            f" list_sessions: {summary(listing)}; list_session_summaries (1 session): {summary(summaries)}"
        )


async def test_summaries_come_from_the_index_whatever_their_size(s3_endpoint):
    """Short summaries ride in the index keys, longer ones in the entries' bodies, those over the index's 8 KiB
    (and those written before the index carried summaries) in the transcript; the SDK gets the same folds."""
    from claude_agent_sdk import fold_session_summary

    from s3sessions import Session, SessionMetadata
    from s3sessions.integrations.claude_agent_sdk import SUMMARY_STATE

    counter = RequestCounter()
    async with counted_manager(s3_endpoint, "claude-summaries/", counter) as sessions:
        store = ClaudeSessionStore(sessions)
        expected = {}
        for title in (None, "a long title " * 80, "pasted " * 2000):  # the SDK cuts prompts, never titles
            key = {"project_key": PROJECT, "session_id": str(uuid.uuid4())}
            turn = Transcript(key["session_id"]).turns()[0]
            if title is not None:
                turn.append({"type": "custom-title", "customTitle": title, "sessionId": key["session_id"]})
            await store.append(key, turn)
            expected[key["session_id"]] = fold_session_summary(None, key, turn)["data"]
        old_key = {"project_key": PROJECT, "session_id": str(uuid.uuid4())}
        old_fold = {"session_id": old_key["session_id"], "data": {"custom_title": "from before"}}
        await sessions.save(
            Session(
                metadata=SessionMetadata(id=storage_id(PROJECT, old_key["session_id"]), agent_name="claude-agent-sdk"),
                messages=[{"type": "user", "uuid": "x"}],
                state={SUMMARY_STATE: old_fold},
            )
        )
        expected[old_key["session_id"]] = old_fold["data"]
        counter.take()
        listed = await ClaudeSessionStore(sessions).list_session_summaries(PROJECT)
        requests = counter.take()
        assert {entry["session_id"]: entry["data"] for entry in listed} == expected
        # The index's LISTs; the long title's entry body; the pasted title's and the old transcript's heads.
        assert sorted(set(requests)) == ["GetObject", "ListObjectsV2"] and requests.count("GetObject") == 3
        mtimes = {entry["session_id"]: entry["mtime"] for entry in await store.list_sessions(PROJECT)}
        assert {entry["session_id"]: entry["mtime"] for entry in listed} == mtimes
        # The next append folds on from the index's copy (and moves an old transcript's summary there).
        await store.append(old_key, [Transcript(old_key["session_id"]).user("next")])
        resumed = await sessions.resume(storage_id(PROJECT, old_key["session_id"]))
        assert resumed.metadata.summary is not None and SUMMARY_STATE not in resumed.state
        assert resumed.metadata.summary["data"]["custom_title"] == "from before"


@pytest.mark.millisecond_times
async def test_continue_resumes_the_newest_of_sessions_written_within_one_second(sessions, tmp_path, monkeypatch):
    """``continue_conversation`` resumes the most recent transcript by ``list_sessions``' mtime: two sessions
    written back to back must not tie (Unix milliseconds of ``updated_at``, which strictly increases)."""
    from claude_agent_sdk import ClaudeAgentOptions
    from claude_agent_sdk._internal.session_resume import materialize_resume_session

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setattr("pathlib.Path.home", staticmethod(lambda: home))
    for name in ("CLAUDE_CONFIG_DIR", "ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("claude_agent_sdk._internal.session_resume._read_keychain_credentials", lambda: None)
    directory = tmp_path / "project"
    directory.mkdir()
    project = project_key_for_directory(directory)
    for _ in range(10):
        store = ClaudeSessionStore(sessions)
        older, newer = str(uuid.uuid4()), str(uuid.uuid4())
        await store.append({"project_key": project, "session_id": older}, [{"type": "user", "uuid": "old"}])
        await store.append({"project_key": project, "session_id": newer}, [{"type": "user", "uuid": "new"}])
        mtimes = {entry["session_id"]: entry["mtime"] for entry in await store.list_sessions(project)}
        assert mtimes[newer] > mtimes[older]
        resumed = await materialize_resume_session(
            ClaudeAgentOptions(cwd=directory, session_store=store, continue_conversation=True)
        )
        assert resumed is not None and resumed.resume_session_id == newer
        await resumed.cleanup()


def test_every_s3sessionmanager_option_is_forwarded():
    store = ClaudeSessionStore(bucket=BUCKET, prefix="p/", kms_key_id="alias/sessions", profile_name=None)
    assert store._owns_manager and store.manager.store._write_extra == {  # type: ignore[attr-defined]
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "alias/sessions",
    }
