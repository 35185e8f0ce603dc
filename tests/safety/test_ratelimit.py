"""The tool-call rate limit, on an injected clock."""

from __future__ import annotations

import pytest

from tau_engine.safety.ratelimit import CallRateLimiter


def test_sliding_window() -> None:
    now = [1000.0]
    limiter = CallRateLimiter(3, clock=lambda: now[0])
    assert [limiter.try_acquire() for _ in range(3)] == [None, None, None]
    now[0] += 20
    wait = limiter.try_acquire()
    assert wait is not None and wait == pytest.approx(40.0)
    assert limiter.refusal(wait).startswith("refused (limits.tool_calls_per_minute = 3): ")
    now[0] += 40
    assert limiter.try_acquire() is None  # the first three left the window
    with pytest.raises(ValueError):
        CallRateLimiter(0)
