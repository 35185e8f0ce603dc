"""stream_with_retries and RetryPolicy: what is retried, when, and after how long."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import pytest

from tau_engine.conversation import Message, Usage
from tau_engine.errors import ProviderError
from tau_engine.providers.base import (
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    UsageReport,
)
from tau_engine.providers.openai_chat import OpenAIChatProvider
from tau_engine.providers.retry import RetryPolicy, stream_with_retries
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

REQUEST = ProviderRequest(model="m", system="", messages=[Message(role="user", content="hi")])
NO_JITTER = RetryPolicy(jitter=0.0)


class ScriptedAttempts:
    """A provider whose n-th call plays the n-th script: events, then an optional error."""

    name = "fake"

    def __init__(self, *attempts: tuple[list[ProviderEvent], ProviderError | None]) -> None:
        self.attempts = list(attempts)
        self.calls = 0
        self.closed = 0

    def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        events, error = self.attempts[self.calls]
        self.calls += 1
        return self._play(events, error)

    async def _play(
        self, events: list[ProviderEvent], error: ProviderError | None
    ) -> AsyncIterator[ProviderEvent]:
        try:
            for event in events:
                yield event
            if error is not None:
                raise error
        finally:
            self.closed += 1

    async def aclose(self) -> None:
        pass


class Recorder:
    """Collects on_retry notices and the sleeps that would have happened."""

    def __init__(self) -> None:
        self.notices: list[tuple[str, int, float]] = []
        self.sleeps: list[float] = []

    def on_retry(self, error: ProviderError, attempt: int, delay: float) -> None:
        self.notices.append((error.kind, attempt, delay))

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def err(kind: str, retryable: bool = True, retry_after: float | None = None) -> ProviderError:
    return ProviderError(
        f"{kind} happened", kind=kind, provider="fake", retryable=retryable, retry_after=retry_after
    )


OK: tuple[list[ProviderEvent], ProviderError | None] = (
    [TextChunk("done"), StreamEnd("end_turn")],
    None,
)


async def run(
    provider: ScriptedAttempts, policy: RetryPolicy = NO_JITTER, recorder: Recorder | None = None
) -> list[ProviderEvent]:
    recorder = recorder or Recorder()
    return [
        e
        async for e in stream_with_retries(
            provider, REQUEST, policy, on_retry=recorder.on_retry, sleep=recorder.sleep
        )
    ]


async def test_retryable_failures_before_output_are_retried_with_backoff() -> None:
    provider = ScriptedAttempts(
        ([], err("overloaded")), ([], err("server")), ([], err("connection")), OK
    )
    recorder = Recorder()
    events = await run(provider, recorder=recorder)
    assert events == [TextChunk("done"), StreamEnd("end_turn")]
    assert recorder.sleeps == [0.5, 1.0, 2.0]
    assert recorder.notices == [("overloaded", 1, 0.5), ("server", 2, 1.0), ("connection", 3, 2.0)]
    assert provider.closed == 4


async def test_gives_up_after_max_retries() -> None:
    provider = ScriptedAttempts(*[([], err("server"))] * 3)
    recorder = Recorder()
    with pytest.raises(ProviderError) as caught:
        await run(provider, RetryPolicy(max_retries=2, jitter=0.0), recorder)
    assert caught.value.kind == "server"
    assert provider.calls == 3
    assert recorder.sleeps == [0.5, 1.0]


@pytest.mark.parametrize("kind", ["auth", "bad_request", "quota", "context_length"])
async def test_request_errors_are_never_retried(kind: str) -> None:
    # Even if a provider marked them retryable by mistake.
    provider = ScriptedAttempts(([], err(kind, retryable=True)), OK)
    recorder = Recorder()
    with pytest.raises(ProviderError):
        await run(provider, recorder=recorder)
    assert provider.calls == 1
    assert recorder.sleeps == []


async def test_not_retryable_errors_are_raised_at_once() -> None:
    provider = ScriptedAttempts(([], err("server", retryable=False)), OK)
    with pytest.raises(ProviderError):
        await run(provider)
    assert provider.calls == 1


async def test_failure_after_output_is_partial_and_not_retried() -> None:
    provider = ScriptedAttempts(([TextChunk("half")], err("stream")), OK)
    seen: list[ProviderEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in stream_with_retries(
            provider, REQUEST, NO_JITTER, sleep=Recorder().sleep
        ):
            seen.append(event)
    assert seen == [TextChunk("half")]
    assert caught.value.partial_output is True
    assert caught.value.retryable is False
    assert provider.calls == 1


async def test_usage_alone_does_not_count_as_output() -> None:
    billed = UsageReport(Usage(input_tokens=5))
    provider = ScriptedAttempts(([billed], err("server")), OK)
    events = await run(provider)
    assert events == [billed, TextChunk("done"), StreamEnd("end_turn")]


async def test_retry_after_is_honoured() -> None:
    provider = ScriptedAttempts(([], err("rate_limit", retry_after=7.5)), OK)
    recorder = Recorder()
    await run(provider, recorder=recorder)
    assert recorder.sleeps == [7.5]


async def test_retry_after_beyond_the_cap_is_not_waited_for() -> None:
    provider = ScriptedAttempts(([], err("rate_limit", retry_after=3600.0)), OK)
    recorder = Recorder()
    with pytest.raises(ProviderError) as caught:
        await run(provider, recorder=recorder)
    assert caught.value.retry_after == 3600.0
    assert recorder.sleeps == []


def test_backoff_is_capped_and_jittered_within_bounds() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=5.0, jitter=0.2)
    error = err("server")
    assert [policy.delay_s(error, n, lambda: 0.5) for n in (1, 2, 3, 4, 5)] == [
        1.0,
        2.0,
        4.0,
        5.0,
        5.0,
    ]
    low, high = policy.delay_s(error, 2, lambda: 0.0), policy.delay_s(error, 2, lambda: 1.0)
    assert low == pytest.approx(1.6)
    assert high == pytest.approx(2.4)
    assert policy.delay_s(error, 3, lambda: 1.0) == 4.8
    assert policy.delay_s(error, 4, lambda: 1.0) == 5.0  # jitter never exceeds the cap


def test_jittered_delays_spread_around_the_backoff() -> None:
    policy = RetryPolicy(base_delay_s=0.5, jitter=0.2)
    draws = (0.0, 0.25, 0.5, 0.75, 0.999)
    delays = [policy.delay_s(err("server"), 1, partial(float, d)) for d in draws]
    assert all(0.4 <= d <= 0.6 for d in delays)
    assert len(set(delays)) == len(delays)


async def test_closing_early_closes_the_attempt() -> None:
    provider = ScriptedAttempts(([TextChunk("a"), TextChunk("b"), StreamEnd("end_turn")], None))
    stream = stream_with_retries(provider, REQUEST, NO_JITTER)
    assert await anext(stream) == TextChunk("a")
    await stream.aclose()  # type: ignore[attr-defined]
    assert provider.closed == 1


async def test_real_429_then_success_over_http() -> None:
    with ScriptedServer() as server:
        server.add(
            ScriptedResponse.json(
                429,
                {"error": {"message": "slow down", "type": "rate_limit_error"}},
                headers={"Retry-After": "2"},
            ),
            ScriptedResponse.json(503, {"error": {"message": "busy", "type": "server_error"}}),
            openai_answer("finally"),
        )
        provider = OpenAIChatProvider(
            name="openai", base_url=server.url + "/v1", api_key="k", timeout_s=5.0
        )
        recorder = Recorder()
        try:
            events = [
                e
                async for e in stream_with_retries(
                    provider, REQUEST, NO_JITTER, on_retry=recorder.on_retry, sleep=recorder.sleep
                )
            ]
        finally:
            await provider.aclose()
        assert len(server.requests) == 3
    assert "".join(e.text for e in events if isinstance(e, TextChunk)) == "finally"
    assert recorder.notices == [("rate_limit", 1, 2.0), ("server", 2, 1.0)]
