"""`SyncSessionManager` outside Lambda: the eight operations, one client for its life, clean shutdown."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import textwrap
import threading

import pytest
from conftest import BUCKET

from s3sessions import InMemorySessionManager, S3SessionManager, Session, SessionNotFound
from s3sessions.sync import SyncSessionManager


def new_session(text: str = "hi") -> Session:
    session = Session()
    session.messages.append({"role": "user", "content": text})
    session.messages.append({"role": "assistant", "content": "hello"})
    return session


def exercise_every_operation(sessions: SyncSessionManager) -> None:
    session = new_session()
    assert sessions.save(session).turn_count == 1
    session.messages.append({"role": "user", "content": "again"})
    sessions.save(session)
    assert sessions.resume(session.id).messages == session.messages
    assert [metadata.id for metadata in sessions.list()] == [session.id]
    fork = sessions.fork(session.id, "copy")
    assert fork.parent_id == session.id and fork.name == "copy"
    assert sessions.rewind(fork.id, 0).metadata.turn_count == 1
    assert sessions.tag(session.id, ["a", "b"]).tags == ["a", "b"]
    assert sessions.rename(session.id, "renamed").name == "renamed"
    sessions.delete(fork.id)
    with pytest.raises(SessionNotFound):
        sessions.resume(fork.id)
    assert [metadata.id for metadata in sessions.list()] == [session.id]


def test_every_operation_on_the_memory_manager():
    with SyncSessionManager(InMemorySessionManager()) as sessions:
        exercise_every_operation(sessions)
    assert sessions.closed


def test_every_operation_on_s3_with_one_client(s3_endpoint):
    manager = S3SessionManager(bucket=BUCKET, prefix="sync/", endpoint_url=s3_endpoint)
    sessions = SyncSessionManager(manager)
    try:
        exercise_every_operation(sessions)
        client = sessions.run(manager.store.client())  # type: ignore[attr-defined]
        assert manager.store.open_clients == 1  # type: ignore[attr-defined]
        exercise_every_operation(SyncSessionManager(InMemorySessionManager()))  # unrelated facades coexist
        sessions.list()
        assert sessions.run(manager.store.client()) is client  # type: ignore[attr-defined]
        assert sessions.run(manager.reindex()) == 1
    finally:
        sessions.close()
    assert manager.store.open_clients == 0  # type: ignore[attr-defined] # closed on its loop, before the loop
    assert not sessions._loop.thread.is_alive() and sessions._loop.loop.is_closed()
    sessions.close()  # idempotent


def test_errors_are_raised_in_the_caller_and_closed_facades_refuse_work():
    sessions = SyncSessionManager(InMemorySessionManager())
    with pytest.raises(SessionNotFound):
        sessions.resume("missing")
    sessions.close()
    with pytest.raises(RuntimeError, match="closed"):
        sessions.list()
    with pytest.raises(TypeError):
        SyncSessionManager(object())  # type: ignore[arg-type]


def test_calls_from_many_threads_share_the_loop(s3_endpoint):
    with SyncSessionManager(S3SessionManager(bucket=BUCKET, prefix="threads/", endpoint_url=s3_endpoint)) as sessions:
        errors: list[BaseException] = []

        def work(number: int) -> None:
            try:
                session = new_session(f"thread {number}")
                sessions.save(session)
                assert sessions.resume(session.id).messages == session.messages
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(number,)) for number in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(sessions.list()) == 6


async def test_usable_from_async_code_but_not_from_its_own_loop():
    sessions = SyncSessionManager(InMemorySessionManager())
    try:
        sessions.save(new_session())  # blocks this loop briefly, but works: the work runs on the facade's loop

        async def reenter() -> None:
            sessions.list()

        with pytest.raises(RuntimeError, match="own event loop"):
            asyncio.run_coroutine_threadsafe(reenter(), sessions._loop.loop).result()
    finally:
        sessions.close()


def test_a_dropped_facade_stops_its_thread():
    sessions = SyncSessionManager(InMemorySessionManager())
    thread = sessions._loop.thread
    del sessions
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()


def test_exit_without_close_is_clean(s3_endpoint):
    """A process that never closes the facade (a Lambda container) still shuts the client down quietly."""
    script = textwrap.dedent(
        f"""
        from s3sessions import S3SessionManager, Session
        from s3sessions.sync import SyncSessionManager
        sessions = SyncSessionManager(S3SessionManager(bucket={BUCKET!r}, endpoint_url={s3_endpoint!r}))
        session = Session()
        session.messages.append({{"role": "user", "content": "hi"}})
        sessions.save(session)
        print(sessions.resume(session.id).metadata.turn_count)
        """
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    assert result.stderr == ""
