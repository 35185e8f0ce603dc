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

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from tau_engine.errors import LeaseLostError, QueueBusyError, StoreError, TauError, UsageError
from tau_engine.paths import WorkspacePaths
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
from tau_engine.store.session_lock import StoreLock
from tau_engine.store.sqlite.errors import refuse_if_damaged, store_error
from tau_engine.store.sqlite.jobs_admin import block, cancel, end_attempt, recover_one
from tau_engine.store.sqlite.jobs_rows import (
    FENCED,
    SELECT_JOB,
    append_event,
    find_job,
    require_job,
)
from tau_engine.store.sqlite.schema import connect, migrate

P = ParamSpec("P")
T = TypeVar("T")
BUSY_TIMEOUT_MS = 50
WAIT_POLL_S = 0.02
_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED (extended codes keep these low bits)

_CLAIM = f"""
UPDATE jobs SET state = 'running', attempt = attempt + 1, fence = fence + 1, owner = :owner,
    lease_expires_at = :now + :lease, heartbeat_at = :now, progress_at = :now,
    phase = 'claimed', last_line = '', next_run_at = NULL,
    started_at = coalesce(started_at, :now), updated_at = :now
WHERE id = (SELECT id FROM jobs WHERE state IN {CLAIMABLE_SQL} AND next_run_at <= :now
            AND cancel_requested_at IS NULL ORDER BY priority DESC, rowid LIMIT 1)
RETURNING id
"""


class SqliteJobQueue:
    """The ``JobQueue`` on SQLite. Open with ``SqliteJobQueue.open(paths)``."""

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

    async def _run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._conn is None:
            raise StoreError(f"the job queue {self.db_path} is closed")
        return await asyncio.to_thread(func, *args, **kwargs)

    # -- submitting and reading ----------------------------------------------------
    async def submit(self, job: NewJob) -> SubmitResult:
        return await self._run(self._submit, job)

    def _submit(self, job: NewJob) -> SubmitResult:
        now = self._clock()
        with self._txn() as conn:
            if job.key is not None:
                row = conn.execute(
                    f"{SELECT_JOB} WHERE dedup_key = ? AND state IN {LIVE_SQL}", (job.key,)
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
            return SubmitResult(job=require_job(conn, job.id), created=True)

    async def get(self, id_or_prefix: str) -> JobRecord:
        return await self._run(self._read, find_job, id_or_prefix)

    def _read(self, query: Callable[..., T], *args: Any) -> T:
        with self._txn(write=False) as conn:
            return query(conn, *args)

    async def list_jobs(
        self, *, states: set[JobState] | None = None, limit: int = 100
    ) -> list[JobRecord]:
        return await self._run(self._list, states, limit)

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

    async def attempts(self, job_id: str) -> list[AttemptRecord]:
        return await self._run(self._attempts, job_id)

    def _attempts(self, job_id: str) -> list[AttemptRecord]:
        with self._txn(write=False) as conn:
            rows = conn.execute(
                f"SELECT {ATTEMPT_COLUMNS} FROM job_attempts WHERE job_id = ? ORDER BY attempt",
                (job_id,),
            ).fetchall()
        return readable(attempt_from_row, rows)

    async def events(self, job_id: str, after_seq: int = 0) -> list[JobEvent]:
        return await self._run(self._events, job_id, after_seq)

    def _events(self, job_id: str, after_seq: int) -> list[JobEvent]:
        with self._txn(write=False) as conn:
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq",
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
                    _CLAIM, {"owner": owner_json(owner), "now": now, "lease": lease_s}
                ).fetchone()
                if row is None:
                    return None
                try:
                    job = require_job(conn, row[0])
                    break
                except UnreadableRow as exc:
                    # Not tau's (or damaged): fail it, so no worker takes it again.
                    conn.execute(
                        "UPDATE jobs SET state = 'failed', reason = ?, owner = NULL, "
                        "lease_expires_at = NULL, finished_at = ?, last_error = ? "
                        "WHERE id = ?",
                        (Reason.UNREADABLE, now, str(exc), row[0]),
                    )
            conn.execute(
                "INSERT INTO job_attempts (job_id, attempt, fence, reason, owner, started_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
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
        conn: sqlite3.Connection,
        fence: Fence,
        now: float,
        lease_s: float | None,
        progress: Progress | None,
        session_id: str | None = None,
    ) -> HeartbeatAck:
        """The fenced update every worker write starts with; raises ``LeaseLostError``."""
        sets = ["updated_at = :now", "session_id = coalesce(:session, session_id)"]
        if lease_s is not None:
            sets += ["lease_expires_at = :now + :lease", "heartbeat_at = :now"]
        if progress is not None:
            sets += [
                "progress_at = CASE WHEN phase != :phase OR last_line != :line "
                "THEN :now ELSE progress_at END",
                "phase = :phase",
                "last_line = :line",
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
                    "UPDATE job_attempts SET session_id = coalesce(?, session_id), "
                    "child_pid = coalesce(?, child_pid), detail = json_patch(detail, ?) "
                    "WHERE job_id = ? AND attempt = ?",
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
                "UPDATE jobs SET state = ?, reason = ?, message = ?, last_error = ?, "
                "result = coalesce(?, result), owner = NULL, lease_expires_at = NULL, "
                "next_run_at = ?, finished_at = ?, updated_at = ?, "
                "phase = CASE WHEN ? THEN 'finished' ELSE 'waiting to retry' END "
                "WHERE id = ?",
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
            return require_job(conn, job.id)

    async def fence_holds(self, fence: Fence) -> bool:
        return await self._run(self._fence_holds, fence)

    def _fence_holds(self, fence: Fence) -> bool:
        with self._txn(write=False) as conn:
            row = conn.execute(
                f"SELECT 1 FROM jobs {FENCED}", {"id": fence.job_id, "fence": fence.token}
            ).fetchone()
        return row is not None

    # -- recovery and the operator's verbs -----------------------------------------
    async def recover(self, is_alive: OwnerAlive) -> RecoveryReport:
        return await self._run(self._recover, is_alive)

    def _recover(self, is_alive: OwnerAlive) -> RecoveryReport:
        now = self._clock()
        with self._txn(write=False) as conn:
            rows = conn.execute(
                f"{SELECT_JOB} WHERE state = 'running' AND lease_expires_at < ?", (now,)
            ).fetchall()
        report = RecoveryReport()
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
            done = self._recover_one(job, now)
            if done is not None:
                report.jobs.append(done)
        return report

    def _recover_one(self, seen: JobRecord, now: float) -> RecoveredJob | None:
        with self._txn() as conn:
            return recover_one(conn, seen, now)

    async def request_cancel(self, job_id: str, is_alive: OwnerAlive) -> JobRecord:
        return await self._run(self._cancel, job_id, is_alive)

    def _cancel(self, job_id: str, is_alive: OwnerAlive) -> JobRecord:
        now = self._clock()
        with self._txn() as conn:
            return cancel(conn, job_id, now, is_alive)

    async def block(self, job_id: str, message: str) -> JobRecord:
        return await self._run(self._block, job_id, message)

    def _block(self, job_id: str, message: str) -> JobRecord:
        now = self._clock()
        with self._txn() as conn:
            return block(conn, job_id, message, now)

    async def append_event(self, job_id: str, event_type: str, data: dict[str, Any]) -> None:
        await self._run(self._append, job_id, event_type, data)

    def _append(self, job_id: str, event_type: str, data: dict[str, Any]) -> None:
        now = self._clock()
        with self._txn() as conn:
            job = require_job(conn, job_id)
            append_event(conn, job.id, event_type, now, job.attempt, data)

    async def prune(self, finished_before: float) -> list[str]:
        return await self._run(self._prune, finished_before)

    def _prune(self, finished_before: float) -> list[str]:
        with self._txn() as conn:
            rows = conn.execute(
                f"DELETE FROM jobs WHERE state IN {SETTLED_SQL} AND finished_at < ? RETURNING id",
                (finished_before,),
            ).fetchall()
        return [row[0] for row in rows]

    async def wait_for_work(self, timeout_s: float) -> None:
        # Polled from the event loop, not in a thread: a worker with many idle slots
        # must not tie up the thread pool its heartbeats need.
        deadline = time.monotonic() + max(0.0, timeout_s)
        start = await self._run(self._data_version)
        while time.monotonic() < deadline:
            await asyncio.sleep(min(WAIT_POLL_S, max(0.0, deadline - time.monotonic())))
            if await self._run(self._data_version) != start:
                return

    def _data_version(self) -> int:
        with self._lock, self._translate():
            conn = self._conn
            if conn is None:
                raise StoreError(f"the job queue {self.db_path} is closed")
            return int(conn.execute("PRAGMA data_version").fetchone()[0])
