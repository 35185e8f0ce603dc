"""Build the operator snapshot of a workspace: one read-only transaction, no lock held.

``read_snapshot`` opens ``.tau/tau.db`` read-only (``mode=ro``: it never creates, migrates
or writes it) and reads every table in one deferred transaction, so the counts agree with
each other while other tau processes keep writing (WAL readers never block writers). It
imports neither pydantic nor the store package: ``tau status`` runs it in a loop.

A missing store is a fresh workspace (health ok, everything zero); a store that cannot be
read, or has another schema version, is health ``error`` with the reason, never a
traceback.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time

from tau_engine.status.held_locks import held_lock_names, lock_file_name
from tau_engine.status.job_view import read_jobs
from tau_engine.status.log_tail import (
    BREAKER_LOG_NAME,
    provider_statuses,
    read_audit,
    read_breakers,
    read_providers,
)
from tau_engine.status.model import (
    JOB_STATES,
    SNAPSHOT_VERSION,
    Jobs,
    Memory,
    Missions,
    Paths,
    ProviderStatus,
    Sessions,
    StatusSnapshot,
    StoreHealth,
)
from tau_engine.status.safety_view import read_safety_view
from tau_engine.status.tables import mission_summary, read_memory, read_missions, read_sessions

__all__ = ["StoreRead", "assemble_snapshot", "mission_summary", "read_snapshot"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    Root = str | os.PathLike[str]

SCHEMA_VERSION = 6
"""The schema this tau reads: ``tau_engine.store.sqlite.schema.SCHEMA_VERSION`` (a test keeps them
equal; importing the store would load pydantic)."""
LOW_DISK_BYTES = 100 * 1024 * 1024
BUSY_TIMEOUT_S = 5.0


def find_workspace(override: str | None = None) -> str:
    """The workspace root as ``tau_engine.paths.WorkspacePaths.locate`` finds it (a test
    keeps them equal; that module loads ``dataclasses``, a third of this command's
    budget), as a string: ``tau status`` reads with ``os.path`` (``pathlib`` costs it 3 ms).
    """
    if override is not None:
        root = os.path.expanduser(override) or "."  # as Path("") is
        if not os.path.isdir(root):
            from tau_engine.errors import WorkspaceError

            raise WorkspaceError(f"workspace is not a directory: {root}")
        return os.path.realpath(root)
    here = folder = os.path.realpath(os.getcwd())
    while True:
        if os.path.isdir(os.path.join(folder, ".tau")) or os.path.exists(
            os.path.join(folder, ".git")
        ):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return here
        folder = parent


def locate_workspace(override: str | None = None) -> Path:
    """``find_workspace`` as a ``Path`` (for the screens, which load pathlib anyway)."""
    from pathlib import Path

    return Path(find_workspace(override))


def workspace_paths(root: Root, *, database: str | None = None) -> Paths:
    """The workspace's state paths; ``database`` names a store kept elsewhere (a
    PostgreSQL database, described without its URL)."""
    state = os.path.join(root, ".tau")
    logs = os.path.join(state, "logs")
    return Paths(
        workspace=os.fspath(root),
        state_dir=state,
        database=database or os.path.join(state, "tau.db"),
        logs=logs,
        audit_log=os.path.join(logs, "audit.jsonl"),
        provider_log=os.path.join(logs, "provider.jsonl"),
        breaker_log=os.path.join(logs, BREAKER_LOG_NAME),
    )


def open_readonly(db_path: Root) -> sqlite3.Connection:
    """A read-only connection to ``db_path`` (raises ``sqlite3.Error``). Anything there
    but a regular file (a named pipe planted in ``.tau/``) is refused before SQLite opens
    it: SQLite would block on a pipe."""
    try:
        mode = os.stat(db_path).st_mode
    except OSError:
        mode = None  # absent or unreadable: SQLite says so in its own words
    if mode is not None and not stat.S_ISREG(mode):
        raise sqlite3.OperationalError(f"{os.fspath(db_path)} is not a regular file")
    # URI escapes by hand: urllib.parse costs more to import than the whole read.
    path = os.fspath(db_path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    uri = f"file:{path}?mode=ro"
    conn = sqlite3.connect(
        uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False
    )
    try:
        conn.execute("PRAGMA query_only = 1")
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def _disk_free(path: str) -> int | None:
    while True:
        try:
            stats = os.statvfs(path)
        except OSError:
            parent = os.path.dirname(path)
            if parent == path:
                return None
            path = parent
            continue
        return stats.f_bavail * stats.f_frsize


def read_snapshot(
    root: Root,
    *,
    limit: int = 5,
    job_limit: int | None = None,
    now: float | None = None,
    conn: sqlite3.Connection | None = None,
) -> StatusSnapshot:
    """The snapshot of the workspace at ``root``; ``limit`` bounds each recent list
    (``job_limit`` the jobs', when the operator screen lists many more of them). A
    caller that polls (``tau watch``) passes its own read-only ``conn``."""
    now = time.time() if now is None else now
    paths = workspace_paths(root)
    db_path = paths.database
    read = StoreRead("sqlite", SCHEMA_VERSION)
    if conn is not None or os.path.exists(db_path):
        own = conn is None
        try:
            if conn is None:
                conn = open_readonly(db_path)
            try:
                conn.execute("BEGIN")
                try:
                    read.version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                    if read.version != SCHEMA_VERSION:
                        raise _SchemaMismatch(read.version)
                    held = held_lock_names(os.path.join(paths.state_dir, "locks"))
                    read.sessions = _sessions(conn, held, limit)
                    read.jobs = read_jobs(conn, now, limit if job_limit is None else job_limit)
                    read.missions = read_missions(conn, limit, read.notes)
                    read.memory = read_memory(conn)
                finally:
                    conn.execute("COMMIT")
            finally:
                if own:
                    conn.close()
            read.status = "ok"
        except _SchemaMismatch as exc:
            read.fail(f"schema version {exc.found}, this tau reads {SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as exc:
            read.fail(f"cannot read {db_path}: {exc}")
    return assemble_snapshot(root, paths, now, limit, read)


class StoreRead:
    """What one store read found: its status, schema version and the store's sections
    (empty until read), for ``assemble_snapshot``; every backend's reader fills one."""

    def __init__(self, backend: str, expected: int) -> None:
        self.backend, self.expected = backend, expected
        self.status: str = "absent"
        self.error: str | None = None
        self.version: int | None = None
        self.sessions = Sessions(count=0, running=0, latest=None, recent=())
        self.jobs = Jobs(
            total=0,
            by_state=dict.fromkeys(JOB_STATES, 0),
            stale=0,
            stuck=0,
            needs_authority=0,
            attention=(),
            recent=(),
        )
        self.missions = Missions(count=0, unfinished=0, blocked=0, latest=None, recent=())
        self.memory = Memory(entries=0, retired=0, namespaces={})
        self.notes: list[str] = []

    def fail(self, reason: str) -> None:
        """The store cannot be read: health ``error`` with ``reason`` (one line)."""
        self.status, self.error = "error", " ".join(reason.split())


def assemble_snapshot(
    root: Root, paths: Paths, now: float, limit: int, read: StoreRead
) -> StatusSnapshot:
    """The snapshot of ``read`` plus what lives in the workspace's files (disk, provider
    and audit logs, the safety profile), whichever store was read."""
    disk = _disk_free(paths.state_dir)
    providers = provider_statuses(
        read_providers(paths.provider_log), read_breakers(paths.breaker_log, now)
    )
    attention = _attention(read.status, disk, read.jobs, read.missions, providers)
    health = "error" if read.status == "error" else ("attention" if attention else "ok")
    store_health = StoreHealth(
        status=read.status,
        backend=read.backend,
        error=read.error,
        schema_version=read.version,
        schema_expected=read.expected,
        disk_free_bytes=disk,
    )
    latest = read.sessions.latest
    view = read_safety_view(root)
    return StatusSnapshot(
        schema_version=SNAPSHOT_VERSION,
        generated_at=now,
        health=health,
        store=store_health,
        attention=attention,
        sessions=read.sessions,
        jobs=read.jobs,
        missions=read.missions,
        memory=read.memory,
        providers=providers,
        audit=read_audit(paths.audit_log, limit),
        paths=paths,
        model=(latest.model or None) if latest else None,
        profile=view.profile,
        safety=view.safety,
        notes=tuple(read.notes),
    )


class _SchemaMismatch(Exception):
    def __init__(self, found: int) -> None:
        super().__init__(found)
        self.found = found


def _attention(
    store: str,
    disk: int | None,
    jobs: Jobs,
    missions: Missions,
    providers: dict[str, ProviderStatus],
) -> tuple[str, ...]:
    reasons = []
    if store == "error":
        reasons.append("store.error")
    if disk is not None and disk < LOW_DISK_BYTES:
        reasons.append("disk.low")
    if jobs.stale:
        reasons.append("jobs.stale")
    if jobs.stuck:
        reasons.append("jobs.stuck")
    if jobs.needs_authority:
        reasons.append("jobs.needs_authority")
    if missions.latest is not None and missions.latest.outcome == "blocked":
        reasons.append("mission.blocked")
    if any(p.breaker == "open" for p in providers.values()):
        reasons.append("providers.breaker_open")
    return tuple(reasons)


def _sessions(conn: sqlite3.Connection, held: set[str] | None, limit: int) -> Sessions:
    """SQLite's sessions: running is a held lock file (named after its session)."""
    if held is None:
        return read_sessions(conn, limit, None, None)
    # Every other lock file there is a session's (named after it).
    running = sum(1 for name in held if name != "store.lock")
    return read_sessions(conn, limit, lambda sid: lock_file_name(sid) in held, running)
