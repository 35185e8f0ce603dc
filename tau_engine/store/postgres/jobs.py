"""``PostgresJobQueue``: the job queue in a PostgreSQL database, shared by workers on
any number of machines, with SQLite's semantics (``JobQueue`` in ``store/api.py``).

A claim is one ``UPDATE … WHERE id = (SELECT … FOR UPDATE) RETURNING``:
claimers pass over rows another claimer holds instead of queueing behind it, and the
row chosen is the row taken. Worker writes are ``UPDATE … WHERE id AND fence AND state =
'running'``: one that waited for a recovery's row lock re-reads the row, matches
nothing, and the transaction rolls back with ``LeaseLostError``. Reads that a change
depends on are taken ``FOR UPDATE`` (``jobs_admin.py``).

The connection is psycopg's synchronous one, used from a worker thread under a lock as
SQLite's is: ``open_jobs`` is called outside any event loop, and one queue serves the
loops of several ``asyncio.run`` calls. Idle workers wait on ``LISTEN tau_jobs``
(``NOTIFY`` from submits, requeues, recoveries and cancels), polled on a second
connection opened at the first wait.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from psycopg import errors as pg_errors

from tau_engine.errors import LeaseLostError, StoreError, UsageError
from tau_engine.store.api import OwnerAlive
from tau_engine.store.job_models import (
    AttemptDetail,
    AttemptRecord,
    Claim,
    Fence,
    HeartbeatAck,
    JobEvent,
    JobRecord,
    JobState,
    LeaseOwner,
    NewJob,
    Outcome,
    Progress,
    Reason,
    RecoveredJob,
    RecoveryReport,
    SubmitResult,
)
from tau_engine.store.job_rows import (
    ATTEMPT_COLUMNS,
    CLAIMABLE_SQL,
    EVENT_COLUMNS,
    LIVE_SQL,
    SETTLED_SQL,
    UnreadableRow,
    attempt_from_row,
    event_from_row,
    job_from_row,
    owner_json,
    readable,
    readable_jobs,
)
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
    end_attempt,
    find_job,
    recover_one,
    require_job,
)
from tau_engine.store.postgres.schema import migrate

P = ParamSpec("P")
T = TypeVar("T")
WAIT_POLL_S = 0.02

_CLAIM = f"""
UPDATE jobs SET state = 'running', attempt = attempt + 1, fence = fence + 1,
    owner = %(owner)s, lease_expires_at = %(now)s + %(lease)s, heartbeat_at = %(now)s,
    progress_at = %(now)s, phase = 'claimed', last_line = '', next_run_at = NULL,
    started_at = coalesce(started_at, %(now)s), updated_at = %(now)s
WHERE id = (SELECT id FROM jobs WHERE workspace = %(workspace)s
            AND state IN {CLAIMABLE_SQL} AND next_run_at <= %(now)s
            AND cancel_requested_at IS NULL ORDER BY priority DESC, seq LIMIT 1
            FOR UPDATE SKIP LOCKED)
RETURNING id
"""


class PostgresJobQueue:
    """The ``JobQueue`` of one workspace (``workspace``: its key, ``store/workspace_key.py``)
    on PostgreSQL: it sees, claims and changes that workspace's jobs only. Open with
    ``PostgresJobQueue.open(url, where, workspace=...)``."""

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

    # -- transactions ------------------------------------------------------------
    @contextmanager
    def _txn(self) -> Iterator[Connection]:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError(f"the job queue in {self.where} is closed")
            with translate_errors(self.where), conn.transaction():
                yield conn

    async def _run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._conn is None:
            raise StoreError(f"the job queue in {self.where} is closed")
        return await asyncio.to_thread(func, *args, **kwargs)

    # -- submitting and reading ----------------------------------------------------
    async def submit(self, job: NewJob) -> SubmitResult:
        return await self._run(self._submit, job)

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
                    held = job_from_row(row)
                    if held.kind != job.kind or held.inputs != job.inputs:
                        raise UsageError(
                            f"key '{job.key}' is held by live job {held.id[:8]} "
                            f"({held.state}) with other inputs; wait for it or cancel it"
                        )
                    return SubmitResult(job=held, created=False)
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
            append_event(
                conn,
                job.id,
                "submitted",
                now,
                0,
                {
                    "kind": job.kind,
                    "key": job.key,
                    "priority": job.priority,
                    "max_attempts": job.max_attempts,
                    "replay_of": job.replay_of,
                },
            )
            conn.execute(NOTIFY)
            return SubmitResult(job=require_job(conn, job.id), created=True)

    async def get(self, id_or_prefix: str) -> JobRecord:
        return await self._run(self._read, find_job, id_or_prefix, self.workspace)

    def _read(self, query: Callable[..., T], *args: Any) -> T:
        with self._txn() as conn:
            return query(conn, *args)

    async def list_jobs(
        self, *, states: set[JobState] | None = None, limit: int = 100
    ) -> list[JobRecord]:
        return await self._run(self._list, states, limit)

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

    async def attempts(self, job_id: str) -> list[AttemptRecord]:
        return await self._run(self._attempts, job_id)

    def _attempts(self, job_id: str) -> list[AttemptRecord]:
        columns = ATTEMPT_COLUMNS.replace("detail", "detail::text")
        with self._txn() as conn:
            rows = conn.execute(
                f"SELECT {columns} FROM job_attempts WHERE job_id = %s ORDER BY attempt", (job_id,)
            ).fetchall()
        return readable(attempt_from_row, rows)

    async def events(self, job_id: str, after_seq: int = 0) -> list[JobEvent]:
        return await self._run(self._events, job_id, after_seq)

    def _events(self, job_id: str, after_seq: int) -> list[JobEvent]:
        with self._txn() as conn:
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM job_events WHERE job_id = %s "
                "AND seq > %s ORDER BY seq",
                (job_id, after_seq),
            ).fetchall()
        return readable(event_from_row, rows)

    # -- the worker's side -----------------------------------------------------------
    async def claim(self, owner: LeaseOwner, lease_s: float) -> Claim | None:
        return await self._run(self._claim, owner, lease_s)

    def _claim(self, owner: LeaseOwner, lease_s: float) -> Claim | None:
        now = self._clock()
        with self._txn() as conn:
            while True:
                row = conn.execute(
                    _CLAIM,
                    {
                        "owner": owner_json(owner),
                        "now": now,
                        "lease": lease_s,
                        "workspace": self.workspace,
                    },
                ).fetchone()
                if row is None:
                    return None
                try:
                    job = require_job(conn, row[0])
                    break
                except UnreadableRow as exc:
                    # Not tau's (or damaged): fail it, so no worker takes it again.
                    conn.execute(
                        "UPDATE jobs SET state = 'failed', reason = %s, owner = NULL, "
                        "lease_expires_at = NULL, finished_at = %s, last_error = %s "
                        "WHERE id = %s",
                        (Reason.UNREADABLE, now, str(exc), row[0]),
                    )
            conn.execute(
                "INSERT INTO job_attempts (job_id, attempt, fence, reason, owner, started_at) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (job.id, job.attempt, job.fence, job.reason, owner_json(owner), now),
            )
            append_event(
                conn,
                job.id,
                "claimed",
                now,
                job.attempt,
                {
                    "worker": owner.worker,
                    "pid": owner.pid,
                    "host": owner.host,
                    "fence": job.fence,
                    "reason": job.reason,
                },
            )
        return Claim(job=job, fence=Fence(job_id=job.id, token=job.fence, attempt=job.attempt))

    async def heartbeat(self, fence: Fence, lease_s: float, progress: Progress) -> HeartbeatAck:
        return await self._run(self._heartbeat, fence, lease_s, progress)

    def _heartbeat(self, fence: Fence, lease_s: float, progress: Progress) -> HeartbeatAck:
        now = self._clock()
        with self._txn() as conn:
            return self._touch(conn, fence, now, lease_s, progress)

    def _touch(
        self,
        conn: Connection,
        fence: Fence,
        now: float,
        lease_s: float | None,
        progress: Progress | None,
        session_id: str | None = None,
    ) -> HeartbeatAck:
        """The fenced update every worker write starts with; raises ``LeaseLostError``."""
        sets = ["updated_at = %(now)s", "session_id = coalesce(%(session)s, session_id)"]
        if lease_s is not None:
            sets += ["lease_expires_at = %(now)s + %(lease)s", "heartbeat_at = %(now)s"]
        if progress is not None:
            sets += [
                "progress_at = CASE WHEN phase != %(phase)s OR last_line != %(line)s "
                "THEN %(now)s ELSE progress_at END",
                "phase = %(phase)s",
                "last_line = %(line)s",
            ]
        row = conn.execute(
            f"UPDATE jobs SET {', '.join(sets)} {FENCED} "
            "RETURNING lease_expires_at, cancel_requested_at",
            {
                "now": now,
                "lease": lease_s,
                "session": session_id,
                "id": fence.job_id,
                "fence": fence.token,
                "phase": progress.phase if progress else "",
                "line": progress.last_line if progress else "",
            },
        ).fetchone()
        if row is None:
            raise LeaseLostError(
                f"job {fence.job_id[:8]}: fence {fence.token} is stale; "
                "another worker or a recovery owns the job now"
            )
        return HeartbeatAck(lease_expires_at=row[0], cancel_requested=row[1] is not None)

    async def record(
        self,
        fence: Fence,
        event_type: str,
        data: dict[str, Any],
        *,
        progress: Progress | None = None,
        session_id: str | None = None,
        child_pid: int | None = None,
        detail: AttemptDetail | None = None,
    ) -> HeartbeatAck:
        return await self._run(
            self._record, fence, event_type, data, progress, session_id, child_pid, detail
        )

    def _record(
        self,
        fence: Fence,
        event_type: str,
        data: dict[str, Any],
        progress: Progress | None,
        session_id: str | None,
        child_pid: int | None,
        detail: AttemptDetail | None,
    ) -> HeartbeatAck:
        now = self._clock()
        with self._txn() as conn:
            ack = self._touch(conn, fence, now, None, progress, session_id)
            if session_id is not None or child_pid is not None or detail:
                conn.execute(
                    "UPDATE job_attempts SET session_id = coalesce(%s, session_id), "
                    "child_pid = coalesce(%s, child_pid), detail = detail || %s::jsonb "
                    "WHERE job_id = %s AND attempt = %s",
                    (session_id, child_pid, json.dumps(detail or {}), fence.job_id, fence.attempt),
                )
            append_event(conn, fence.job_id, event_type, now, fence.attempt, data)
            return ack

    async def finish(self, fence: Fence, outcome: Outcome) -> JobRecord:
        return await self._run(self._finish, fence, outcome)

    def _finish(self, fence: Fence, outcome: Outcome) -> JobRecord:
        now = self._clock()
        with self._txn() as conn:
            self._touch(conn, fence, now, None, None)
            job = require_job(conn, fence.job_id)
            state, reason = outcome.state, outcome.reason
            if state is JobState.QUEUED and job.attempt >= job.max_attempts:
                state, reason = JobState.FAILED, Reason.ATTEMPTS_EXHAUSTED
            settled = state is not JobState.QUEUED
            conn.execute(
                "UPDATE jobs SET state = %s, reason = %s, message = %s, last_error = %s, "
                "result = coalesce(%s, result), owner = NULL, lease_expires_at = NULL, "
                "next_run_at = %s, finished_at = %s, updated_at = %s, "
                "phase = CASE WHEN %s THEN 'finished' ELSE 'waiting to retry' END "
                "WHERE id = %s",
                (
                    state.value,
                    reason,
                    outcome.message,
                    outcome.error or job.last_error,
                    None if outcome.result is None else json.dumps(outcome.result),
                    None if settled else (outcome.retry_at or now),
                    now if settled else None,
                    now,
                    settled,
                    job.id,
                ),
            )
            end_attempt(
                conn,
                fence,
                now,
                state.value,
                reason,
                outcome.error,
                outcome.exit_code,
                outcome.side_effects,
            )
            append_event(
                conn,
                job.id,
                "finished",
                now,
                fence.attempt,
                {
                    "state": state.value,
                    "reason": reason,
                    "message": outcome.message,
                    "error": outcome.error,
                    "exit_code": outcome.exit_code,
                    "retry_at": None if settled else (outcome.retry_at or now),
                },
            )
            if not settled:
                conn.execute(NOTIFY)
            return require_job(conn, job.id)

    async def fence_holds(self, fence: Fence) -> bool:
        return await self._run(self._fence_holds, fence)

    def _fence_holds(self, fence: Fence) -> bool:
        with self._txn() as conn:
            row = conn.execute(
                f"SELECT 1 FROM jobs {FENCED}", {"id": fence.job_id, "fence": fence.token}
            ).fetchone()
        return row is not None

    # -- recovery and the operator's verbs -----------------------------------------
    async def recover(self, is_alive: OwnerAlive) -> RecoveryReport:
        return await self._run(self._recover, is_alive)

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
                expired = now - (job.lease_expires_at or now)
                if job.owner is not None and is_alive(job.owner):
                    report.jobs.append(
                        RecoveredJob(
                            job_id=job.id,
                            action="left-alone",
                            reason="slow",
                            detail=f"lease expired {expired:.0f} s ago but owner pid "
                            f"{job.owner.pid} is still running: slow, not dead",
                        )
                    )
                    continue
                done = recover_one(conn, job, now)
                if done is not None:
                    report.jobs.append(done)
        return report

    async def request_cancel(self, job_id: str, is_alive: OwnerAlive) -> JobRecord:
        return await self._run(self._write, cancel, job_id, self.workspace, self._clock(), is_alive)

    async def block(self, job_id: str, message: str) -> JobRecord:
        return await self._run(self._write, block, job_id, self.workspace, message, self._clock())

    def _write(self, change: Callable[..., T], *args: Any) -> T:
        with self._txn() as conn:
            return change(conn, *args)

    async def append_event(self, job_id: str, event_type: str, data: dict[str, Any]) -> None:
        await self._run(self._append, job_id, event_type, data)

    def _append(self, job_id: str, event_type: str, data: dict[str, Any]) -> None:
        now = self._clock()
        with self._txn() as conn:
            job = require_job(conn, job_id, workspace=self.workspace)
            append_event(conn, job.id, event_type, now, job.attempt, data)

    async def prune(self, finished_before: float) -> list[str]:
        return await self._run(self._prune, finished_before)

    def _prune(self, finished_before: float) -> list[str]:
        with self._txn() as conn:
            rows = conn.execute(
                f"DELETE FROM jobs WHERE state IN {SETTLED_SQL} AND finished_at < %s"
                f"{IN_WORKSPACE} RETURNING id",
                (finished_before, self.workspace),
            ).fetchall()
        return [row[0] for row in rows]

    # -- waiting -----------------------------------------------------------------------
    async def wait_for_work(self, timeout_s: float) -> None:
        # Polled from the event loop, not a thread blocked on the socket: a worker with
        # many idle slots must not tie up the thread pool its heartbeats need.
        deadline = time.monotonic() + max(0.0, timeout_s)
        start = await self._run(self._notified)
        while time.monotonic() < deadline:
            await asyncio.sleep(min(WAIT_POLL_S, max(0.0, deadline - time.monotonic())))
            if await self._run(self._notified) != start:
                return

    def _notified(self) -> int:
        """How many wake-ups this queue has seen (listening from the first call on)."""
        with self._lock, translate_errors(self.where):
            if self._conn is None:
                raise StoreError(f"the job queue in {self.where} is closed")
            if self._listener is None:
                self._listener = connect(self._url, self.where)
                self._listener.execute("LISTEN tau_jobs")
            self._wakeups += sum(1 for _ in self._listener.notifies(timeout=0))
            return self._wakeups
