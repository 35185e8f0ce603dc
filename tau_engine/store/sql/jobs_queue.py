"""The job queue's submit, reads, log appends and pruning, once for both backends
(``jobs_dialect.py`` says what differs); each runs inside the caller's transaction.
``workspace``: the queue's workspace key where its jobs are scoped by one (PostgreSQL),
else ``None``."""

from __future__ import annotations

import json
from typing import Any

from tau_engine.store import job_rules as rules
from tau_engine.store.job_models import (
    AttemptRecord,
    Fence,
    JobEvent,
    JobRecord,
    JobState,
    NewJob,
    SubmitResult,
)
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
from tau_engine.store.sql.jobs_dialect import JobsDialect, in_workspace
from tau_engine.store.sql.jobs_rows import (
    FENCED,
    SELECT_JOB,
    append_event,
    notify,
    require_job,
)
from tau_engine.store.sql.protocol import SqlConnection


def submit(
    conn: SqlConnection, d: JobsDialect, workspace: str | None, job: NewJob, now: float
) -> SubmitResult:
    """Queue ``job``, or find the live job already holding its dedup key."""
    scope, scope_params = in_workspace(workspace)
    if job.key is not None:
        row = conn.execute(
            f"{SELECT_JOB} WHERE dedup_key = ? AND state IN {LIVE_SQL}{scope}",
            (job.key, *scope_params),
        ).fetchone()
        if row is not None:
            return rules.existing_for_key(job_from_row(row), job)
    column, value = ("workspace, ", "?, ") if workspace is not None else ("", "")
    conn.execute(
        f"INSERT INTO jobs ({column}id, kind, inputs, signature, dedup_key, priority, state, "
        "reason, max_attempts, next_run_at, replay_of, created_at, updated_at) "
        f"VALUES ({value}?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)",
        (
            *scope_params,
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
    append_event(conn, d, job.id, "submitted", now, 0, rules.submitted_data(job))
    notify(conn, d)
    return SubmitResult(job=require_job(conn, d, job.id), created=True)


def list_jobs(
    conn: SqlConnection,
    d: JobsDialect,
    workspace: str | None,
    states: set[JobState] | None,
    limit: int,
) -> list[JobRecord]:
    """The newest ``limit`` jobs, of ``states`` when given."""
    conditions: list[str] = []
    params: tuple[Any, ...] = ()
    if workspace is not None:
        conditions.append("workspace = ?")
        params += (workspace,)
    if states:
        conditions.append(f"state IN ({', '.join('?' for _ in states)})")
        params += tuple(state.value for state in sorted(states))
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = conn.execute(
        f"{SELECT_JOB} {where} ORDER BY created_at DESC, {d.order} DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    return readable_jobs(rows)


def attempts(conn: SqlConnection, d: JobsDialect, job_id: str) -> list[AttemptRecord]:
    """A job's attempts, first to last."""
    columns = ATTEMPT_COLUMNS.replace("detail", d.read_detail)
    rows = conn.execute(
        f"SELECT {columns} FROM job_attempts WHERE job_id = ? ORDER BY attempt",
        (job_id,),
    ).fetchall()
    return readable(attempt_from_row, rows)


def events(conn: SqlConnection, job_id: str, after_seq: int) -> list[JobEvent]:
    """A job's log entries after ``after_seq``."""
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq",
        (job_id, after_seq),
    ).fetchall()
    return readable(event_from_row, rows)


def fence_holds(conn: SqlConnection, fence: Fence) -> bool:
    """Whether the job still runs under ``fence``."""
    row = conn.execute(
        f"SELECT 1 FROM jobs {FENCED}", {"id": fence.job_id, "fence": fence.token}
    ).fetchone()
    return row is not None


def expired(conn: SqlConnection, workspace: str | None, now: float) -> list[JobRecord]:
    """The running jobs whose lease ran out before ``now`` (a recovery's candidates)."""
    scope, params = in_workspace(workspace)
    rows = conn.execute(
        f"{SELECT_JOB} WHERE state = 'running' AND lease_expires_at < ?{scope}",
        (now, *params),
    ).fetchall()
    return readable_jobs(rows)


def append(
    conn: SqlConnection,
    d: JobsDialect,
    workspace: str | None,
    job_id: str,
    event_type: str,
    data: dict[str, Any],
    now: float,
) -> None:
    """A log entry on the job's current attempt."""
    job = require_job(conn, d, job_id, workspace=workspace)
    append_event(conn, d, job.id, event_type, now, job.attempt, data)


def prune(conn: SqlConnection, workspace: str | None, finished_before: float) -> list[str]:
    """Delete the jobs settled before ``finished_before`` (their logs go with them)."""
    scope, params = in_workspace(workspace)
    deleted = f"DELETE FROM jobs WHERE state IN {SETTLED_SQL} AND finished_at < ?{scope}"
    return [row[0] for row in conn.execute(f"{deleted} RETURNING id", (finished_before, *params))]
