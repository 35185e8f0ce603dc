"""The recent end of tau's JSON Lines logs: the safety audit log, the provider call log
and the providers' breaker journal.

All are written by other code (``tau_engine.safety.audit``, ``providers.call_log``,
``providers.breaker_journal``) and sit in ``.tau/logs/``, so they are untrusted input: only
the last ``TAIL_BYTES`` are read (a huge file costs nothing more), torn or foreign lines are
skipped, and only known fields of the expected types are kept (finite numbers: JSON may
say NaN).

The router's breakers live in the memory of the process that routes calls; each change of
state is one line of the breaker journal, and the last valid line of a route is its state
here. A record that says ``open`` past its ``until`` reads ``half_open``: the breaker itself
lets a trial call through then, and a process killed while its breaker was open does not
leave it shown open for ever. (One module rather than two: ``tau status`` pays for each.)
"""

from __future__ import annotations

import json
import os

from tau_engine.regular_file import read_regular_tail
from tau_engine.status.model import Audit, AuditItem, ProviderCall, ProviderStatus
from tau_engine.status.record import record as _record

TAIL_BYTES = 256 * 1024
AUDIT_KINDS = ("allow", "ask", "deny", "redaction", "injection", "sandbox_refusal", "ssrf_block")
"""As ``tau_engine.safety.audit.AUDIT_KINDS`` (a test keeps them equal)."""
OPERATOR_AUDIT_KINDS = ("deny", "redaction", "injection", "sandbox_refusal", "ssrf_block")
"""What an operator looks at: denials, redactions, injection flags, blocked requests."""


def tail_records(
    path: str | os.PathLike[str], tail_bytes: int = TAIL_BYTES
) -> list[dict[str, object]]:
    """The JSON objects on the last lines of ``path``, oldest first ([] when absent)."""
    read = read_regular_tail(path, tail_bytes)
    if read is None:
        return []
    data, start = read
    lines = data.split(b"\n")
    if start:
        lines = lines[1:]  # the first line was cut by the window
    records: list[dict[str, object]] = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records


def finite(value: object) -> float | None:
    """A finite number as a float (JSON may say NaN or Infinity; a bool is no number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if number - number == 0 else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def read_audit(path: str | os.PathLike[str], limit: int) -> Audit:
    """Counts by kind over the tail of the audit log, and its last ``limit`` operator events."""
    counts = dict.fromkeys(OPERATOR_AUDIT_KINDS, 0)
    items: list[AuditItem] = []
    for record in tail_records(path):
        kind = record.get("kind")
        if kind not in OPERATOR_AUDIT_KINDS:
            continue
        assert isinstance(kind, str)
        counts[kind] += 1
        items.append(
            AuditItem(
                kind=kind,
                tool=_str(record.get("tool")),
                rule=_str(record.get("rule")),
                ts=_str(record.get("ts")) or "",
            )
        )
    return Audit(counts=counts, recent=tuple(reversed(items[-limit:])) if limit else ())


def read_providers(path: str | os.PathLike[str]) -> tuple[ProviderCall, ...]:
    """The last call of each provider/model in the call log, latest first."""
    last: dict[tuple[str, str], ProviderCall] = {}
    for record in tail_records(path):
        provider, model, status = (
            _str(record.get("provider")),
            _str(record.get("model")),
            _str(record.get("status")),
        )
        latency, ts = finite(record.get("latency_ms")), finite(record.get("ts"))
        if provider is None or model is None or status is None or ts is None:
            continue
        last[(provider, model)] = ProviderCall(
            provider=provider, model=model, status=status, latency_ms=latency, ts=ts
        )
    return tuple(sorted(last.values(), key=lambda call: call.ts, reverse=True))


BREAKER_LOG_NAME = "breaker.jsonl"
"""As ``tau_engine.providers.breaker_journal.BREAKER_LOG_NAME`` (a test keeps them equal)."""
BREAKER_STATES = ("closed", "open", "half_open")
BREAKER_TAIL_BYTES = 64 * 1024  # the journal compacts itself at 32 KiB
MAX_TEXT = 200


@_record
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
    for line in tail_records(path, BREAKER_TAIL_BYTES):
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
