"""The recent end of tau's JSON Lines logs: the safety audit log and the provider call log.

Both are written by other code (``tau_engine.safety.audit``, ``providers.call_log``) and sit
in ``.tau/logs/``, so they are untrusted input: only the last ``TAIL_BYTES`` are read (a huge
file costs nothing more), torn or foreign lines are skipped, and only known fields of the
expected types are kept.
"""

from __future__ import annotations

import json
from pathlib import Path

from tau_engine.status.model import Audit, AuditItem, ProviderCall

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os

TAIL_BYTES = 256 * 1024
AUDIT_KINDS = ("allow", "ask", "deny", "redaction", "injection", "sandbox_refusal", "ssrf_block")
"""As ``tau_engine.safety.audit.AUDIT_KINDS`` (a test keeps them equal)."""
OPERATOR_AUDIT_KINDS = ("deny", "redaction", "injection", "sandbox_refusal", "ssrf_block")
"""What an operator looks at: denials, redactions, injection flags, blocked requests."""


def tail_records(
    path: str | os.PathLike[str], tail_bytes: int = TAIL_BYTES
) -> list[dict[str, object]]:
    """The JSON objects on the last lines of ``path``, oldest first ([] when absent)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            start = max(0, size - tail_bytes)
            handle.seek(start)
            data = handle.read(tail_bytes)
    except OSError:
        return []
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


def read_audit(path: Path, limit: int) -> Audit:
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


def read_providers(path: Path) -> tuple[ProviderCall, ...]:
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
