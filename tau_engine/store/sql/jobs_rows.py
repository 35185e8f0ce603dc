"""The job queue's row reads and the writes every change shares (a log entry, the end
of an attempt), once for both backends (``jobs_dialect.py`` says what differs). Each
runs inside the caller's transaction; rows become records through ``store/job_rows.py``.
"""

from __future__ import annotations

import json
from typing import Any

from tau_engine.errors import JobNotFoundError
from tau_engine.store.job_models import Fence, JobRecord
from tau_engine.store.job_rows import (
    JOB_COLUMNS,
    escape_like,
    job_from_row,
    job_id_text,
    only_job,
)
from tau_engine.store.sql.jobs_dialect import JobsDialect, in_workspace
from tau_engine.store.sql.protocol import SqlConnection

SELECT_JOB = f"SELECT {JOB_COLUMNS} FROM jobs"
FENCED = "WHERE id = :id AND fence = :fence AND state = 'running'"
"""The condition of every fenced write: the job is still running under this token."""
Scope = str | None
"""A queue's workspace key where its jobs are scoped by one (PostgreSQL), else ``None``."""


def require_job(
    conn: SqlConnection, d: JobsDialect, job_id: str, *, lock: bool = False, workspace: Scope = None
) -> JobRecord:
    """The job with exactly this id (of ``workspace``, when given: another workspace's job
    is not found); ``lock``: hold its row until the transaction ends (where rows lock)."""
    scope, params = in_workspace(workspace)
    row = conn.execute(
        f"{SELECT_JOB} WHERE id = ?{scope}{d.for_update if lock else ''}", (job_id, *params)
    ).fetchone()
    if row is None:
        raise JobNotFoundError(f"no job {job_id}")
    return job_from_row(row)


def find_job(
    conn: SqlConnection, d: JobsDialect, id_or_prefix: str, workspace: str | None
) -> JobRecord:
    """The job (of ``workspace``, if scoped) with this id, else the one whose id starts
    with it."""
    text = job_id_text(id_or_prefix)
    scope, params = in_workspace(workspace)
    row = conn.execute(f"{SELECT_JOB} WHERE id = ?{scope}", (text, *params)).fetchone()
    if row is not None:
        return job_from_row(row)
    rows = conn.execute(
        f"{SELECT_JOB} WHERE id LIKE ? ESCAPE '\\'{scope}{d.prefix_order} LIMIT 6",
        (escape_like(text), *params),
    ).fetchall()
    return only_job(text, rows)


def append_event(
    conn: SqlConnection,
    d: JobsDialect,
    job_id: str,
    event_type: str,
    now: float,
    attempt: int,
    data: dict[str, Any],
) -> int:
    """Append one log entry inside the caller's transaction; returns its seq. Where
    writers run side by side, the job's row lock orders appenders, so two never take
    the same seq."""
    if d.locks_rows:
        conn.execute("SELECT 1 FROM jobs WHERE id = ? FOR UPDATE", (job_id,))
    row = conn.execute(
        "SELECT coalesce(max(seq), 0) + 1 FROM job_events WHERE job_id = ?", (job_id,)
    ).fetchone()
    seq = int(row[0]) if row else 1
    conn.execute(
        "INSERT INTO job_events (job_id, seq, ts, type, attempt, data) VALUES (?, ?, ?, ?, ?, ?)",
        (job_id, seq, now, event_type, attempt, json.dumps(data)),
    )
    return seq


def end_attempt(
    conn: SqlConnection,
    d: JobsDialect,
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
        f"exit_code = ?, side_effects = {d.any_side_effects} "
        "WHERE job_id = ? AND attempt = ? AND finished_at IS NULL",
        (now, outcome, reason, error, exit_code, side_effects, fence.job_id, fence.attempt),
    )


def notify(conn: SqlConnection, d: JobsDialect) -> None:
    """Wake idle workers when the transaction commits (where the engine can)."""
    if d.notify:
        conn.execute(d.notify)
