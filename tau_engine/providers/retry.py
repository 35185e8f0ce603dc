"""Retrying a provider call that failed before any of its answer arrived.

A retry is only safe while the consumer has seen nothing of the answer: once
text, thinking or a tool call has been yielded, replaying the call would
duplicate output, so the error is re-raised with ``partial_output=True`` and
the engine decides what to do with the partial answer.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from tau_engine.errors import ProviderError
from tau_engine.providers.base import Provider, ProviderEvent, ProviderRequest, UsageReport

# Failures that the same request cannot fix by waiting.
NEVER_RETRY_KINDS = frozenset(
    {
        "auth",
        "bad_request",
        "quota",
        "context_length",
        "not_found",
        "script_exhausted",
        "content_filter",
        "bad_response",
    }
)

RetryCallback = Callable[[ProviderError, int, float], None]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait between attempts.

    The n-th retry waits ``base_delay_s * 2**(n-1)`` capped at ``max_delay_s``,
    spread by ``±jitter`` (a fraction). A provider's own ``retry_after`` wins over
    the backoff; if it asks for more than ``max_retry_after_s`` the call is not
    retried at all, since waiting less would only earn another refusal.
    """

    max_retries: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    jitter: float = 0.2
    max_retry_after_s: float = 60.0

    def should_retry(self, error: ProviderError, attempt: int) -> bool:
        """Whether retry number ``attempt`` (1-based) may follow ``error``."""
        return (
            attempt <= self.max_retries
            and error.retryable
            and not error.partial_output
            and error.kind not in NEVER_RETRY_KINDS
            and (error.retry_after is None or error.retry_after <= self.max_retry_after_s)
        )

    def waits_too_long(self, error: ProviderError) -> bool:
        """Whether ``error`` would have been retried but for its long ``retry_after``."""
        return (
            error.retryable
            and not error.partial_output
            and error.kind not in NEVER_RETRY_KINDS
            and error.retry_after is not None
            and error.retry_after > self.max_retry_after_s
        )

    def delay_s(
        self, error: ProviderError, attempt: int, rand: Callable[[], float] = random.random
    ) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if error.retry_after is not None:
            return max(0.0, error.retry_after)
        backoff = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        spread = 1.0 + self.jitter * (2.0 * rand() - 1.0)
        return max(0.0, min(self.max_delay_s, backoff * spread))


async def stream_with_retries(
    provider: Provider,
    request: ProviderRequest,
    policy: RetryPolicy | None = None,
    *,
    on_retry: RetryCallback | None = None,
    sleep: Sleep = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> AsyncIterator[ProviderEvent]:
    """Stream ``request``, retrying retryable failures that happen before any output.

    ``on_retry(error, attempt, delay_s)`` is called before each wait so the
    engine can tell the user; ``sleep`` and ``rand`` are injectable for tests.
    Usage reports do not count as output: a call that failed after reporting
    usage may still be retried.
    """
    policy = policy or RetryPolicy()
    attempt = 0
    while True:
        output_sent = False
        events = provider.stream(request)
        try:
            async for event in events:
                if not isinstance(event, UsageReport):
                    output_sent = True
                yield event
            return
        except ProviderError as error:
            if output_sent:
                error.partial_output = True
                error.retryable = False
                raise
            attempt += 1
            if not policy.should_retry(error, attempt):
                if policy.waits_too_long(error):
                    error.message = (
                        f"{error.message} (not retried: the server asked to "
                        f"wait {error.retry_after:g}s, longer than tau waits, "
                        f"{policy.max_retry_after_s:g}s; try again later)"
                    )
                raise
            delay = policy.delay_s(error, attempt, rand)
            if on_retry is not None:
                on_retry(error, attempt, delay)
        finally:
            # Close the attempt's stream (and its connection) before waiting or leaving.
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
        await sleep(delay)
