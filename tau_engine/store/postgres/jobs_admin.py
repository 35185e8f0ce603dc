"""The PostgreSQL job queue's row reads and its state changes outside a worker's own
writes (recovery, cancel, block), each inside the caller's transaction.

PostgreSQL runs writers side by side (SQLite lets one write at a time), so what a
change depends on is read ``FOR UPDATE``: a recovery and a heartbeat of the same job, or
two log appends, take the job's row lock in turn and never act on a stale read.
"""

from __future__ import annotations

import json
from typing import Any

from tau_engine.errors import JobNotFoundError
from tau_engine.store import job_rules as rules
from tau_engine.store.api import OwnerAlive
from tau_engine.store.job_models import Fence, JobRecord, JobState, Reason, RecoveredJob
from tau_engine.store.job_rows import (
    JOB_COLUMNS,
    escape_like,
    job_from_row,
    job_id_text,
    only_job,
)
from tau_engine.store.postgres.connection import Connection

SELECT_JOB = f"SELECT {JOB_COLUMNS} FROM jobs"
FENCED = "WHERE id = %(id)s AND fence = %(fence)s AND state = 'running'"
"""The condition of every fenced write: the job is still running under this token."""
IN_WORKSPACE = " AND workspace = %s"
"""Keeps a read to the queue's own workspace's jobs (``store/workspace_key.py``)."""
NOTIFY = "SELECT pg_notify('tau_jobs', '')"
RECOVERY_LOCK = "SELECT pg_try_advisory_xact_lock(1952544095, hashtext(%s))"
"""Taken by a recovery sweep for its transaction: one sweeper per workspace at a time
(the first key is "tau_" in ASCII; the second, the workspace key's hash)."""
"""Wakes idle workers (``wait_for_work``) when the transaction commits."""


def require_job(
    conn: Connection, job_id: str, *, lock: bool = False, workspace: str | None = None
) -> JobRecord:
    """The job with exactly this id (of ``workspace``, when given: another workspace's job
    is not found); ``lock``: hold its row until the transaction ends."""
    scope, params = ("", (job_id,)) if workspace is None else (IN_WORKSPACE, (job_id, workspace))
    row = conn.execute(
        f"{SELECT_JOB} WHERE id = %s{scope}{' FOR UPDATE' if lock else ''}", params
    ).fetchone()
    if row is None:
        raise JobNotFoundError(f"no job {job_id}")
    return job_from_row(row)


def find_job(conn: Connection, id_or_prefix: str, workspace: str) -> JobRecord:
    """The job of ``workspace`` with this id, else the one whose id starts with it."""
    text = job_id_text(id_or_prefix)
    row = conn.execute(f"{SELECT_JOB} WHERE id = %s{IN_WORKSPACE}", (text, workspace)).fetchone()
    if row is not None:
        return job_from_row(row)
    rows = conn.execute(
        f"{SELECT_JOB} WHERE id LIKE %s ESCAPE '\\'{IN_WORKSPACE} ORDER BY id LIMIT 6",
        (escape_like(text), workspace),
    ).fetchall()
    return only_job(text, rows)


def append_event(
    conn: Connection, job_id: str, event_type: str, now: float, attempt: int, data: dict[str, Any]
) -> int:
    """Append one log entry inside the caller's transaction; returns its seq. The job's
    row lock orders appenders, so two never take the same seq."""
    conn.execute("SELECT 1 FROM jobs WHERE id = %s FOR UPDATE", (job_id,))
    row = conn.execute(
        "SELECT coalesce(max(seq), 0) + 1 FROM job_events WHERE job_id = %s", (job_id,)
    ).fetchone()
    seq = int(row[0]) if row else 1
    conn.execute(
        "INSERT INTO job_events (job_id, seq, ts, type, attempt, data) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (job_id, seq, now, event_type, attempt, json.dumps(data)),
    )
    return seq


def end_attempt(
    conn: Connection,
    fence: Fence,
    now: float,
    outcome: str,
    reason: str,
    error: str,
    exit_code: int | None = None,
    side_effects: bool = False,
) -> None:
    """Close the fence's attempt row (once: a closed attempt is never rewritten)."""
    conn.execute(
        "UPDATE job_attempts SET finished_at = %s, outcome = %s, end_reason = %s, error = %s, "
        "exit_code = %s, side_effects = side_effects OR %s "
        "WHERE job_id = %s AND attempt = %s AND finished_at IS NULL",
        (now, outcome, reason, error, exit_code, side_effects, fence.job_id, fence.attempt),
    )


def recover_one(conn: Connection, seen: JobRecord, now: float) -> RecoveredJob | None:
    """Requeue, fail or cancel one job seen with an expired lease, if it still is
    (``job_rules.recovery_verdict`` says which)."""
    row = conn.execute(
        f"{SELECT_JOB} {FENCED} AND lease_expires_at < %(now)s FOR UPDATE",
        {"id": seen.id, "fence": seen.fence, "now": now},
    ).fetchone()
    if row is None:
        return None  # it heartbeated or finished meanwhile
    job = job_from_row(row)
    verdict = rules.recovery_verdict(job, now)
    conn.execute(
        "UPDATE jobs SET state = %s, reason = %s, fence = fence + 1, owner = NULL, "
        "lease_expires_at = NULL, last_error = %s, next_run_at = %s, finished_at = %s, "
        "updated_at = %s WHERE id = %s",
        (
            verdict.state.value,
            verdict.reason,
            verdict.detail,
            verdict.next_run_at(now),
            verdict.finished_at(now),
            now,
            job.id,
        ),
    )
    end_attempt(
        conn, rules.fence_of(job), now, Reason.STALE_LEASE, Reason.STALE_LEASE, verdict.detail
    )
    append_event(conn, job.id, "recovered", now, job.attempt, verdict.data())
    conn.execute(NOTIFY)
    return verdict.report(job.id)


def cancel(
    conn: Connection, job_id: str, workspace: str, now: float, is_alive: OwnerAlive
) -> JobRecord:
    """Cancel a waiting job, or a running one whose owner is gone; else ask its worker."""
    job = require_job(conn, job_id, lock=True, workspace=workspace)
    if rules.cancel_asks_the_worker(job, now, is_alive):
        if job.cancel_requested_at is None:
            conn.execute(
                "UPDATE jobs SET cancel_requested_at = %s, updated_at = %s WHERE id = %s",
                (now, now, job.id),
            )
            append_event(conn, job.id, "cancel-requested", now, job.attempt, {})
        return require_job(conn, job.id)
    if job.state is JobState.RUNNING:
        end_attempt(
            conn,
            rules.fence_of(job),
            now,
            JobState.CANCELLED,
            Reason.OPERATOR_CANCEL,
            rules.CANCELLED_WHILE_GONE,
        )
    conn.execute(
        "UPDATE jobs SET state = 'cancelled', reason = %s, fence = fence + 1, "
        "owner = NULL, lease_expires_at = NULL, next_run_at = NULL, "
        "cancel_requested_at = coalesce(cancel_requested_at, %s), finished_at = %s, "
        "updated_at = %s WHERE id = %s",
        (Reason.OPERATOR_CANCEL, now, now, now, job.id),
    )
    append_event(conn, job.id, "cancelled", now, job.attempt, rules.cancelled_data(job))
    conn.execute(NOTIFY)
    return require_job(conn, job.id)


def block(conn: Connection, job_id: str, workspace: str, message: str, now: float) -> JobRecord:
    """Hold a waiting job out of the queue."""
    job = require_job(conn, job_id, lock=True, workspace=workspace)
    rules.check_blockable(job)
    conn.execute(
        "UPDATE jobs SET state = 'blocked', reason = %s, message = %s, "
        "next_run_at = NULL, finished_at = %s, updated_at = %s WHERE id = %s",
        (Reason.OPERATOR_BLOCK, message, now, now, job.id),
    )
    append_event(conn, job.id, "blocked", now, job.attempt, rules.blocked_data(message))
    return require_job(conn, job.id)
