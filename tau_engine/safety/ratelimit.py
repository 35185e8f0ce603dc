"""A per-session cap on tool calls per minute (the profile's ``limits.tool_calls_per_minute``).

A model stuck in a loop can issue hundreds of calls; the limiter turns the excess into a
refusal the model sees, instead of letting it run on. It is a sliding window over the last 60
seconds on a monotonic clock (injectable, so tests need no sleeping).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0


class CallRateLimiter:
    """Allows at most ``per_minute`` calls in any 60-second window."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self.clock = clock
        self._calls: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self._calls and now - self._calls[0] >= WINDOW_S:
            self._calls.popleft()

    def try_acquire(self) -> float | None:
        """Count one call and return ``None``, or return the seconds until one is allowed."""
        now = self.clock()
        self._trim(now)
        if len(self._calls) >= self.per_minute:
            return WINDOW_S - (now - self._calls[0])
        self._calls.append(now)
        return None

    def refusal(self, wait_s: float) -> str:
        """The refusal text for a call over the limit."""
        return (
            f"refused (limits.tool_calls_per_minute = {self.per_minute}): too many tool "
            f"calls; the next one is allowed in {wait_s:.0f}s"
        )
