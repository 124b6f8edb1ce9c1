"""The one back-off policy: how long to wait before attempt ``n + 1`` of anything that lost a race.

The commit engine (a head that another writer changed first), the index manifest and `SessionManager.update`
(a caller-level read-apply-save loop) all wait here, so a storm of writers on one key spreads out instead of
retrying in lock step. Full jitter (AWS's "Exponential Backoff And Jitter"): a uniform draw below an exponentially
growing cap.
"""

from __future__ import annotations

import asyncio
import random

BACKOFF_BASE_SECONDS = 0.02
BACKOFF_CAP_SECONDS = 1.0

_random = random.SystemRandom()


def backoff_delay(attempt: int) -> float:
    """Returns the seconds to wait after failed attempt number ``attempt`` (0-based): uniform in [0, cap)."""
    return _random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))


async def backoff(attempt: int) -> None:
    """Sleeps `backoff_delay(attempt)` seconds."""
    await asyncio.sleep(backoff_delay(attempt))
