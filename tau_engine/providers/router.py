"""Fallback routing with a circuit breaker: the provider the engine streams from.

A ``RoutedProvider`` holds the chosen model (the primary route) and the
fallbacks configured for it (``fallbacks = {"anthropic/claude-sonnet-4-5" =
["openrouter/anthropic/claude-sonnet-4.5"]}``). Each call goes to the first
route whose circuit is not open. A route's retryable failures are retried
first (``retry_policy``); only when they are exhausted, and only if nothing of
the answer has been streamed, does the call move on to the next route:

* rate limits, overload, server errors, timeouts, refused connections,
  broken streams and bodies that are no answer fall back to the next route;
* ``auth`` and ``quota`` fall back only to routes of *another* provider: the
  same provider would refuse the same key again, another holds its own key
  (and the user still sees a fallback notice naming the refusal);
* request errors (``bad_request``, ``context_length``, ``not_found``,
  ``content_filter``) never fall back: another model would be asked the same
  wrong question.

The ``CircuitBreaker`` (``providers.breaker``) keeps, per route, closed -> open
after ``failure_threshold`` consecutive failures -> half-open after ``cooldown_s``
(one trial call) -> closed on success, open again on failure; its journal lets
other processes see it. An open route is skipped; when every route is open the
first one is tried anyway, since a call that may succeed beats a certain
failure. A single route has nothing to skip to and bypasses the breaker.

Because retries happen here, an error that leaves a ``RoutedProvider`` built
with a retry policy is marked ``retryable=False``: an outer retry loop would
only repeat the whole chain.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any

from tau_engine.errors import ProviderError
from tau_engine.event_kinds import CircuitOpenNote, FallbackNote, NoticeKind, RetryNote
from tau_engine.events import Notice
from tau_engine.providers.base import Provider, ProviderEvent, ProviderRequest, UsageReport
from tau_engine.providers.breaker import CircuitBreaker as CircuitBreaker  # re-exported
from tau_engine.providers.call_log import CallRecord, ProviderCallLog
from tau_engine.providers.catalog import ModelInfo, cost_usd
from tau_engine.providers.retry import RetryPolicy, stream_with_retries

RouteEventSink = Callable[[Notice], None]
"""Hears the router's notices: one of ``event_kinds.ROUTE_KINDS``, typed data, a ready
one-line message."""

# Failures of the route itself: counted by the breaker, and a reason to fall back.
ROUTE_FAILURE_KINDS = frozenset(
    {
        "rate_limit",
        "overloaded",
        "server",
        "timeout",
        "connection",
        "stream",
        "conflict",
        "bad_response",
    }
)
# The reason in a retry notice: enough for "openai 503 server: Service Unavailable".
RETRY_REASON_CHARS = 100
# Refused credentials or exhausted credit: fall back only to another provider.
CREDENTIAL_KINDS = frozenset({"auth", "quota"})
# request.options keys that belong to one provider; a fallback route brings its own.
PROVIDER_OPTION_KEYS = frozenset(
    {"site_url", "site_name", "provider_order", "provider_allow", "provider_deny", "prompt_caching"}
)


@dataclass(slots=True)
class Route:
    """One way to answer a call: a model id, its client and what it needs per request."""

    model_id: str
    provider: Provider
    model: str = ""  # the model as its API wants it; default: model_id after the first "/"
    options: dict[str, Any] | None = None  # provider options; None keeps the request's
    info: ModelInfo | None = None  # prices the call when the provider reports no cost

    def __post_init__(self) -> None:
        if not self.model:
            self.model = self.model_id.split("/", 1)[-1]

    @property
    def provider_name(self) -> str:
        return self.model_id.split("/", 1)[0]


class _AttemptClock:
    """Wraps a provider to note when each attempt (retry) starts, for latency and TTFT."""

    def __init__(self, provider: Provider, clock: Callable[[], float]) -> None:
        self.name = provider.name
        self._provider = provider
        self._clock = clock
        self.started = clock()

    def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        self.started = self._clock()
        return self._provider.stream(request)

    async def aclose(self) -> None:
        await self._provider.aclose()


def short_reason(error: ProviderError, limit: int = RETRY_REASON_CHARS) -> str:
    """``error`` cut to ``limit`` characters: a retry notice stays one short line (the
    full message is in the final error, if the retries do not help)."""
    text = str(error)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def counts_against_route(error: ProviderError) -> bool:
    """Whether ``error`` says the route is unhealthy (rather than the request wrong)."""
    return (
        error.kind in ROUTE_FAILURE_KINDS
        or error.kind in CREDENTIAL_KINDS
        or (error.retryable and error.kind not in ("bad_request", "context_length"))
    )


class RoutedProvider:
    """A ``Provider`` that answers each call from the first healthy route.

    ``on_event(notice)`` hears ``Notice`` events of the route kinds: ``fallback``
    (``FallbackNote``), ``circuit_open`` (``CircuitOpenNote``), ``retry``
    (``RetryNote``) and ``fallback_skipped`` (no data), each with a ready one-line
    ``message``. ``last_route`` and ``last_fallback_from`` describe the latest call.
    """

    def __init__(
        self,
        routes: Sequence[Route | tuple[str, Provider]],
        breaker: CircuitBreaker | None = None,
        on_event: RouteEventSink | None = None,
        *,
        retry_policy: RetryPolicy | None = None,
        call_log: ProviderCallLog | None = None,
        warnings: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not routes:
            raise ValueError("a RoutedProvider needs at least one route")
        self.routes = [r if isinstance(r, Route) else Route(r[0], r[1]) for r in routes]
        self.name = self.routes[0].provider.name
        self.breaker = breaker or CircuitBreaker()
        self.on_event = on_event
        self.retry_policy = retry_policy
        self.call_log = call_log
        self.last_route: str | None = None
        self.last_fallback_from: str | None = None
        self._pending_warnings = list(warnings)
        self._clock = clock
        self._sleep = sleep

    @property
    def _guarded(self) -> bool:
        """With a single route there is nothing to skip to: the breaker stays out of it
        (so it never reports a circuit that skips nothing)."""
        return len(self.routes) > 1

    def _emit(self, notice: Notice) -> None:
        if self.on_event is not None:
            self.on_event(notice)

    async def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        """Stream from the first healthy route, falling back as the module doc says."""
        while self._pending_warnings:
            self._emit(
                Notice(kind=NoticeKind.FALLBACK_SKIPPED, message=self._pending_warnings.pop(0))
            )
        error: ProviderError | None = None
        failed: Route | None = None
        refused: set[str] = set()  # providers whose credentials were refused this call
        tried = False
        for route in self.routes:
            if route.provider_name in refused:
                continue
            if self._guarded and not self.breaker.allow(route.model_id):
                wait = self.breaker.retry_in(route.model_id)
                self._emit(
                    Notice(
                        kind=NoticeKind.CIRCUIT_OPEN,
                        message=f"{route.model_id} keeps failing; skipping it for {wait:.0f}s more",
                        data=CircuitOpenNote(route=route.model_id, retry_in_s=round(wait, 1)),
                    )
                )
                continue
            if error is not None and failed is not None:
                self._emit(
                    Notice(
                        kind=NoticeKind.FALLBACK,
                        message=f"{failed.model_id} failed ({error}); falling back to "
                        f"{route.model_id}",
                        data=FallbackNote(
                            from_route=failed.model_id,
                            to_route=route.model_id,
                            reason=str(error),
                            error_kind=error.kind,
                        ),
                    )
                )
            tried = True
            try:
                async with aclosing(self._call(route, request, failed)) as events:
                    async for event in events:
                        yield event
                return
            except ProviderError as exc:
                if exc.partial_output or not self._falls_back(exc):
                    raise self._final(exc) from None
                error, failed = exc, route
                if exc.kind in CREDENTIAL_KINDS:
                    refused.add(route.provider_name)
        if not tried:
            # Every circuit is open: try the primary anyway rather than fail unasked.
            async with aclosing(self._call(self.routes[0], request, None)) as events:
                async for event in events:
                    yield event
            return
        assert error is not None
        raise self._final(error)

    def _falls_back(self, error: ProviderError) -> bool:
        return counts_against_route(error)

    def _final(self, error: ProviderError) -> ProviderError:
        if self.retry_policy is not None:
            error.retryable = False  # retried here already; see the module doc
        return error

    def _request_for(self, route: Route, request: ProviderRequest) -> ProviderRequest:
        if route.options is None:
            return replace(request, model=route.model)
        options = {k: v for k, v in request.options.items() if k not in PROVIDER_OPTION_KEYS}
        options.update(route.options)
        return replace(request, model=route.model, options=options)

    async def _call(
        self, route: Route, request: ProviderRequest, fallback_from: Route | None
    ) -> AsyncGenerator[ProviderEvent, None]:
        """One route's call (with its retries): breaker verdict, pricing and the log line."""
        self.last_route = route.model_id
        self.last_fallback_from = fallback_from.model_id if fallback_from else None
        timer = _AttemptClock(route.provider, self._clock)
        record = CallRecord(
            provider=route.provider_name,
            model=route.model,
            status="cancelled",
            fallback_from=self.last_fallback_from,
        )
        policy = self.retry_policy

        def on_retry(err: ProviderError, attempt: int, delay: float) -> None:
            record.retries = attempt
            limit = policy.max_retries if policy is not None else attempt
            self._emit(
                Notice(
                    kind=NoticeKind.RETRY,
                    message=f"{short_reason(err)} — retrying in {delay:.1f}s "
                    f"(attempt {attempt} of {limit})",
                    data=RetryNote(
                        route=route.model_id, attempt=attempt, delay_s=delay, error_kind=err.kind
                    ),
                )
            )

        req = self._request_for(route, request)
        events = (
            stream_with_retries(timer, req, policy, on_retry=on_retry, sleep=self._sleep)
            if policy is not None
            else timer.stream(req)
        )
        verdict = False
        output_sent = False
        try:
            async for event in events:
                if isinstance(event, UsageReport):
                    if event.cost_usd is None and route.info is not None:
                        event = UsageReport(event.usage, cost_usd(route.info, event.usage))
                    record.input_tokens = event.usage.input_tokens
                    record.output_tokens = event.usage.output_tokens
                    record.cached_tokens = event.usage.cached_input_tokens
                    record.cost_usd = event.cost_usd
                elif not output_sent:
                    output_sent = True
                    record.ttft_ms = (self._clock() - timer.started) * 1000.0
                yield event
            verdict = True
            record.status = "ok"
            if self._guarded:
                self.breaker.record_success(route.model_id)
        except ProviderError as exc:
            verdict = True
            if output_sent:
                exc.partial_output = True
            record.status, record.http_status = exc.kind, exc.status
            if self._guarded and counts_against_route(exc):
                reason = exc.kind if exc.status is None else f"{exc.kind} {exc.status}"
                self.breaker.record_failure(route.model_id, reason)
            elif self._guarded:
                self.breaker.record_success(route.model_id)  # it answered; the request was wrong
            raise
        finally:
            if not verdict and self._guarded:
                self.breaker.release(route.model_id)
            record.latency_ms = (self._clock() - timer.started) * 1000.0
            if self.call_log is not None:
                self.call_log.record(record)
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    async def aclose(self) -> None:
        """Close every route's client."""
        seen: set[int] = set()
        for route in self.routes:
            if id(route.provider) not in seen:
                seen.add(id(route.provider))
                await route.provider.aclose()
