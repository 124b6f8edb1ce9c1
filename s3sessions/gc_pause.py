"""Pausing CPython's cyclic garbage collector while a history is decoded or copied, or a list's entries parsed.

Decoding a long history allocates hundreds of thousands of dicts and lists in one burst, and none of them can
form a cycle (JSON values are trees). CPython's collector does not know that: every 700 container allocations
it walks the young generation, and as the survivors pile up it walks *every* object of the process (the
manager's snapshots, the agent framework's modules) again and again. Measured on this machine (Python 3.11,
10,000 realistic messages, four snapshots alive, the deferred collections after the pause included): a parse
and a checked copy cost 116 ms with the collector running and 60 ms paused; a lone `json.loads` of the same
history 47 ms and 36 ms. A pause changes no value and frees nothing later than it would have been freed:
reference counting still frees every dropped object at once.

The collector is process-wide, so the pause is counted: nested or concurrent pauses (threads of a
`SyncSessionManager`, several managers) re-enable it only when the last one ends, and only if it was enabled
when the first began. A program that turns the collector off itself keeps it off. A pause holds no lock while
its work runs, and lasts one synchronous pass (a decode, a copy, a page of index entries: no ``await``
inside), so no other coroutine runs under it.
"""

from __future__ import annotations

import gc
import threading
from types import TracebackType


class _Pause:
    """Context manager: the collector is off from ``__enter__`` to the matching ``__exit__``."""

    __slots__ = ("_depth", "_lock", "_restore")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._restore = False

    # The order of the steps below is chosen so that an exception raised between two of them (a KeyboardInterrupt
    # from a signal handler) can only leave the pause unused from then on, never the collector off for good.

    def __enter__(self) -> None:
        with self._lock:
            first = self._depth == 0
            if first:
                self._restore = gc.isenabled()
            self._depth += 1
            if first:
                gc.disable()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        with self._lock:
            if self._depth == 1 and self._restore:
                gc.enable()
            self._depth -= 1


collection_paused = _Pause()
"""``with collection_paused:`` around a burst of allocations that cannot form cycles."""
