"""The conformance suite: the behaviour every `SessionManager` must have, as pytest tests.

Run it against your own manager (or an `S3SessionManager` on your own `ObjectStore`) by defining a ``manager``
fixture that yields a fresh, empty manager built with the suite's ``clock`` fixture (a settable clock in Unix
seconds), then importing the tests::

    import pytest
    from s3sessions.testing.conformance import *  # noqa: F403

    @pytest.fixture
    async def manager(clock):
        async with MyManager(clock=clock) as sessions:
            yield sessions

The tests are coroutines marked for pytest-asyncio. A manager without a clock can ignore it: only the ordering
tests move the clock, and they assert nothing a real clock would make flaky.
"""

from __future__ import annotations

from .operations import *  # noqa: F403
from .pages import *  # noqa: F403
from .summaries import *  # noqa: F403
from .support import SettableClock as SettableClock
from .support import clock as clock
from .support import saved_session as saved_session
from .support import turn as turn
