"""``PostgresJobQueue``: the job queue in a PostgreSQL database, shared by workers on
any number of machines, with SQLite's semantics (``JobQueue`` in ``store/api.py``).

The queue of one workspace (``store/workspace_key.py``) sees, claims and changes that
workspace's jobs only. Claims and the worker's fenced writes are in ``jobs_worker.py``;
recovery, cancel and block, each reading what it changes ``FOR UPDATE``, in
``jobs_admin.py``; the decisions behind them in ``store/job_rules.py``.

The connection is psycopg's synchronous one, used from a worker thread under a lock as
SQLite's is (``ThreadedJobQueue``): ``open_jobs`` is called outside any event loop, and
one queue serves the loops of several ``asyncio.run`` calls. Idle workers wait on
``LISTEN tau_jobs`` (``NOTIFY`` from submits, requeues, recoveries and cancels), polled
on a second connection opened at the first wait.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

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
from tau_engine.store.postgres import jobs_worker as worker_sql
from tau_engine.store.postgres.connection import Connection, connect, translate_errors
from tau_engine.store.postgres.jobs_admin import (
    FENCED,
    IN_WORKSPACE,
    NOTIFY,
    RECOVERY_LOCK,
    SELECT_JOB,
    append_event,
    block,
    cancel,
    find_job,
    recover_one,
    require_job,
)
from tau_engine.store.postgres.schema import migrate


class PostgresJobQueue(ThreadedJobQueue):
    """The ``JobQueue`` of one workspace (``workspace``: its key) on PostgreSQL. Open
    with ``PostgresJobQueue.open(url, where, workspace=...)``."""

    _writes = worker_sql

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
    def _txn(self) -> Iterator[Connection]:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError(f"the job queue in {self.where} is closed")
            with translate_errors(self.where), conn.transaction():
                yield conn

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
            if job.key is not None:
                row = conn.execute(
                    f"{SELECT_JOB} WHERE dedup_key = %s AND state IN {LIVE_SQL}{IN_WORKSPACE}",
                    (job.key, self.workspace),
                ).fetchone()
                if row is not None:
                    return rules.existing_for_key(job_from_row(row), job)
            conn.execute(
                "INSERT INTO jobs (workspace, id, kind, inputs, signature, dedup_key, priority, "
                "state, reason, max_attempts, next_run_at, replay_of, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, 'queued', %s, %s, %s, %s, %s, %s)",
                (
                    self.workspace,
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
            conn.execute(NOTIFY)
            return SubmitResult(job=require_job(conn, job.id), created=True)

    def _get(self, id_or_prefix: str) -> JobRecord:
        with self._txn() as conn:
            return find_job(conn, id_or_prefix, self.workspace)

    def _list(self, states: set[JobState] | None, limit: int) -> list[JobRecord]:
        where = "WHERE workspace = %s"
        params: tuple[Any, ...] = (self.workspace,)
        if states:
            where += " AND state = ANY(%s)"
            params += ([state.value for state in sorted(states)],)
        with self._txn() as conn:
            rows = conn.execute(
                f"{SELECT_JOB} {where} ORDER BY created_at DESC, seq DESC LIMIT %s",
                (*params, limit),
            ).fetchall()
        return readable_jobs(rows)

    def _attempts(self, job_id: str) -> list[AttemptRecord]:
        columns = ATTEMPT_COLUMNS.replace("detail", "detail::text")
        with self._txn() as conn:
            rows = conn.execute(
                f"SELECT {columns} FROM job_attempts WHERE job_id = %s ORDER BY attempt", (job_id,)
            ).fetchall()
        return readable(attempt_from_row, rows)

    def _events(self, job_id: str, after_seq: int) -> list[JobEvent]:
        with self._txn() as conn:
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM job_events WHERE job_id = %s "
                "AND seq > %s ORDER BY seq",
                (job_id, after_seq),
            ).fetchall()
        return readable(event_from_row, rows)

    # -- the worker's side (SQL in ``jobs_worker.py``) -----------------------------------
    def _claim(self, owner: LeaseOwner, lease_s: float) -> Claim | None:
        now = self._clock()
        with self._txn() as conn:
            return worker_sql.claim_next(conn, self.workspace, owner, lease_s, now)

    def _writing(self) -> AbstractContextManager[Connection]:
        return self._txn()

    def _fence_holds(self, fence: Fence) -> bool:
        with self._txn() as conn:
            row = conn.execute(
                f"SELECT 1 FROM jobs {FENCED}", {"id": fence.job_id, "fence": fence.token}
            ).fetchone()
        return row is not None

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
            rows = conn.execute(
                f"{SELECT_JOB} WHERE state = 'running' AND lease_expires_at < %s{IN_WORKSPACE}",
                (now, self.workspace),
            ).fetchall()
            for job in readable_jobs(rows):
                if job.owner is not None and is_alive(job.owner):
                    report.jobs.append(rules.left_alone(job, now))
                    continue
                done = recover_one(conn, job, now)
                if done is not None:
                    report.jobs.append(done)
        return report

    def _cancel(self, job_id: str, is_alive: OwnerAlive) -> JobRecord:
        now = self._clock()
        with self._txn() as conn:
            return cancel(conn, job_id, self.workspace, now, is_alive)

    def _block(self, job_id: str, message: str) -> JobRecord:
        now = self._clock()
        with self._txn() as conn:
            return block(conn, job_id, self.workspace, message, now)

    def _append(self, job_id: str, event_type: str, data: dict[str, Any]) -> None:
        now = self._clock()
        with self._txn() as conn:
            job = require_job(conn, job_id, workspace=self.workspace)
            append_event(conn, job.id, event_type, now, job.attempt, data)

    def _prune(self, finished_before: float) -> list[str]:
        with self._txn() as conn:
            rows = conn.execute(
                f"DELETE FROM jobs WHERE state IN {SETTLED_SQL} AND finished_at < %s"
                f"{IN_WORKSPACE} RETURNING id",
                (finished_before, self.workspace),
            ).fetchall()
        return [row[0] for row in rows]

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
