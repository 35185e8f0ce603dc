"""The job queue's state changes outside a worker's own writes: recovery, cancel, block.

Each function runs inside the caller's ``BEGIN IMMEDIATE`` transaction
(``SqliteJobQueue``), so what it reads is what it changes.
"""

from __future__ import annotations

import sqlite3

from tau_engine.store import job_rules as rules
from tau_engine.store.api import OwnerAlive
from tau_engine.store.job_models import Fence, JobRecord, JobState, Reason, RecoveredJob
from tau_engine.store.job_rows import job_from_row
from tau_engine.store.sqlite.jobs_rows import FENCED, SELECT_JOB, append_event, require_job


def end_attempt(
    conn: sqlite3.Connection,
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
        "UPDATE job_attempts SET finished_at = ?, outcome = ?, end_reason = ?, error = ?, "
        "exit_code = ?, side_effects = max(side_effects, ?) "
        "WHERE job_id = ? AND attempt = ? AND finished_at IS NULL",
        (now, outcome, reason, error, exit_code, int(side_effects), fence.job_id, fence.attempt),
    )


def recover_one(conn: sqlite3.Connection, seen: JobRecord, now: float) -> RecoveredJob | None:
    """Requeue, fail or cancel one job seen with an expired lease, if it still is (inside
    the caller's write transaction; ``job_rules.recovery_verdict`` says which)."""
    row = conn.execute(
        f"{SELECT_JOB} {FENCED} AND lease_expires_at < :now",
        {"id": seen.id, "fence": seen.fence, "now": now},
    ).fetchone()
    if row is None:
        return None  # it heartbeated or finished meanwhile
    job = job_from_row(row)
    verdict = rules.recovery_verdict(job, now)
    conn.execute(
        "UPDATE jobs SET state = ?, reason = ?, fence = fence + 1, owner = NULL, "
        "lease_expires_at = NULL, last_error = ?, next_run_at = ?, finished_at = ?, "
        "updated_at = ? WHERE id = ?",
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
    return verdict.report(job.id)


def cancel(conn: sqlite3.Connection, job_id: str, now: float, is_alive: OwnerAlive) -> JobRecord:
    """Cancel a waiting job, or a running one whose owner is gone; else ask its worker."""
    job = require_job(conn, job_id)
    if rules.cancel_asks_the_worker(job, now, is_alive):
        if job.cancel_requested_at is None:
            conn.execute(
                "UPDATE jobs SET cancel_requested_at = ?, updated_at = ? WHERE id = ?",
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
        "UPDATE jobs SET state = 'cancelled', reason = ?, fence = fence + 1, "
        "owner = NULL, lease_expires_at = NULL, next_run_at = NULL, "
        "cancel_requested_at = coalesce(cancel_requested_at, ?), finished_at = ?, "
        "updated_at = ? WHERE id = ?",
        (Reason.OPERATOR_CANCEL, now, now, now, job.id),
    )
    append_event(conn, job.id, "cancelled", now, job.attempt, rules.cancelled_data(job))
    return require_job(conn, job.id)


def block(conn: sqlite3.Connection, job_id: str, message: str, now: float) -> JobRecord:
    """Hold a waiting job out of the queue."""
    job = require_job(conn, job_id)
    rules.check_blockable(job)
    conn.execute(
        "UPDATE jobs SET state = 'blocked', reason = ?, message = ?, "
        "next_run_at = NULL, finished_at = ?, updated_at = ? WHERE id = ?",
        (Reason.OPERATOR_BLOCK, message, now, now, job.id),
    )
    append_event(conn, job.id, "blocked", now, job.attempt, rules.blocked_data(message))
    return require_job(conn, job.id)
