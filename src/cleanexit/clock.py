"""One injectable clock. Tests move time instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

__all__ = ["Clock", "ManualClock", "Sleep", "system_clock"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
system_clock: Clock = time.time


class ManualClock:
    """A clock for tests: ``clock()`` returns ``now``; ``advance()`` moves it."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """Stands in for ``asyncio.sleep`` where a service waits on this clock's time."""
        self.advance(max(seconds, 0.0))
