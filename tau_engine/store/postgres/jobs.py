"""``PostgresJobQueue``: the job queue in a PostgreSQL database, shared by workers on
any number of machines, with SQLite's semantics (``JobQueue`` in ``store/api.py``).

The queue of one workspace (``store/workspace_key.py``) sees, claims and changes that
workspace's jobs only. Its SQL is the SQLite queue's (``store/sql/jobs_*.py``) in
PostgreSQL's dialect (``POSTGRES_JOBS``: row locks, ``jsonb``, ``NOTIFY``), written with
``?`` placeholders that ``_QmarkJobConnection`` rewrites; the decisions behind it are in
``store/job_rules.py``.

The connection is psycopg's synchronous one, used from a worker thread under a lock as
SQLite's is (``ThreadedJobQueue``): ``open_jobs`` is called outside any event loop, and
one queue serves the loops of several ``asyncio.run`` calls. Idle workers wait on
``LISTEN tau_jobs`` (``NOTIFY`` from submits, requeues, recoveries and cancels), polled
on a second connection opened at the first wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Any

from psycopg import Cursor
from psycopg import errors as pg_errors

from tau_engine.errors import StoreError
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
    RecoveryReport,
    SubmitResult,
)
from tau_engine.store.job_queue_threads import ThreadedJobQueue
from tau_engine.store.postgres.connection import Connection, connect, translate_errors
from tau_engine.store.postgres.database import to_format
from tau_engine.store.postgres.dialect import POSTGRES_JOBS
from tau_engine.store.postgres.schema import migrate
from tau_engine.store.sql import jobs_admin, jobs_queue
from tau_engine.store.sql.jobs_rows import find_job
from tau_engine.store.sql.jobs_worker import JobWrites

RECOVERY_LOCK = "SELECT pg_try_advisory_xact_lock(1952544095, hashtext(?))"
"""Taken by a recovery sweep for its transaction: one sweeper per workspace at a time
(the first key is "tau_" in ASCII; the second, the workspace key's hash)."""

_format = lru_cache(maxsize=256)(to_format)
"""The job SQL is a few dozen fixed statements: each is rewritten once."""


class _QmarkJobConnection:
    """The queue's psycopg connection taking the shared SQL's ``?``/``:name``
    placeholders (``store/postgres/database.py``'s ``to_format``); parameters are passed
    as they are."""

    def __init__(self, raw: Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor[Any]:
        # Always with parameters: psycopg then reads ``to_format``'s ``%%`` as ``%``.
        return self.raw.execute(_format(sql), parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(_format(sql), list(parameters))


class PostgresJobQueue(ThreadedJobQueue):
    """The ``JobQueue`` of one workspace (``workspace``: its key) on PostgreSQL. Open
    with ``PostgresJobQueue.open(url, where, workspace=...)``."""

    _writes = JobWrites(POSTGRES_JOBS)

    def __init__(
        self,
        conn: Connection,
        url: str,
        where: str,
        *,
        workspace: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.where = where
        self.workspace = workspace
        self._url = url
        self._conn: Connection | None = conn
        self._listener: Connection | None = None
        self._lock = threading.RLock()
        self._clock = clock
        self._wakeups = 0

    @classmethod
    def open(
        cls, url: str, where: str, *, workspace: str, clock: Callable[[], float] = time.time
    ) -> PostgresJobQueue:
        """Connect and migrate. Blocking. ``where`` names the database in messages."""
        conn = connect(url, where)
        try:
            with translate_errors(where):
                migrate(conn, where)
        except BaseException:
            conn.close()
            raise
        return cls(conn, url, where, workspace=workspace, clock=clock)

    def close(self) -> None:
        with self._lock:
            for conn in (self._conn, self._listener):
                if conn is not None:
                    conn.close()
            self._conn = self._listener = None

    @property
    def closed(self) -> bool:
        return self._conn is None

    def describe(self) -> str:
        return self.where

    @contextmanager
    def _txn(self) -> Iterator[_QmarkJobConnection]:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError(f"the job queue in {self.where} is closed")
            with translate_errors(self.where), conn.transaction():
                yield _QmarkJobConnection(conn)

    # -- submitting and reading ----------------------------------------------------
    def _submit(self, job: NewJob) -> SubmitResult:
        try:
            return self._submit_once(job)
        except StoreError as exc:
            # Two submits of one key at once: the second insert meets the first's row in
            # the unique index of live keys. Its next look finds that job.
            if job.key is None or not isinstance(exc.__cause__, pg_errors.UniqueViolation):
                raise
        return self._submit_once(job)

    def _submit_once(self, job: NewJob) -> SubmitResult:
        now = self._clock()
        with self._txn() as conn:
            return jobs_queue.submit(conn, POSTGRES_JOBS, self.workspace, job, now)

    def _get(self, id_or_prefix: str) -> JobRecord:
        with self._txn() as conn:
            return find_job(conn, POSTGRES_JOBS, id_or_prefix, self.workspace)

    def _list(self, states: set[JobState] | None, limit: int) -> list[JobRecord]:
        with self._txn() as conn:
            return jobs_queue.list_jobs(conn, POSTGRES_JOBS, self.workspace, states, limit)

    def _attempts(self, job_id: str) -> list[AttemptRecord]:
        with self._txn() as conn:
            return jobs_queue.attempts(conn, POSTGRES_JOBS, job_id)

    def _events(self, job_id: str, after_seq: int) -> list[JobEvent]:
        with self._txn() as conn:
            return jobs_queue.events(conn, job_id, after_seq)

    # -- the worker's side (SQL in ``store/sql/jobs_worker.py``) -------------------------
    def _claim(self, owner: LeaseOwner, lease_s: float) -> Claim | None:
        now = self._clock()
        with self._txn() as conn:
            return self._writes.claim_next(conn, self.workspace, owner, lease_s, now)

    def _writing(self) -> AbstractContextManager[_QmarkJobConnection]:
        return self._txn()

    def _fence_holds(self, fence: Fence) -> bool:
        with self._txn() as conn:
            return jobs_queue.fence_holds(conn, fence)

    # -- recovery and the operator's verbs -----------------------------------------
    def _recover(self, is_alive: OwnerAlive) -> RecoveryReport:
        """One sweep, in one transaction under the workspace's recovery lock: a second
        sweeper (another worker, ``tau jobs recover`` on another machine) finds the lock
        taken and skips, instead of judging the same expired leases at the same time."""
        now = self._clock()
        report = RecoveryReport()
        with self._txn() as conn:
            taken = conn.execute(RECOVERY_LOCK, (self.workspace,)).fetchone()
            if taken is None or not taken[0]:
                report.skipped = True
                return report
            for job in jobs_queue.expired(conn, self.workspace, now):
                if job.owner is not None and is_alive(job.owner):
                    report.jobs.append(rules.left_alone(job, now))
                    continue
                done = jobs_admin.recover_one(conn, POSTGRES_JOBS, job, now)
                if done is not None:
                    report.jobs.append(done)
        return report

    def _cancel(self, job_id: str, is_alive: OwnerAlive) -> JobRecord:
        now = self._clock()
        with self._txn() as conn:
            return jobs_admin.cancel(conn, POSTGRES_JOBS, job_id, self.workspace, now, is_alive)

    def _block(self, job_id: str, message: str) -> JobRecord:
        now = self._clock()
        with self._txn() as conn:
            return jobs_admin.block(conn, POSTGRES_JOBS, job_id, self.workspace, message, now)

    def _append(self, job_id: str, event_type: str, data: dict[str, Any]) -> None:
        now = self._clock()
        with self._txn() as conn:
            jobs_queue.append(conn, POSTGRES_JOBS, self.workspace, job_id, event_type, data, now)

    def _prune(self, finished_before: float) -> list[str]:
        with self._txn() as conn:
            return jobs_queue.prune(conn, self.workspace, finished_before)

    def _changes(self) -> int:
        """How many wake-ups this queue has seen (listening from the first call on)."""
        with self._lock, translate_errors(self.where):
            if self._conn is None:
                raise StoreError(f"the job queue in {self.where} is closed")
            if self._listener is None:
                self._listener = connect(self._url, self.where)
                self._listener.execute("LISTEN tau_jobs")
            self._wakeups += sum(1 for _ in self._listener.notifies(timeout=0))
            return self._wakeups
