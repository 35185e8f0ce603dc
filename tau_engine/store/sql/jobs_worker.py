"""A worker's own writes, once for both backends: the claim, the fenced touch every
write starts with, a log entry with what it changed, and the end of an attempt. Each
runs inside the caller's transaction (``ThreadedJobQueue``); what each change is comes
from ``store/job_rules.py``, how the engine spells it from ``jobs_dialect.py``.

A claim is one ``UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING``: the row chosen is
the row taken (under SQLite's one-writer lock; on PostgreSQL the pick is ``FOR UPDATE
SKIP LOCKED``, so claimers pass over rows another claimer holds instead of queueing
behind it). A fenced write matches no row once the fence is stale (a PostgreSQL write
that waited for a recovery's row lock re-reads the row), and the transaction rolls back
with ``LeaseLostError``.
"""

from __future__ import annotations

import json
from typing import Any

from tau_engine.store import job_rules as rules
from tau_engine.store.job_models import (
    AttemptDetail,
    Claim,
    Fence,
    HeartbeatAck,
    JobRecord,
    LeaseOwner,
    Outcome,
    Progress,
    Reason,
)
from tau_engine.store.job_rows import CLAIMABLE_SQL, UnreadableRow, owner_json
from tau_engine.store.sql.jobs_dialect import JobsDialect
from tau_engine.store.sql.jobs_rows import FENCED, append_event, end_attempt, require_job
from tau_engine.store.sql.protocol import SqlConnection


def _claim_sql(d: JobsDialect, scoped: bool) -> str:
    scope = " AND workspace = :workspace" if scoped else ""
    return f"""
UPDATE jobs SET state = 'running', attempt = attempt + 1, fence = fence + 1, owner = :owner,
    lease_expires_at = :now + :lease, heartbeat_at = :now, progress_at = :now,
    phase = 'claimed', last_line = '', next_run_at = NULL,
    started_at = coalesce(started_at, :now), updated_at = :now
WHERE id = (SELECT id FROM jobs WHERE state IN {CLAIMABLE_SQL} AND next_run_at <= :now
            AND cancel_requested_at IS NULL{scope} ORDER BY priority DESC, {d.order} LIMIT 1
            {d.claim_lock})
RETURNING id
"""


def _param(name: str) -> str:
    return f":{name}"


class JobWrites:
    """A worker's writes in one engine's dialect (``WorkerWrites`` in
    ``store/job_queue_threads.py``)."""

    def __init__(self, dialect: JobsDialect) -> None:
        self.dialect = dialect
        self._claim = {scoped: _claim_sql(dialect, scoped) for scoped in (False, True)}

    def claim_next(
        self,
        conn: SqlConnection,
        workspace: str | None,
        owner: LeaseOwner,
        lease_s: float,
        now: float,
    ) -> Claim | None:
        """Take the next claimable job (of ``workspace``, if the queue is scoped): its
        attempt row and ``claimed`` entry with it."""
        d = self.dialect
        params = {"owner": owner_json(owner), "now": now, "lease": lease_s}
        if workspace is not None:
            params["workspace"] = workspace
        sql = self._claim[workspace is not None]
        while True:
            row = conn.execute(sql, params).fetchone()
            if row is None:
                return None
            try:
                job = require_job(conn, d, row[0])
                break
            except UnreadableRow as exc:
                # Not tau's (or damaged): fail it, so no worker takes it again.
                conn.execute(
                    "UPDATE jobs SET state = 'failed', reason = ?, owner = NULL, "
                    "lease_expires_at = NULL, finished_at = ?, last_error = ? WHERE id = ?",
                    (Reason.UNREADABLE, now, str(exc), row[0]),
                )
        conn.execute(
            "INSERT INTO job_attempts (job_id, attempt, fence, reason, owner, started_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (job.id, job.attempt, job.fence, job.reason, owner_json(owner), now),
        )
        append_event(conn, d, job.id, "claimed", now, job.attempt, rules.claimed_data(owner, job))
        return Claim(job=job, fence=rules.fence_of(job))

    def touch(
        self,
        conn: SqlConnection,
        fence: Fence,
        now: float,
        lease_s: float | None,
        progress: Progress | None,
        session_id: str | None = None,
    ) -> HeartbeatAck:
        """The fenced update every worker write starts with; raises ``LeaseLostError``."""
        sets = rules.touch_assignments(lease_s is not None, progress is not None, _param)
        row = conn.execute(
            f"UPDATE jobs SET {', '.join(sets)} {FENCED} "
            "RETURNING lease_expires_at, cancel_requested_at",
            rules.touch_params(fence, now, lease_s, progress, session_id),
        ).fetchone()
        if row is None:
            raise rules.stale_fence(fence)
        return HeartbeatAck(lease_expires_at=row[0], cancel_requested=row[1] is not None)

    def record(
        self,
        conn: SqlConnection,
        fence: Fence,
        now: float,
        event_type: str,
        data: dict[str, Any],
        session_id: str | None,
        child_pid: int | None,
        detail: AttemptDetail | None,
    ) -> None:
        """After ``touch``: what the attempt learnt (its session, child, detail) and a
        log entry."""
        if session_id is not None or child_pid is not None or detail:
            conn.execute(
                "UPDATE job_attempts SET session_id = coalesce(?, session_id), "
                f"child_pid = coalesce(?, child_pid), detail = {self.dialect.merge_detail} "
                "WHERE job_id = ? AND attempt = ?",
                (session_id, child_pid, json.dumps(detail or {}), fence.job_id, fence.attempt),
            )
        append_event(conn, self.dialect, fence.job_id, event_type, now, fence.attempt, data)

    def finish(self, conn: SqlConnection, fence: Fence, outcome: Outcome, now: float) -> JobRecord:
        """End the fence's attempt with ``outcome`` (``job_rules.settle``); the job after it."""
        d = self.dialect
        self.touch(conn, fence, now, None, None)
        job = require_job(conn, d, fence.job_id)
        done = rules.settle(job, outcome, now)
        conn.execute(
            "UPDATE jobs SET state = ?, reason = ?, message = ?, last_error = ?, "
            "result = coalesce(?, result), owner = NULL, lease_expires_at = NULL, "
            "next_run_at = ?, finished_at = ?, updated_at = ?, phase = ? WHERE id = ?",
            (
                done.state.value,
                done.reason,
                outcome.message,
                done.last_error,
                done.result,
                done.next_run_at,
                done.finished_at,
                now,
                done.phase,
                job.id,
            ),
        )
        end_attempt(
            conn,
            d,
            fence,
            now,
            done.state.value,
            done.reason,
            outcome.error,
            outcome.exit_code,
            outcome.side_effects,
        )
        append_event(
            conn, d, job.id, "finished", now, fence.attempt, rules.finished_data(done, outcome)
        )
        return require_job(conn, d, job.id)
