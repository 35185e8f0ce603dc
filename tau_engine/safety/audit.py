"""The safety audit log: ``.tau/logs/audit.jsonl``, one JSON object per line, rotated by size.

Every allow, ask and deny, every redaction (its kind and a hash, never the value), every
injection flag, sandbox refusal and SSRF block is one :class:`AuditEvent` with the time, the
session, the run and the tool. The operator shell reads it later.

Writes are appends of one whole line under an advisory lock (two tau processes may share a
workspace), and rotation (``audit.jsonl`` -> ``audit.jsonl.1`` -> … up to ``backups``) happens
under the same lock, so no line is torn or lost. A crash can at worst lose the line being
written. :meth:`AuditLog.record` is synchronous and small; async callers use
:meth:`AuditLog.arecord`, which runs it in a thread.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tau_engine.errors import StoreError
from tau_engine.regular_file import read_regular_bytes

if TYPE_CHECKING:
    from tau_engine.safety.injection import InjectionHit
    from tau_engine.safety.netguard import NetBlockedError
    from tau_engine.safety.permissions import Decision
    from tau_engine.safety.secret_rules import Finding

AUDIT_FILE = "audit.jsonl"
AuditKind = Literal[
    "allow", "ask", "deny", "redaction", "injection", "sandbox_refusal", "ssrf_block"
]
AUDIT_KINDS: tuple[str, ...] = (
    "allow",
    "ask",
    "deny",
    "redaction",
    "injection",
    "sandbox_refusal",
    "ssrf_block",
)


@dataclass(frozen=True)
class AuditEvent:
    """One audited safety event. ``detail`` holds kind-specific data (rule, hash, reason…)."""

    kind: AuditKind
    tool: str | None = None
    session: str | None = None
    run: str | None = None
    call_id: str | None = None
    rule: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    ts: str = ""

    def line(self) -> str:
        data = asdict(self)
        data["ts"] = self.ts or datetime.now(UTC).isoformat(timespec="milliseconds")
        data = {k: v for k, v in data.items() if v not in (None, {}, "")}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"


class AuditLog:
    """Appends audit events to a JSONL file and rotates it when it passes ``max_bytes``."""

    def __init__(self, path: Path, *, max_bytes: int = 5_000_000, backups: int = 3) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups

    @classmethod
    def for_workspace(cls, state_dir: Path, **kwargs: Any) -> AuditLog:
        """The audit log of a workspace (``.tau/logs/audit.jsonl``)."""
        return cls(state_dir / "logs" / AUDIT_FILE, **kwargs)

    def record(self, event: AuditEvent) -> None:
        """Append one event (rotating first if the file would pass ``max_bytes``)."""
        self.record_many([event])

    def record_many(self, events: list[AuditEvent]) -> None:
        """Append several events in one write under one lock (the findings of one result)."""
        if events:
            self.append("".join(event.line() for event in events).encode("utf-8"))

    def append(self, data: bytes) -> None:
        """Append whole rendered lines (rotating first if the file would pass ``max_bytes``)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock_path = self.path.with_name(self.path.name + ".lock")
            with open(lock_path, "a") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                try:
                    self._rotate_if_needed(len(data))
                    fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                    try:
                        os.write(fd, data)
                    finally:
                        os.close(fd)
                finally:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        except OSError as exc:
            raise StoreError(
                f"cannot write the audit log {self.path}: {exc.strerror or exc}"
            ) from exc

    async def arecord(self, event: AuditEvent) -> None:
        """:meth:`record` off the event loop."""
        await asyncio.to_thread(self.record, event)

    def _rotate_if_needed(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0 or size + incoming <= self.max_bytes:
            return
        if self.backups <= 0:
            os.replace(self.path, self.path.with_name(self.path.name + ".old"))
            os.unlink(self.path.with_name(self.path.name + ".old"))
            return
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def files(self) -> list[Path]:
        """The log and its rotated backups, oldest first."""
        backups = [self.path.with_name(f"{self.path.name}.{i}") for i in range(self.backups, 0, -1)]
        return [p for p in [*backups, self.path] if p.exists()]

    def read(self) -> Iterator[dict[str, Any]]:
        """Every event, oldest first; a torn or foreign line is skipped, not fatal."""
        for path in self.files():
            try:  # a planted pipe or device is not a log: never wait on it
                text = read_regular_bytes(path).decode("utf-8", errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                try:
                    value = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(value, dict) and value.get("kind") in AUDIT_KINDS:
                    yield value


def decision_event(
    decision: Decision,
    *,
    session: str | None = None,
    run: str | None = None,
    call_id: str | None = None,
) -> AuditEvent:
    """The audit event for a permission decision: the verdict, the rule and where it is."""
    cause = decision.cause
    return AuditEvent(
        kind=decision.verdict,
        tool=decision.tool,
        session=session,
        run=run,
        call_id=call_id,
        rule=cause.label,
        detail={
            "source": str(cause.source) if cause.source else None,
            "why": cause.why,
            "profile": decision.profile,
            "mode": decision.mode,
            "sandbox": decision.sandbox,
        },
    )


def redaction_event(
    finding: Finding,
    *,
    action: str,
    tool: str | None = None,
    session: str | None = None,
    run: str | None = None,
    call_id: str | None = None,
) -> AuditEvent:
    """The audit event for one redacted secret: its kind and hash, never its value."""
    return AuditEvent(
        kind="redaction",
        tool=tool,
        session=session,
        run=run,
        call_id=call_id,
        rule=finding.kind,
        detail={**finding.audit(), "action": action},
    )


def injection_event(
    hit: InjectionHit,
    *,
    source: str,
    tool: str | None = None,
    session: str | None = None,
    run: str | None = None,
    call_id: str | None = None,
) -> AuditEvent:
    """The audit event for one prompt-injection flag."""
    return AuditEvent(
        kind="injection",
        tool=tool,
        session=session,
        run=run,
        call_id=call_id,
        rule=hit.rule,
        detail={"category": hit.category, "source": source, "excerpt": hit.excerpt},
    )


def ssrf_event(
    error: NetBlockedError,
    *,
    tool: str | None = "http",
    session: str | None = None,
    run: str | None = None,
    call_id: str | None = None,
) -> AuditEvent:
    """The audit event for a request the network policy refused."""
    return AuditEvent(
        kind="ssrf_block",
        tool=tool,
        session=session,
        run=run,
        call_id=call_id,
        rule=error.reason,
        detail={"url": error.url, "why": error.message},
    )


def sandbox_refusal_event(
    diagnostic: str,
    *,
    tool: str | None = "bash",
    session: str | None = None,
    run: str | None = None,
    call_id: str | None = None,
) -> AuditEvent:
    """The audit event for a call refused because the required sandbox is unavailable."""
    return AuditEvent(
        kind="sandbox_refusal",
        tool=tool,
        session=session,
        run=run,
        call_id=call_id,
        rule="sandbox.policy = required",
        detail={"diagnostic": diagnostic},
    )
