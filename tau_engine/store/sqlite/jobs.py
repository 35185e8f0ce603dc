"""``SqliteJobQueue``: the job queue in the workspace's ``.tau/tau.db``.

Every write is one ``BEGIN IMMEDIATE`` transaction. A claim is a single
``UPDATE … RETURNING`` that picks the next claimable row in a subquery, so the
row chosen and the row taken are the same under SQLite's one-writer lock; the
attempt row and the log entry are written in the same transaction. Worker
writes are ``UPDATE … WHERE id = ? AND fence = ? AND state = 'running'``: a
stale fence matches no row, and the transaction rolls back with
``LeaseLostError``.

The connection's busy timeout is short (``BUSY_TIMEOUT_MS``): a busy database
raises ``QueueBusyError`` quickly and the caller backs off with jitter
(``jobs/queue.py``), so many workers do not retry in lockstep. Idle workers
wait on ``PRAGMA data_version``, which changes when another connection commits.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from tau_engine.errors import QueueBusyError, StoreError, TauError
from tau_engine.paths import WorkspacePaths
from tau_engine.store import job_rules as rules
from tau_engine.store.api import OwnerAlive
from tau_engine.store.job_models import (
    AttemptRecord,
    Claim,
    Fence,
    JobEvent,
    JobRecord,
    JobState,
    LeaseOwner,
    NewJob,
    RecoveredJob,
    RecoveryReport,
    SubmitResult,
)
from tau_engine.store.job_queue_threads import ThreadedJobQueue
from tau_engine.store.job_rows import (
    ATTEMPT_COLUMNS,
    EVENT_COLUMNS,
    LIVE_SQL,
    SETTLED_SQL,
    attempt_from_row,
    event_from_row,
    job_from_row,
    readable,
    readable_jobs,
)
from tau_engine.store.session_lock import StoreLock
from tau_engine.store.sqlite import jobs_worker as worker_sql
from tau_engine.store.sqlite.errors import refuse_if_damaged, store_error
from tau_engine.store.sqlite.jobs_admin import block, cancel, recover_one
from tau_engine.store.sqlite.jobs_rows import (
    FENCED,
    SELECT_JOB,
    append_event,
    find_job,
    require_job,
)
from tau_engine.store.sqlite.schema import connect, migrate

BUSY_TIMEOUT_MS = 50
_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED (extended codes keep these low bits)


class SqliteJobQueue(ThreadedJobQueue):
    """The ``JobQueue`` on SQLite. Open with ``SqliteJobQueue.open(paths)``."""

    _writes = worker_sql

    def __init__(
        self,
        conn: sqlite3.Connection,
        db_path: Path,
        *,
        clock: Callable[[], float] = time.time,
        store_lock: StoreLock | None = None,
    ) -> None:
        self.db_path = db_path
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.RLock()
        self._clock = clock
        self._store_lock = store_lock

    @classmethod
    def open(
        cls, paths: WorkspacePaths, *, clock: Callable[[], float] = time.time
    ) -> SqliteJobQueue:
        """Open (creating or migrating) the workspace's database. Blocking.

        It holds the store open (``StoreLock``, shared) as a ``SessionStore`` does, so
        ``tau sessions recover`` never replaces the database under a worker."""
        paths.ensure()
        store_lock = StoreLock.shared(paths.locks_dir)
        try:
            conn = connect(paths.db_path)
            try:
                migrate(conn, paths.db_path)
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            except BaseException:
                conn.close()
                raise
        except BaseException:
            if store_lock is not None:
                store_lock.release()
            raise
        return cls(conn, paths.db_path, clock=clock, store_lock=store_lock)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._store_lock is not None:
                self._store_lock.release()
                self._store_lock = None

    # -- transactions ------------------------------------------------------------
    @contextmanager
    def _txn(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError(f"the job queue {self.db_path} is closed")
            with self._translate():
                if write:
                    refuse_if_damaged(self.db_path)
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                try:
                    conn.execute("COMMIT")
                except sqlite3.OperationalError:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except TauError:
            raise
        except sqlite3.OperationalError as exc:
            if (
                getattr(exc, "sqlite_errorcode", 0) & 0xFF in _BUSY_CODES
                or "locked" in str(exc)
                or "busy" in str(exc)
            ):
                raise QueueBusyError(f"{self.db_path} is busy ({exc})") from exc
            raise store_error(self.db_path, exc) from exc
        except sqlite3.Error as exc:
            # A damaged file is remembered, and every later write refused (sessions.md).
            raise store_error(self.db_path, exc) from exc

    @property
    def closed(self) -> bool:
        return self._conn is None

    def describe(self) -> str:
        return str(self.db_path)

    # -- submitting and reading ----------------------------------------------------
    def _submit(self, job: NewJob) -> SubmitResult:
        now = self._clock()
        with self._txn() as conn:
            if job.key is not None:
                row = conn.execute(
                    f"{SELECT_JOB} WHERE dedup_key = ? AND state IN {LIVE_SQL}", (job.key,)
                ).fetchone()
                if row is not None:
                    return rules.existing_for_key(job_from_row(row), job)
            conn.execute(
                "INSERT INTO jobs (id, kind, inputs, signature, dedup_key, priority, state, "
                "reason, max_attempts, next_run_at, replay_of, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    job.kind,
                    json.dumps(job.inputs),
                    job.signature,
                    job.key,
                    job.priority,
                    job.reason,
                    job.max_attempts,
                    now,
                    job.replay_of,
                    now,
                    now,
                ),
            )
            append_event(conn, job.id, "submitted", now, 0, rules.submitted_data(job))
            return SubmitResult(job=require_job(conn, job.id), created=True)

    def _get(self, id_or_prefix: str) -> JobRecord:
        with self._txn(write=False) as conn:
            return find_job(conn, id_or_prefix)

    def _list(self, states: set[JobState] | None, limit: int) -> list[JobRecord]:
        where, params = "", []
        if states:
            where = f"WHERE state IN ({', '.join('?' for _ in states)})"
            params = [state.value for state in sorted(states)]
        with self._txn(write=False) as conn:
            rows = conn.execute(
                f"{SELECT_JOB} {where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return readable_jobs(rows)

    def _attempts(self, job_id: str) -> list[AttemptRecord]:
        with self._txn(write=False) as conn:
            rows = conn.execute(
                f"SELECT {ATTEMPT_COLUMNS} FROM job_attempts WHERE job_id = ? ORDER BY attempt",
                (job_id,),
            ).fetchall()
        return readable(attempt_from_row, rows)

    def _events(self, job_id: str, after_seq: int) -> list[JobEvent]:
        with self._txn(write=False) as conn:
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq",
                (job_id, after_seq),
            ).fetchall()
        return readable(event_from_row, rows)

    # -- the worker's side (SQL in ``jobs_worker.py``) -----------------------------------
    def _claim(self, owner: LeaseOwner, lease_s: float) -> Claim | None:
        now = self._clock()
        with self._txn() as conn:
            return worker_sql.claim_next(conn, owner, lease_s, now)

    def _writing(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._txn()

    def _fence_holds(self, fence: Fence) -> bool:
        with self._txn(write=False) as conn:
            row = conn.execute(
                f"SELECT 1 FROM jobs {FENCED}", {"id": fence.job_id, "fence": fence.token}
            ).fetchone()
        return row is not None

    # -- recovery and the operator's verbs -----------------------------------------
    def _recover(self, is_alive: OwnerAlive) -> RecoveryReport:
        """One pass; SQLite's one writer at a time means each job's change is its own
        short transaction, and a second sweeper re-reads the row before changing it."""
        now = self._clock()
        with self._txn(write=False) as conn:
            rows = conn.execute(
                f"{SELECT_JOB} WHERE state = 'running' AND lease_expires_at < ?", (now,)
            ).fetchall()
        report = RecoveryReport()
        for job in readable_jobs(rows):
            if job.owner is not None and is_alive(job.owner):
                report.jobs.append(rules.left_alone(job, now))
                continue
            done = self._recover_one(job, now)
            if done is not None:
                report.jobs.append(done)
        return report

    def _recover_one(self, seen: JobRecord, now: float) -> RecoveredJob | None:
        with self._txn() as conn:
            return recover_one(conn, seen, now)

    def _cancel(self, job_id: str, is_alive: OwnerAlive) -> JobRecord:
        now = self._clock()
        with self._txn() as conn:
            return cancel(conn, job_id, now, is_alive)

    def _block(self, job_id: str, message: str) -> JobRecord:
        now = self._clock()
        with self._txn() as conn:
            return block(conn, job_id, message, now)

    def _append(self, job_id: str, event_type: str, data: dict[str, Any]) -> None:
        now = self._clock()
        with self._txn() as conn:
            job = require_job(conn, job_id)
            append_event(conn, job.id, event_type, now, job.attempt, data)

    def _prune(self, finished_before: float) -> list[str]:
        with self._txn() as conn:
            rows = conn.execute(
                f"DELETE FROM jobs WHERE state IN {SETTLED_SQL} AND finished_at < ? RETURNING id",
                (finished_before,),
            ).fetchall()
        return [row[0] for row in rows]

    def _changes(self) -> int:
        """``PRAGMA data_version``: it moves when another connection commits."""
        with self._lock, self._translate():
            conn = self._conn
            if conn is None:
                raise StoreError(f"the job queue {self.db_path} is closed")
            return int(conn.execute("PRAGMA data_version").fetchone()[0])
