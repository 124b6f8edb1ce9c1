"""Waves of concurrent requests that never outlive the operation that started them.

`asyncio.gather` re-raises the first failure and leaves the other awaitables running: a request that then
lands after its operation has already failed (or after the caller's event loop closed, which destroys it
mid-flight), never reported to anyone. Every parallel wave in the package goes through `gather` here instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

_T = TypeVar("_T")
_A = TypeVar("_A")
_B = TypeVar("_B")


async def gather(awaitables: Iterable[Awaitable[_T]]) -> list[_T]:
    """Runs awaitables concurrently and returns their results in order; on the first failure (or when the
    caller is cancelled), cancels the rest, waits until they have stopped, and re-raises it."""
    tasks: list[asyncio.Future[_T]] = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def both(first: Awaitable[_A], second: Awaitable[_B]) -> tuple[_A, _B]:
    """`gather` of two awaitables of different types, typed: ``a, b = await both(get_a(), get_b())``."""
    results = await gather([_typeless(first), _typeless(second)])
    return results[0], results[1]


async def _typeless(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
