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
from tau_engine.store.session_lock import StoreLock
from tau_engine.store.sql import jobs_admin, jobs_queue
from tau_engine.store.sql.jobs_rows import find_job
from tau_engine.store.sql.jobs_worker import JobWrites
from tau_engine.store.sqlite.dialect import SQLITE_JOBS
from tau_engine.store.sqlite.errors import refuse_if_damaged, store_error
from tau_engine.store.sqlite.schema import connect, migrate

BUSY_TIMEOUT_MS = 50
_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED (extended codes keep these low bits)


class SqliteJobQueue(ThreadedJobQueue):
    """The ``JobQueue`` on SQLite. Open with ``SqliteJobQueue.open(paths)``."""

    _writes = JobWrites(SQLITE_JOBS)

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
            return jobs_queue.submit(conn, SQLITE_JOBS, None, job, now)

    def _get(self, id_or_prefix: str) -> JobRecord:
        with self._txn(write=False) as conn:
            return find_job(conn, SQLITE_JOBS, id_or_prefix, None)

    def _list(self, states: set[JobState] | None, limit: int) -> list[JobRecord]:
        with self._txn(write=False) as conn:
            return jobs_queue.list_jobs(conn, SQLITE_JOBS, None, states, limit)

    def _attempts(self, job_id: str) -> list[AttemptRecord]:
        with self._txn(write=False) as conn:
            return jobs_queue.attempts(conn, SQLITE_JOBS, job_id)

    def _events(self, job_id: str, after_seq: int) -> list[JobEvent]:
        with self._txn(write=False) as conn:
            return jobs_queue.events(conn, job_id, after_seq)

    # -- the worker's side (SQL in ``store/sql/jobs_worker.py``) -------------------------
    def _claim(self, owner: LeaseOwner, lease_s: float) -> Claim | None:
        now = self._clock()
        with self._txn() as conn:
            return self._writes.claim_next(conn, None, owner, lease_s, now)

    def _writing(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._txn()

    def _fence_holds(self, fence: Fence) -> bool:
        with self._txn(write=False) as conn:
            return jobs_queue.fence_holds(conn, fence)

    # -- recovery and the operator's verbs -----------------------------------------
    def _recover(self, is_alive: OwnerAlive) -> RecoveryReport:
        """One pass; SQLite's one writer at a time means each job's change is its own
        short transaction, and a second sweeper re-reads the row before changing it."""
        now = self._clock()
        with self._txn(write=False) as conn:
            seen = jobs_queue.expired(conn, None, now)
        report = RecoveryReport()
        for job in seen:
            if job.owner is not None and is_alive(job.owner):
                report.jobs.append(rules.left_alone(job, now))
                continue
            done = self._recover_one(job, now)
            if done is not None:
                report.jobs.append(done)
        return report

    def _recover_one(self, seen: JobRecord, now: float) -> RecoveredJob | None:
        with self._txn() as conn:
            return jobs_admin.recover_one(conn, SQLITE_JOBS, seen, now)

    def _cancel(self, job_id: str, is_alive: OwnerAlive) -> JobRecord:
        now = self._clock()
        with self._txn() as conn:
            return jobs_admin.cancel(conn, SQLITE_JOBS, job_id, None, now, is_alive)

    def _block(self, job_id: str, message: str) -> JobRecord:
        now = self._clock()
        with self._txn() as conn:
            return jobs_admin.block(conn, SQLITE_JOBS, job_id, None, message, now)

    def _append(self, job_id: str, event_type: str, data: dict[str, Any]) -> None:
        now = self._clock()
        with self._txn() as conn:
            jobs_queue.append(conn, SQLITE_JOBS, None, job_id, event_type, data, now)

    def _prune(self, finished_before: float) -> list[str]:
        with self._txn() as conn:
            return jobs_queue.prune(conn, None, finished_before)

    def _changes(self) -> int:
        """``PRAGMA data_version``: it moves when another connection commits."""
        with self._lock, self._translate():
            conn = self._conn
            if conn is None:
                raise StoreError(f"the job queue {self.db_path} is closed")
            return int(conn.execute("PRAGMA data_version").fetchone()[0])
