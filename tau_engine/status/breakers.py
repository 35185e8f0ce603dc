"""The providers' circuit breakers as the last recorded change of each route.

The router's breakers live in the memory of the process that routes calls; each change of
state is one line of ``.tau/logs/breaker.jsonl`` (``providers.breaker_journal``), and the
last valid line of a route is its state here. The file sits in the workspace, so it is
untrusted input: only its tail is read, torn or foreign lines are skipped, and a line is
kept only when every field has the expected type (finite times, a known state, short
strings). A record that says ``open`` past its ``until`` reads ``half_open``: the breaker
itself lets a trial call through then, and a process killed while its breaker was open
does not leave it shown open for ever.
"""

from __future__ import annotations

from tau_engine.status.log_tail import finite, tail_records
from tau_engine.status.model import ProviderCall, ProviderStatus
from tau_engine.status.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os

BREAKER_LOG_NAME = "breaker.jsonl"
"""As ``tau_engine.providers.breaker_journal.BREAKER_LOG_NAME`` (a test keeps them equal)."""
BREAKER_STATES = ("closed", "open", "half_open")
TAIL_BYTES = 64 * 1024  # the journal compacts itself at 32 KiB
MAX_TEXT = 200


@record
class BreakerState:
    """The last recorded state of one route's breaker (``route``: ``provider/model``)."""

    route: str
    state: str  # closed | open | half_open
    since: float
    until: float | None  # when an open breaker lets a trial call through
    reason: str | None  # the failure that opened it (error kind and HTTP status)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_TEXT else None


def _parse(line: dict[str, object], now: float) -> BreakerState | None:
    route, state, since = _text(line.get("route")), line.get("state"), finite(line.get("since"))
    until, raw_until = finite(line.get("until")), line.get("until")
    if route is None or state not in BREAKER_STATES or since is None:
        return None
    if raw_until is not None and until is None:
        return None
    reason = line.get("reason")
    if reason is not None and _text(reason) is None:
        return None
    if state == "open" and (until is None or until <= now):
        state = "half_open"
    return BreakerState(
        route=route, state=str(state), since=since, until=until, reason=_text(reason)
    )


def read_breakers(path: str | os.PathLike[str], now: float) -> dict[str, BreakerState]:
    """The last valid record of each route in the journal at ``path`` ({} when absent)."""
    last: dict[str, BreakerState] = {}
    for line in tail_records(path, TAIL_BYTES):
        parsed = _parse(line, now)
        if parsed is not None:
            last[parsed.route] = parsed
    return last


def provider_statuses(
    calls: tuple[ProviderCall, ...], breakers: dict[str, BreakerState]
) -> dict[str, ProviderStatus]:
    """Each route's last call and breaker state, the latest active route first."""
    merged: dict[str, ProviderStatus] = {}
    for call in calls:
        route = f"{call.provider}/{call.model}"
        merged[route] = ProviderStatus(
            provider=call.provider,
            model=call.model,
            status=call.status,
            latency_ms=call.latency_ms,
            ts=call.ts,
            breaker=None,
            breaker_since=None,
            breaker_until=None,
            breaker_reason=None,
        )
    for route, breaker in breakers.items():
        provider, _, model = route.partition("/")
        known = merged.get(route)
        merged[route] = ProviderStatus(
            provider=provider,
            model=model,
            status=known.status if known else None,
            latency_ms=known.latency_ms if known else None,
            ts=known.ts if known else None,
            breaker=breaker.state,
            breaker_since=breaker.since,
            breaker_until=breaker.until,
            breaker_reason=breaker.reason,
        )

    def latest(route: str) -> float:
        item = merged[route]
        return max(item.ts or 0.0, item.breaker_since or 0.0)

    return {route: merged[route] for route in sorted(merged, key=latest, reverse=True)}
