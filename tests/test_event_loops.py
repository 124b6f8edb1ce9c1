"""One manager, any event loop: ``asyncio.run`` per call, and threads each with a loop of their own.

An aiobotocore client belongs to the loop that created it; the store keeps one per live loop and closes it when
that loop shuts down, so a manager never fails with "Event loop is closed" or "attached to a different loop"
and never hangs. Bounded: every thread is joined with a timeout.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from conftest import BUCKET

from s3sessions import S3SessionManager, Session, SessionMetadata, SyncSessionManager

TIMEOUT = 60


def turn(text: str) -> list[Any]:
    return [{"role": "user", "content": text}, {"role": "assistant", "content": "ok " + text}]


def test_one_manager_from_asyncio_run_per_call(s3_endpoint):
    manager = S3SessionManager(bucket=BUCKET, prefix="runs/", endpoint_url=s3_endpoint)
    session = Session(messages=turn("first"))
    asyncio.run(manager.save(session))
    for index in range(5):  # a new loop every call, as a sync web framework or the OpenAI SDK's run_sync does
        loaded = asyncio.run(manager.resume(session.id))
        loaded.messages.extend(turn(f"call {index}"))
        asyncio.run(manager.save(loaded))
        assert manager.store.open_clients == 0  # type: ignore[attr-defined] # each loop closed its own client
    assert len(asyncio.run(manager.resume(session.id)).messages) == 12
    assert [m.id for m in asyncio.run(manager.list())] == [session.id]


def test_one_manager_from_8_threads_each_with_its_own_loop(s3_endpoint):
    manager = S3SessionManager(bucket=BUCKET, prefix="threads/", endpoint_url=s3_endpoint)
    errors: list[BaseException] = []
    ids: list[str] = []

    def work(number: int) -> None:
        async def steps() -> None:
            session = Session(messages=turn(f"thread {number}"))
            await manager.save(session)
            for step in range(3):
                session.messages.extend(turn(f"thread {number} step {step}"))
                await manager.save(session)
            await manager.tag(session.id, [f"t{number}"])
            assert len((await manager.resume(session.id)).messages) == 8
            await manager.list_page(5)
            ids.append(session.id)

        try:
            asyncio.run(steps())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert errors == []
    listed = asyncio.run(manager.list())
    assert {m.id for m in listed} == set(ids) and len(ids) == 8
    assert all(len(m.tags) == 1 for m in listed)


def test_a_manager_used_by_a_sync_facade_and_by_asyncio_run_alike(s3_endpoint):
    manager = S3SessionManager(bucket=BUCKET, prefix="mixed/", endpoint_url=s3_endpoint)
    session = Session(messages=turn("async"))
    asyncio.run(manager.save(session))
    with SyncSessionManager(manager) as sync:
        loaded = sync.resume(session.id)
        loaded.messages.extend(turn("sync"))
        sync.save(loaded)
    assert len(asyncio.run(manager.resume(session.id)).messages) == 4


def test_a_loop_closed_without_shutting_down_its_generators_still_closes_its_client(s3_endpoint):
    """``new_event_loop()`` ... ``loop.close()`` per thread (no ``asyncio.run``): the client closes with the loop,
    so no aiohttp session is left unclosed (pytest runs with warnings as errors, and this collects garbage)."""
    import gc
    import warnings

    manager = S3SessionManager(bucket=BUCKET, prefix="bare-loops/", endpoint_url=s3_endpoint)
    errors: list[BaseException] = []

    def work(number: int) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(
                manager.save(Session(metadata=SessionMetadata(id=f"bare-{number}"), messages=turn(str(number))))
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            loop.close()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=work, args=(number,)) for number in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
        gc.collect()
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert errors == []
    assert manager.store.open_clients == 0  # type: ignore[attr-defined]
    unclosed = [str(w.message) for w in caught if "nclosed" in str(w.message)]
    assert unclosed == []
    assert {m.id for m in asyncio.run(manager.list())} == {f"bare-{n}" for n in range(4)}
