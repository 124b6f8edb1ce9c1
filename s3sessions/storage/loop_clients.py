"""`LoopClients`: one client per event loop, closed on the loop that made it.

An aiobotocore client (its aiohttp session and connection pool) belongs to the loop that created it, and a
manager is used from whatever loop calls it: ``asyncio.run`` per request, a loop per thread, a framework's
private loop. So each loop gets its own client on its first request there, and the client is closed:

- when the loop shuts down its async generators (``asyncio.run`` and `s3sessions.loop_thread.LoopThread` do):
  the client's closer is parked in an async generator that the loop's ``shutdown_asyncgens`` finalises;
- when the loop is closed without that (``new_event_loop()`` ... ``loop.close()``, common in threaded code):
  the loop's ``close`` is wrapped, once per client, to run the closers on the loop first. Loops whose ``close``
  cannot be wrapped (uvloop's is read-only) fall back to the first rule;
- when the store is closed: the current loop's client at once, every other running loop's on that loop.

No asyncio object is ever shared between loops, so nothing can be "attached to a different loop".
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Opener = Callable[[contextlib.AsyncExitStack], Awaitable[Any]]
"""Opens a client inside the given exit stack (whose closing closes the client) and returns it."""
Closer = Callable[[], Awaitable[None]]


@dataclass
class _LoopClient:
    """The client of one event loop, and what closes it."""

    ready: asyncio.Future[Any]
    closer: Closer | None = None


async def _close_with_loop(stack: contextlib.AsyncExitStack, forget: Callable[[], None]) -> AsyncGenerator[None, None]:
    """An async generator parked in its loop: the loop's ``shutdown_asyncgens`` closes it, closing the client."""
    try:
        yield
    finally:
        forget()
        await stack.aclose()


class LoopClients:
    """The clients of one store, one per event loop that used it."""

    def __init__(self) -> None:
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = weakref.WeakKeyDictionary()
        self._guard = threading.Lock()

    @property
    def open_count(self) -> int:
        """How many event loops currently hold an open client."""
        with self._guard:
            return sum(1 for entry in self._loops.values() if entry.ready.done() and not entry.ready.exception())

    async def get(self, opener: Opener) -> Any:
        """Returns the running loop's client, opening it with `opener` on the loop's first request."""
        loop = asyncio.get_running_loop()
        with self._guard:
            entry = self._loops.get(loop)
            creator = entry is None
            if entry is None:
                entry = self._loops[loop] = _LoopClient(loop.create_future())
        if creator:
            try:
                entry.ready.set_result(await self._open(loop, entry, opener))
            except BaseException as exc:
                with self._guard:
                    self._loops.pop(loop, None)
                entry.ready.set_exception(exc)
                entry.ready.exception()  # retrieved: no "never retrieved" warning when nobody else waits
                raise
        return await asyncio.shield(entry.ready)

    async def _open(self, loop: asyncio.AbstractEventLoop, entry: _LoopClient, opener: Opener) -> Any:
        stack = contextlib.AsyncExitStack()
        try:
            client = await opener(stack)
        except BaseException:
            await stack.aclose()
            raise

        def forget() -> None:
            with self._guard:
                if self._loops.get(loop) is entry:
                    del self._loops[loop]

        keeper = _close_with_loop(stack, forget)
        await keeper.__anext__()  # parked: registered with this loop's async-generator shutdown
        entry.closer = keeper.aclose
        _close_client_before_loop_closes(loop, keeper.aclose)
        return client

    async def close(self) -> None:
        """Closes this loop's client now, and asks every other running loop to close its own."""
        current = asyncio.get_running_loop()
        with self._guard:
            entries = list(self._loops.items())
            self._loops.clear()
        for loop, entry in entries:
            if entry.closer is None:
                continue  # still opening: once open, its loop's shutdown (or close) closes it
            if loop is current:
                await entry.closer()
            elif not loop.is_closed() and loop.is_running():
                asyncio.run_coroutine_threadsafe(_run(entry.closer), loop)


def _close_client_before_loop_closes(loop: asyncio.AbstractEventLoop, closer: Closer) -> None:
    """Wraps ``loop.close`` (once per client) to run `closer` on the loop before it closes.

    A closer of a client already closed (by ``shutdown_asyncgens`` or the store) does nothing, so the wrapped
    close is harmless after ``asyncio.run``; a loop still running is left to its own ``close`` to refuse.
    """
    original = loop.close

    def close() -> None:
        if not loop.is_running() and not loop.is_closed():
            with contextlib.suppress(Exception):
                loop.run_until_complete(_run(closer))
        original()

    with contextlib.suppress(AttributeError, TypeError):  # uvloop: read-only; shutdown_asyncgens still closes
        loop.close = close  # type: ignore[method-assign]


async def _run(closer: Closer) -> None:
    await closer()
