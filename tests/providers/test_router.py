"""Fallback routing and the circuit breaker, with fake providers and an injected clock."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tau_engine.conversation import Message, Usage
from tau_engine.errors import ProviderError
from tau_engine.event_kinds import FallbackNote, NoticeKind
from tau_engine.events import Notice
from tau_engine.providers.base import (
    Provider,
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    UsageReport,
)
from tau_engine.providers.call_log import ProviderCallLog
from tau_engine.providers.catalog import ModelInfo
from tau_engine.providers.retry import RetryPolicy
from tau_engine.providers.router import CircuitBreaker, Route, RoutedProvider
from tests.support.provider_run import text_of


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Step:
    """What one call of a fake provider does: yield ``events``, then raise ``error``."""

    events: list[ProviderEvent] = field(default_factory=list)
    error: ProviderError | None = None


def ok(text: str = "hello", cost: float | None = None) -> Step:
    return Step(
        [
            TextChunk(text),
            UsageReport(Usage(input_tokens=1000, output_tokens=100), cost_usd=cost),
            StreamEnd("end_turn"),
        ]
    )


def fail(
    kind: str = "overloaded",
    *,
    retryable: bool = True,
    status: int | None = 529,
    message: str = "try later",
) -> Step:
    return Step(error=ProviderError(message, kind=kind, status=status, retryable=retryable))


class FakeProvider:
    """A provider that plays its script, one ``Step`` per call (then succeeds)."""

    def __init__(self, name: str, *steps: Step) -> None:
        self.name = name
        self.steps = list(steps)
        self.requests: list[ProviderRequest] = []
        self.closed = False

    async def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        self.requests.append(request)
        step = self.steps.pop(0) if self.steps else ok()
        for event in step.events:
            yield event
        if step.error is not None:
            raise step.error

    async def aclose(self) -> None:
        self.closed = True


def request(**options: Any) -> ProviderRequest:
    return ProviderRequest(
        model="primary-model",
        system="s",
        messages=[Message(role="user", content="hi")],
        options=options,
    )


async def collect(provider: Provider, req: ProviderRequest | None = None) -> list[ProviderEvent]:
    return [event async for event in provider.stream(req or request())]


class Recorder:
    """Hears the router's notices as (kind, their typed data's fields and ``message``)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.notices: list[Notice] = []

    def __call__(self, notice: Notice) -> None:
        self.notices.append(notice)
        data = notice.data.model_dump() if notice.data is not None else {}
        self.events.append((notice.kind.value, {**data, "message": notice.message}))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


async def no_sleep(seconds: float) -> None:
    return None


# -- the circuit breaker -------------------------------------------------------------------


def test_breaker_opens_after_consecutive_failures_and_half_opens_after_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=30.0, clock=clock)
    route = "anthropic/claude-sonnet-4-5"
    for _ in range(2):
        assert breaker.allow(route)
        breaker.record_failure(route)
    assert breaker.state(route) == "closed"
    breaker.record_success(route)  # a success resets the count
    for _ in range(3):
        breaker.record_failure(route)
    assert breaker.state(route) == "open"
    assert not breaker.allow(route)
    assert breaker.retry_in(route) == pytest.approx(30.0)
    clock.advance(29.9)
    assert not breaker.allow(route)
    clock.advance(0.1)
    assert breaker.state(route) == "half_open"
    assert breaker.allow(route)  # the one trial call
    assert not breaker.allow(route)  # no second call while the trial runs
    breaker.record_success(route)
    assert breaker.state(route) == "closed" and breaker.allow(route)


def test_a_failed_trial_reopens_for_a_full_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=10.0, clock=clock)
    breaker.record_failure("r")
    clock.advance(10)
    assert breaker.allow("r")
    breaker.record_failure("r")
    assert breaker.state("r") == "open" and breaker.retry_in("r") == pytest.approx(10.0)
    clock.advance(5)
    assert not breaker.allow("r")


def test_a_released_trial_lets_the_next_call_be_the_trial() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=1.0, clock=clock)
    breaker.record_failure("r")
    clock.advance(1)
    assert breaker.allow("r") and not breaker.allow("r")
    breaker.release("r")
    assert breaker.allow("r")


def test_routes_have_independent_circuits() -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=FakeClock())
    breaker.record_failure("a")
    assert breaker.state("a") == "open" and breaker.state("b") == "closed"


# -- falling back ------------------------------------------------------------------------


async def test_the_primary_answers_when_healthy() -> None:
    primary, backup = FakeProvider("anthropic", ok("from primary")), FakeProvider("openrouter")
    events = Recorder()
    routed = RoutedProvider(
        [("anthropic/claude", primary), ("openrouter/x/claude", backup)],
        CircuitBreaker(clock=FakeClock()),
        events,
    )
    assert text_of(await collect(routed)) == "from primary"
    assert backup.requests == [] and events.events == []
    assert routed.name == "anthropic" and routed.last_route == "anthropic/claude"


async def test_a_retryable_failure_falls_back_to_the_next_route() -> None:
    primary = FakeProvider("anthropic", fail("overloaded"))
    backup = FakeProvider("openrouter", ok("from backup"))
    events = Recorder()
    routed = RoutedProvider(
        [
            Route("anthropic/claude-sonnet-4-5", primary, options={"prompt_caching": True}),
            Route(
                "openrouter/anthropic/claude-sonnet-4.5",
                backup,
                options={"provider_order": ["anthropic"]},
            ),
        ],
        CircuitBreaker(clock=FakeClock()),
        events,
    )
    got = await collect(routed, request(prompt_caching=True, reasoning_effort="high"))
    assert text_of(got) == "from backup"
    assert events.kinds() == ["fallback"]
    data = events.events[0][1]
    assert data["from_route"] == "anthropic/claude-sonnet-4-5"
    assert data["to_route"] == "openrouter/anthropic/claude-sonnet-4.5"
    assert data["error_kind"] == "overloaded" and "try later" in data["reason"]
    assert isinstance(events.notices[0].data, FallbackNote)
    assert events.notices[0].kind is NoticeKind.FALLBACK
    assert "falling back to openrouter/anthropic/claude-sonnet-4.5" in data["message"]
    # The fallback is asked for its own model, with its own provider options.
    sent = backup.requests[0]
    assert sent.model == "anthropic/claude-sonnet-4.5"
    assert sent.options == {"reasoning_effort": "high", "provider_order": ["anthropic"]}
    assert primary.requests[0].model == "claude-sonnet-4-5"
    assert routed.last_route == "openrouter/anthropic/claude-sonnet-4.5"
    assert routed.last_fallback_from == "anthropic/claude-sonnet-4-5"


@pytest.mark.parametrize("kind", ["bad_request", "context_length", "not_found", "content_filter"])
async def test_request_errors_do_not_fall_back(kind: str) -> None:
    primary = FakeProvider("openai", fail(kind, retryable=False, status=400))
    backup = FakeProvider("openrouter")
    routed = RoutedProvider(
        [("openai/gpt-5", primary), ("openrouter/openai/gpt-5", backup)],
        CircuitBreaker(clock=FakeClock()),
    )
    with pytest.raises(ProviderError) as caught:
        await collect(routed)
    assert caught.value.kind == kind and backup.requests == []


async def test_no_fallback_once_part_of_the_answer_streamed() -> None:
    broken = Step([TextChunk("half an ans")], ProviderError("cut", kind="stream", retryable=False))
    primary, backup = FakeProvider("openai", broken), FakeProvider("openrouter")
    routed = RoutedProvider(
        [("openai/gpt-5", primary), ("openrouter/openai/gpt-5", backup)],
        CircuitBreaker(clock=FakeClock()),
    )
    seen: list[ProviderEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in routed.stream(request()):
            seen.append(event)
    assert text_of(seen) == "half an ans"
    assert caught.value.partial_output and backup.requests == []


async def test_auth_failures_fall_back_only_to_another_provider() -> None:
    refused = fail("auth", retryable=False, status=401, message="invalid x-api-key")
    opus = FakeProvider("anthropic", refused)
    haiku = FakeProvider("anthropic")
    router = FakeProvider("openrouter", ok("via openrouter"))
    events = Recorder()
    routed = RoutedProvider(
        [
            ("anthropic/opus", opus),
            ("anthropic/haiku", haiku),
            ("openrouter/anthropic/opus", router),
        ],
        CircuitBreaker(clock=FakeClock()),
        events,
    )
    assert text_of(await collect(routed)) == "via openrouter"
    assert haiku.requests == []  # same provider, same key: it would be refused too
    assert [(d["from_route"], d["to_route"], d["error_kind"]) for _, d in events.events] == [
        ("anthropic/opus", "openrouter/anthropic/opus", "auth")
    ]


async def test_when_every_route_fails_the_last_error_is_raised() -> None:
    primary = FakeProvider("openai", fail("server", status=500, message="first"))
    backup = FakeProvider("xai", fail("rate_limit", status=429, message="second"))
    routed = RoutedProvider(
        [("openai/gpt-5", primary), ("xai/grok-4", backup)],
        CircuitBreaker(clock=FakeClock()),
        retry_policy=RetryPolicy(max_retries=0),
        sleep=no_sleep,
    )
    with pytest.raises(ProviderError) as caught:
        await collect(routed)
    assert caught.value.kind == "rate_limit" and "second" in str(caught.value)
    # Retried here already: an outer retry loop must not repeat the whole chain.
    assert caught.value.retryable is False


async def test_retries_come_first_and_are_reported() -> None:
    primary = FakeProvider("anthropic", fail("overloaded"), fail("overloaded"), ok("third try"))
    backup = FakeProvider("openrouter")
    events = Recorder()
    routed = RoutedProvider(
        [("anthropic/claude", primary), ("openrouter/a/claude", backup)],
        CircuitBreaker(clock=FakeClock()),
        events,
        retry_policy=RetryPolicy(max_retries=2),
        sleep=no_sleep,
    )
    assert text_of(await collect(routed)) == "third try"
    assert backup.requests == [] and len(primary.requests) == 3
    assert events.kinds() == ["retry", "retry"]
    assert events.events[1][1]["attempt"] == 2
    assert "(attempt 2 of 2)" in events.events[1][1]["message"]


async def test_exhausted_retries_then_fall_back() -> None:
    primary = FakeProvider("anthropic", *[fail("server", status=503)] * 3)
    backup = FakeProvider("openrouter", ok("backup"))
    events = Recorder()
    routed = RoutedProvider(
        [("anthropic/claude", primary), ("openrouter/a/claude", backup)],
        CircuitBreaker(clock=FakeClock()),
        events,
        retry_policy=RetryPolicy(max_retries=2),
        sleep=no_sleep,
    )
    assert text_of(await collect(routed)) == "backup"
    assert len(primary.requests) == 3
    assert events.kinds() == ["retry", "retry", "fallback"]


# -- the breaker inside the router ---------------------------------------------------------


async def test_an_open_circuit_is_skipped_until_its_cooldown_ends() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=30.0, clock=clock)
    primary = FakeProvider("anthropic", fail(), fail())
    backup = FakeProvider("openrouter")
    events = Recorder()
    routed = RoutedProvider(
        [("anthropic/claude", primary), ("openrouter/a/claude", backup)],
        breaker,
        events,
        clock=clock,
    )
    for _ in range(2):
        assert text_of(await collect(routed)) == "hello"
    assert breaker.state("anthropic/claude") == "open"
    events.events.clear()
    await collect(routed)  # the primary is not even asked
    assert len(primary.requests) == 2
    assert events.kinds() == ["circuit_open"]
    assert events.events[0][1]["route"] == "anthropic/claude"
    assert events.events[0][1]["retry_in_s"] == 30.0
    clock.advance(30)
    events.events.clear()
    assert text_of(await collect(routed)) == "hello"  # the half-open trial succeeds
    assert len(primary.requests) == 3 and events.events == []
    assert breaker.state("anthropic/claude") == "closed"


async def test_request_errors_do_not_trip_the_breaker() -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=FakeClock())
    primary = FakeProvider("openai", fail("bad_request", retryable=False, status=400))
    routed = RoutedProvider(
        [("openai/gpt-5", primary), ("xai/grok-4", FakeProvider("xai"))], breaker
    )
    with pytest.raises(ProviderError):
        await collect(routed)
    assert breaker.state("openai/gpt-5") == "closed"


async def test_when_every_circuit_is_open_the_primary_is_tried_anyway() -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=FakeClock())
    breaker.record_failure("openai/gpt-5")
    breaker.record_failure("xai/grok-4")
    primary, backup = FakeProvider("openai", ok("still here")), FakeProvider("xai")
    events = Recorder()
    routed = RoutedProvider([("openai/gpt-5", primary), ("xai/grok-4", backup)], breaker, events)
    assert text_of(await collect(routed)) == "still here"
    assert events.kinds() == ["circuit_open", "circuit_open"]
    assert breaker.state("openai/gpt-5") == "closed"


async def test_an_abandoned_trial_call_releases_the_half_open_circuit() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=5.0, clock=clock)
    breaker.record_failure("openai/gpt-5")
    clock.advance(5)
    routed = RoutedProvider(
        [
            ("openai/gpt-5", FakeProvider("openai", ok("long answer"))),
            ("xai/grok-4", FakeProvider("xai")),
        ],
        breaker,
    )
    stream = routed.stream(request())
    assert isinstance(stream, AsyncGenerator)
    assert isinstance(await anext(stream), TextChunk)
    await stream.aclose()  # the consumer stops (an interrupt) before the end
    assert breaker.state("openai/gpt-5") == "half_open"
    assert breaker.allow("openai/gpt-5")


async def test_a_single_route_ignores_the_breaker() -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=FakeClock())
    breaker.record_failure("openai/gpt-5")
    events = Recorder()
    routed = RoutedProvider(
        [("openai/gpt-5", FakeProvider("openai", ok("only me")))], breaker, events
    )
    assert text_of(await collect(routed)) == "only me"
    assert events.events == []


# -- cost and the call log --------------------------------------------------------------------


async def test_a_fallback_is_priced_with_its_own_catalog_entry(tmp_path: Path) -> None:
    info = ModelInfo(provider="openrouter", id="x/m", input_price=1.0, output_price=10.0)
    log = ProviderCallLog(tmp_path / "provider.jsonl")
    routed = RoutedProvider(
        [
            Route("openai/gpt-5", FakeProvider("openai", fail())),
            Route("openrouter/x/m", FakeProvider("openrouter", ok("hi")), info=info),
        ],
        CircuitBreaker(clock=FakeClock()),
        call_log=log,
    )
    reports = [e for e in await collect(routed) if isinstance(e, UsageReport)]
    assert reports[0].cost_usd == pytest.approx((1000 * 1.0 + 100 * 10.0) / 1e6)
    lines = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert [(r["provider"], r["status"], r["http_status"], r["fallback_from"]) for r in lines] == [
        ("openai", "overloaded", 529, None),
        ("openrouter", "ok", None, "openai/gpt-5"),
    ]
    assert lines[1]["model"] == "x/m" and lines[1]["input_tokens"] == 1000
    assert lines[1]["cost_usd"] == pytest.approx(0.002)
    assert lines[1]["ttft_ms"] is not None and lines[1]["latency_ms"] is not None


async def test_a_provider_reported_cost_is_kept() -> None:
    info = ModelInfo(provider="openrouter", id="x/m", input_price=1.0, output_price=10.0)
    routed = RoutedProvider(
        [Route("openrouter/x/m", FakeProvider("openrouter", ok(cost=0.5)), info=info)]
    )
    reports = [e for e in await collect(routed) if isinstance(e, UsageReport)]
    assert reports[0].cost_usd == 0.5


async def test_the_log_counts_retries_and_times_with_the_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    log = ProviderCallLog(tmp_path / "provider.jsonl")

    class SlowFirstToken(FakeProvider):
        async def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
            self.requests.append(request)
            clock.advance(0.25)
            yield TextChunk("x")
            clock.advance(0.5)
            yield StreamEnd("end_turn")

    async def sleeping(seconds: float) -> None:
        clock.advance(10)  # the retry's wait is not part of the final attempt's latency

    flaky = FakeProvider("openai", fail("timeout", status=None))
    routed = RoutedProvider(
        [("openai/gpt-5", flaky)],
        CircuitBreaker(clock=clock),
        retry_policy=RetryPolicy(max_retries=1),
        call_log=log,
        clock=clock,
        sleep=sleeping,
    )
    await collect(routed)
    routed_slow = RoutedProvider(
        [("openai/gpt-5", SlowFirstToken("openai"))],
        CircuitBreaker(clock=clock),
        call_log=log,
        clock=clock,
    )
    await collect(routed_slow)
    first, second = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert first["retries"] == 1 and first["status"] == "ok"
    assert second["ttft_ms"] == 250.0 and second["latency_ms"] == 750.0


async def test_aclose_closes_every_route() -> None:
    a, b = FakeProvider("openai"), FakeProvider("xai")
    await RoutedProvider([("openai/gpt-5", a), ("xai/grok-4", b)]).aclose()
    assert a.closed and b.closed
