"""The job queue's state changes outside a worker's own writes (recovery, cancel,
block), once for both backends; each runs inside the caller's transaction.

Where writers run side by side (PostgreSQL), what a change depends on is read
``FOR UPDATE`` (``JobsDialect.locks_rows``): a recovery and a heartbeat of the same job
take its row lock in turn and never act on a stale read. Under SQLite's
``BEGIN IMMEDIATE`` what a change reads is already what it changes.
"""

from __future__ import annotations

from tau_engine.store import job_rules as rules
from tau_engine.store.api import OwnerAlive
from tau_engine.store.job_models import JobRecord, JobState, Reason, RecoveredJob
from tau_engine.store.job_rows import job_from_row
from tau_engine.store.sql.jobs_dialect import JobsDialect
from tau_engine.store.sql.jobs_rows import (
    FENCED,
    SELECT_JOB,
    append_event,
    end_attempt,
    notify,
    require_job,
)
from tau_engine.store.sql.protocol import SqlConnection


def recover_one(
    conn: SqlConnection, d: JobsDialect, seen: JobRecord, now: float
) -> RecoveredJob | None:
    """Requeue, fail or cancel one job seen with an expired lease, if it still is
    (``job_rules.recovery_verdict`` says which)."""
    row = conn.execute(
        f"{SELECT_JOB} {FENCED} AND lease_expires_at < :now{d.for_update}",
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
        conn, d, rules.fence_of(job), now, Reason.STALE_LEASE, Reason.STALE_LEASE, verdict.detail
    )
    append_event(conn, d, job.id, "recovered", now, job.attempt, verdict.data())
    notify(conn, d)
    return verdict.report(job.id)


def cancel(
    conn: SqlConnection,
    d: JobsDialect,
    job_id: str,
    workspace: str | None,
    now: float,
    is_alive: OwnerAlive,
) -> JobRecord:
    """Cancel a waiting job, or a running one whose owner is gone; else ask its worker."""
    job = require_job(conn, d, job_id, lock=True, workspace=workspace)
    if rules.cancel_asks_the_worker(job, now, is_alive):
        if job.cancel_requested_at is None:
            conn.execute(
                "UPDATE jobs SET cancel_requested_at = ?, updated_at = ? WHERE id = ?",
                (now, now, job.id),
            )
            append_event(conn, d, job.id, "cancel-requested", now, job.attempt, {})
        return require_job(conn, d, job.id)
    if job.state is JobState.RUNNING:
        end_attempt(
            conn,
            d,
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
    append_event(conn, d, job.id, "cancelled", now, job.attempt, rules.cancelled_data(job))
    notify(conn, d)
    return require_job(conn, d, job.id)


def block(
    conn: SqlConnection,
    d: JobsDialect,
    job_id: str,
    workspace: str | None,
    message: str,
    now: float,
) -> JobRecord:
    """Hold a waiting job out of the queue."""
    job = require_job(conn, d, job_id, lock=True, workspace=workspace)
    rules.check_blockable(job)
    conn.execute(
        "UPDATE jobs SET state = 'blocked', reason = ?, message = ?, "
        "next_run_at = NULL, finished_at = ?, updated_at = ? WHERE id = ?",
        (Reason.OPERATOR_BLOCK, message, now, now, job.id),
    )
    append_event(conn, d, job.id, "blocked", now, job.attempt, rules.blocked_data(message))
    return require_job(conn, d, job.id)
