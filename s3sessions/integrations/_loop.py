"""A private event loop in a daemon thread, for frameworks that call their session store synchronously.

Strands calls its session manager from hook callbacks, sometimes while an event loop is already running in the
calling thread, so ``asyncio.run`` is not an option. Every coroutine of one adapter runs on this one long-lived
loop instead, which also keeps the aiobotocore client (bound to the loop that created it) usable across calls.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


class LoopThread:
    """Runs coroutines to completion on a private loop in a daemon thread.

    Example:
        >>> loop = LoopThread()
        >>> loop.run(asyncio.sleep(0, result=42))
        42
        >>> loop.close()
    """

    def __init__(self, name: str = "s3sessions-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self._closed = False

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Runs the coroutine on the private loop and returns its result (or raises its exception)."""
        if self._closed:
            coroutine.close()
            raise RuntimeError("this adapter is closed")
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("LoopThread.run() called from its own loop: it would deadlock")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        """Stops the loop and joins the thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
