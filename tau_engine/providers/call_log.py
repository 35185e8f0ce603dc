"""The provider call log: one JSON line of metadata per model call, for diagnostics.

``.tau/logs/provider.jsonl`` answers "which calls were slow, failed, retried or
fell back, and what did they cost" without a debugger. It holds metadata only:
time, provider, model, status, HTTP status, latency, time to first token,
token counts, cost, retries and the route a fallback came from. Never keys,
headers, prompts or answers, and never an error message (a provider may echo
a key or a prompt in one): a record has a fixed set of fields, and its
strings are reduced to a safe alphabet.

Each record is one small append (about 50 µs measured, open to close), done
inline; the file is rotated by size (``provider.jsonl.1``...). Writing the log
never fails a run: an unwritable log is skipped.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

CALL_LOG_NAME = "provider.jsonl"

_UNSAFE = re.compile(r"[^A-Za-z0-9._:/@+\-]")
_MAX_TEXT = 200


@dataclass(slots=True)
class CallRecord:
    """One provider call (one route, retries included) as it is logged."""

    provider: str
    model: str
    status: str  # "ok" or the error kind (rate_limit, auth, timeout...)
    http_status: int | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None  # time to the first streamed text, thinking or tool call
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float | None = None
    retries: int = 0
    fallback_from: str | None = None  # the model id this call stood in for
    ts: float = field(default_factory=time.time)


def _safe_text(value: str | None) -> str | None:
    if value is None:
        return None
    return _UNSAFE.sub("?", value)[:_MAX_TEXT]


def _safe_ms(value: float | None) -> float | None:
    return None if value is None else round(max(0.0, value), 1)


class ProviderCallLog:
    """Appends ``CallRecord``s to a size-rotated JSON Lines file."""

    def __init__(self, path: Path, max_bytes: int = 5_000_000, backups: int = 3) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._ready = False
        self.failed = False  # set once the log could not be written; it is then skipped

    @classmethod
    def for_workspace(cls, root: Path) -> ProviderCallLog:
        """The workspace's log, ``<root>/.tau/logs/provider.jsonl``."""
        from tau_engine.paths import WorkspacePaths

        return cls(WorkspacePaths(root).logs_dir / CALL_LOG_NAME)

    def line(self, record: CallRecord) -> str:
        """The sanitized JSON line of ``record`` (without the newline)."""
        cost = record.cost_usd
        data = {
            "provider": _safe_text(record.provider),
            "model": _safe_text(record.model),
            "status": _safe_text(record.status),
            "http_status": record.http_status,
            "latency_ms": _safe_ms(record.latency_ms),
            "ttft_ms": _safe_ms(record.ttft_ms),
            "input_tokens": record.input_tokens,
            "output_tokens": record.output_tokens,
            "cached_tokens": record.cached_tokens,
            "cost_usd": None if cost is None else round(cost, 8),
            "retries": record.retries,
            "fallback_from": _safe_text(record.fallback_from),
            "ts": round(record.ts, 3),
        }
        return json.dumps(data, separators=(",", ":"))

    def record(self, record: CallRecord) -> None:
        """Append one record, first rotating if it would take the file past ``max_bytes``."""
        if self.failed:
            return
        data = (self.line(record) + "\n").encode("utf-8")
        try:
            if not self._ready:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._ready = True
            with open(self.path, "ab") as handle:
                size = handle.tell()  # append mode starts at the end: the current size
                if not size or size + len(data) <= self.max_bytes:
                    handle.write(data)
                    return
            self._rotate()
            with open(self.path, "ab") as handle:
                handle.write(data)
        except OSError:
            # Diagnostics must never break a run; stop trying after the first failure.
            self.failed = True

    def _rotate(self) -> None:
        if self.backups <= 0:
            os.truncate(self.path, 0)
            return
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
