"""A private, long-lived event loop in a daemon thread: how synchronous code drives the async managers.

`SyncSessionManager` (scripts, notebooks, Lambda handlers) and the Strands adapter (Strands calls its session
store synchronously, sometimes from a thread whose own loop is running, so ``asyncio.run`` is not an option)
both run their coroutines here. Keeping one loop alive for the object's whole life lets the manager's S3
client, which belongs to the loop it was created on, serve every call, across warm Lambda invocations too.

Closing runs the loop's async-generator shutdown before the loop is closed, on the loop's own thread: that is
where the store closes the clients it opened on this loop (see `s3sessions.storage.s3`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")
CLOSE_TIMEOUT = 30.0
"""Seconds `LoopThread.close` waits for the loop's clean-up before it gives up on the thread."""


class LoopThread:
    """Runs coroutines to completion on a private loop in a daemon thread; thread-safe.

    Example:
        >>> loop = LoopThread()
        >>> loop.run(asyncio.sleep(0, result=42))
        42
        >>> loop.close()
    """

    def __init__(self, name: str = "s3sessions-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=_serve, args=(self._loop,), name=name, daemon=True)
        self._closed = False
        self._lock = threading.Lock()
        self._thread.start()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The private loop (to schedule on it from another thread)."""
        return self._loop

    @property
    def thread(self) -> threading.Thread:
        """The daemon thread the loop runs in."""
        return self._thread

    @property
    def closed(self) -> bool:
        """True once `close` ran."""
        return self._closed

    @property
    def in_loop_thread(self) -> bool:
        """True when called from the loop's own thread (where `run` would deadlock)."""
        return threading.current_thread() is self._thread

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Runs the coroutine on the private loop and returns its result (or raises its exception).

        Raises:
            RuntimeError: the loop is closed, or this is the loop's own thread (it would wait for itself).
        """
        if self._closed:
            coroutine.close()
            raise RuntimeError(f"{self._thread.name}: closed")
        if self.in_loop_thread:
            coroutine.close()
            raise RuntimeError(f"{self._thread.name}: called from its own event loop; await the coroutine instead")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt while waiting: do not leave the operation running
            raise

    def close(self, cleanup: Coroutine[Any, Any, Any] | None = None) -> None:
        """Runs ``cleanup`` (if given) on the loop, then stops and closes the loop; idempotent.

        From the loop's own thread (a finalizer may run there) the loop cannot be waited for: the clean-up is
        scheduled and the loop stops once it is done.
        """
        with self._lock:
            if self._closed:
                if cleanup is not None:
                    cleanup.close()
                return
            self._closed = True
        if not self._thread.is_alive() or self._loop.is_closed():
            if cleanup is not None:
                cleanup.close()
            return
        if self.in_loop_thread:
            if cleanup is None:
                self._loop.stop()
            else:
                task = self._loop.create_task(cleanup)
                task.add_done_callback(lambda _: self._loop.stop())
            return
        try:
            if cleanup is not None:
                asyncio.run_coroutine_threadsafe(cleanup, self._loop).result(CLOSE_TIMEOUT)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CLOSE_TIMEOUT)


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """The loop thread: runs the loop until stopped, then shuts down async generators and closes it here."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


__all__ = ["LoopThread"]
