"""Every session, job and mission of a workspace as watchable objects, and change detection.

``tau watch --json`` follows objects the way ``kubectl get --watch`` does: ``ADDED`` for each
at the start, then ``MODIFIED`` or ``DELETED`` as they change. ``read_objects`` reads them
all in one read-only transaction (a job's object is its operator summary, so a lease that
goes stale is a change even though no row was written). ``StoreWatcher`` tells a poller
whether anything under ``.tau/`` may have changed since its last look: SQLite's
``PRAGMA data_version`` (it moves when another connection commits) and the logs' mtimes.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from tau_engine.status.job_view import JOB_COLUMNS, summarize
from tau_engine.status.model import to_plain
from tau_engine.status.snapshot import SCHEMA_VERSION, open_readonly, read_snapshot
from tau_engine.status.tables import (
    MISSION_COLUMNS,
    SESSION_COLUMNS,
    mission_summary,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tau_engine.status.model import StatusSnapshot
    from tau_engine.status.tables import Reader

KINDS = ("session", "job", "mission")
ObjectKey = tuple[str, str]


def read_objects(conn: sqlite3.Connection, now: float) -> dict[ObjectKey, dict[str, Any]]:
    """Every session, job and mission by ``(kind, id)``, read in one transaction."""
    conn.execute("BEGIN")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version != SCHEMA_VERSION:
            return {}
        return collect_objects(conn, now)
    finally:
        conn.execute("COMMIT")


def collect_objects(
    conn: Reader, now: float, *, scope: str = "1 = 1", scope_params: tuple[str, ...] = ()
) -> dict[ObjectKey, dict[str, Any]]:
    """The objects, inside the caller's read transaction (``scope``: as ``read_jobs``'s)."""
    objects: dict[ObjectKey, dict[str, Any]] = {}
    for row in conn.execute(f"SELECT {SESSION_COLUMNS} FROM sessions ORDER BY updated_at"):
        objects[("session", str(row[0]))] = {
            "id": str(row[0]),
            "title": str(row[1]),
            "model": str(row[2]),
            "updated_at": row[3],
            "input_tokens": row[4],
            "output_tokens": row[5],
            "cost_usd": row[6],
        }
    for row in conn.execute(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE {scope} ORDER BY created_at", scope_params
    ):
        job = summarize(row, now)
        objects[("job", job.id)] = to_plain(job)
    notes: list[str] = []
    for row in conn.execute(f"SELECT {MISSION_COLUMNS} FROM missions ORDER BY created_at"):
        mission = mission_summary(row, notes)
        objects[("mission", mission.id)] = to_plain(mission)
    return objects


def diff_objects(
    before: dict[ObjectKey, dict[str, Any]], after: dict[ObjectKey, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The watch events that take ``before`` to ``after``: ADDED, MODIFIED, then DELETED."""
    events: list[dict[str, Any]] = []
    for key, value in after.items():
        old = before.get(key)
        if old is None:
            events.append({"type": "ADDED", "kind": key[0], "id": key[1], "object": value})
        elif old != value:
            events.append({"type": "MODIFIED", "kind": key[0], "id": key[1], "object": value})
    for key, value in before.items():
        if key not in after:
            events.append({"type": "DELETED", "kind": key[0], "id": key[1], "object": value})
    return events


def ages_alone(data: dict[str, Any]) -> bool:
    """Whether the snapshot ``data`` can change with no write: a running job's lease can go
    stale, an open breaker's cool-down can end (a watcher re-reads while either holds)."""
    return bool(data["jobs"]["by_state"]["running"]) or "providers.breaker_open" in data.get(
        "attention", ()
    )


def log_paths(root: Path) -> tuple[Path, ...]:
    """The logs whose changes a watcher follows, beside the store."""
    logs = root / ".tau" / "logs"
    return (logs / "audit.jsonl", logs / "provider.jsonl", logs / "breaker.jsonl")


def log_times(logs: tuple[Path, ...]) -> list[int | None]:
    """Each log's mtime (None: absent), to tell when one moved."""
    times: list[int | None] = []
    for path in logs:
        try:
            times.append(os.stat(path).st_mtime_ns)
        except OSError:
            times.append(None)
    return times


class StoreWatcher:
    """Whether the store or the logs of a workspace changed since the last ``changed()``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db_path = root / ".tau" / "tau.db"
        self.logs = log_paths(root)
        self.conn: sqlite3.Connection | None = None
        self._seen: tuple[object, ...] | None = None

    def connection(self) -> sqlite3.Connection | None:
        """The watcher's read-only connection, opened once the store exists."""
        if self.conn is None and self.db_path.exists():
            try:
                self.conn = open_readonly(self.db_path)
            except sqlite3.Error:
                return None
        return self.conn

    def _mark(self) -> tuple[object, ...]:
        version: object = None
        conn = self.connection()
        if conn is not None:
            try:
                version = conn.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error as exc:
                version = str(exc)
        return (version, *log_times(self.logs))

    def changed(self) -> bool:
        """True on the first call and whenever another process committed or a log moved."""
        mark = self._mark()
        changed = mark != self._seen
        self._seen = mark
        return changed

    def snapshot(self, limit: int) -> StatusSnapshot:
        """The workspace's snapshot, read on the watcher's connection."""
        return read_snapshot(self.root, limit=limit, conn=self.connection())

    def objects(self, now: float) -> dict[ObjectKey, dict[str, Any]] | None:
        """The watchable objects (None: no store yet)."""
        conn = self.connection()
        return None if conn is None else read_objects(conn, now)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
