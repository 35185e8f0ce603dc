"""The breaker journal: each change of a circuit breaker, one JSON line in ``.tau/logs/``.

A breaker's state lives in the memory of the process that routes calls; ``tau status``,
``tau shell`` and ``tau watch`` run in other processes and read this file
(``tau_engine.status.log_tail``) to show an open breaker: the last line of a route is its
state. Changes are rare (a route opens after several failures), so the file stays small.

Several tau processes may share a workspace, and any of them may be killed at any point:

* a record is one ``write`` of one line, under an exclusive ``flock`` of a lock file
  beside the journal (``.breaker.jsonl.lock``, never replaced);
* a line a killed writer left without its newline is closed first (a ``\\n`` is written
  before the next record), so a torn line spoils only itself;
* past ``max_bytes`` the file is compacted to the last line of each route: written to a
  temporary file and put in place with ``os.replace`` (a reader sees the old or the new
  file, never half of one) while the lock is held, so no writer appends to a replaced
  file.

Records hold a fixed set of fields, strings reduced to a safe alphabet. Writing never
fails a call: a journal that cannot be written is skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

from tau_engine.providers.breaker import BreakerChange

BREAKER_LOG_NAME = "breaker.jsonl"
MAX_BYTES = 32 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._:/@+\-]")
_UNSAFE_REASON = re.compile(r"[^A-Za-z0-9._:/@+\- ]")  # "server 503"
_MAX_TEXT = 200

try:
    import fcntl
except ImportError:  # pragma: no cover (not POSIX: appends stay unlocked)
    fcntl = None  # type: ignore[assignment]


def _safe_text(value: str | None, unsafe: re.Pattern[str] = _UNSAFE) -> str | None:
    return None if value is None else unsafe.sub("?", value)[:_MAX_TEXT]


def change_line(change: BreakerChange, pid: int) -> bytes:
    """The journal line of ``change`` (with its newline)."""
    data = {
        "route": _safe_text(change.route),
        "state": change.state,
        "since": round(change.since, 3),
        "until": None if change.until is None else round(change.until, 3),
        "reason": _safe_text(change.reason, _UNSAFE_REASON),
        "failures": change.failures,
        "pid": pid,
    }
    return (json.dumps(data, separators=(",", ":")) + "\n").encode()


class BreakerJournal:
    """Appends ``BreakerChange``s to ``path`` (see the module docstring)."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.skipped = 0  # records that could not be written

    @classmethod
    def for_workspace(cls, root: Path) -> BreakerJournal:
        """The workspace's journal, ``<root>/.tau/logs/breaker.jsonl``."""
        return cls(root / ".tau" / "logs" / BREAKER_LOG_NAME)

    def record(self, change: BreakerChange) -> None:
        """Append one change; on any OS error the record is skipped (and counted)."""
        try:
            self._append(change_line(change, os.getpid()))
        except (OSError, ValueError):
            self.skipped += 1

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        # The lock is a file of its own: the journal itself is replaced by compaction.
        lock = os.open(self.path.with_name(f".{self.path.name}.lock"), flags, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            fd = os.open(self.path, flags | os.O_APPEND, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # close a line a killed writer left open
                os.write(fd, line)
                if size + len(line) > self.max_bytes:
                    self._compact(fd)
            finally:
                os.close(fd)
        finally:
            os.close(lock)  # closing drops the lock

    def _compact(self, fd: int) -> None:
        """Keep the last line of each route (called with the lock held). Only the file's
        tail is read: a journal the workspace grew to any size costs no more."""
        size = os.fstat(fd).st_size
        start = max(0, size - 2 * self.max_bytes)
        lines = os.pread(fd, size - start, start).split(b"\n")
        last: dict[str, bytes] = {}
        for raw in lines[1:] if start else lines:  # a cut first line is no record
            try:
                value = json.loads(raw)
            except ValueError:
                continue
            if isinstance(value, dict) and isinstance(value.get("route"), str):
                last.pop(value["route"], None)
                last[value["route"]] = raw + b"\n"
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)  # a leftover of a killed compaction (or a planted link)
        out = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(out, b"".join(last.values()))
        finally:
            os.close(out)
        os.replace(temp, self.path)
