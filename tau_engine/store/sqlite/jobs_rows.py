"""SQLite's reads of the job tables (rows become records through ``store/job_rows.py``)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from tau_engine.errors import JobNotFoundError
from tau_engine.store.job_models import JobRecord
from tau_engine.store.job_rows import (
    JOB_COLUMNS,
    escape_like,
    job_from_row,
    job_id_text,
    only_job,
)

SELECT_JOB = f"SELECT {JOB_COLUMNS} FROM jobs"
FENCED = "WHERE id = :id AND fence = :fence AND state = 'running'"
"""The condition of every fenced write: the job is still running under this token."""


def require_job(conn: sqlite3.Connection, job_id: str) -> JobRecord:
    row = conn.execute(f"{SELECT_JOB} WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFoundError(f"no job {job_id}")
    return job_from_row(row)


def find_job(conn: sqlite3.Connection, id_or_prefix: str) -> JobRecord:
    """The job with this id, else the one job whose id starts with it."""
    text = job_id_text(id_or_prefix)
    row = conn.execute(f"{SELECT_JOB} WHERE id = ?", (text,)).fetchone()
    if row is not None:
        return job_from_row(row)
    rows = conn.execute(
        f"{SELECT_JOB} WHERE id LIKE ? ESCAPE '\\' LIMIT 6", (escape_like(text),)
    ).fetchall()
    return only_job(text, rows)


def append_event(
    conn: sqlite3.Connection,
    job_id: str,
    event_type: str,
    now: float,
    attempt: int,
    data: dict[str, Any],
) -> int:
    """Append one log entry inside the caller's transaction; returns its seq."""
    seq = int(
        conn.execute(
            "SELECT coalesce(max(seq), 0) + 1 FROM job_events WHERE job_id = ?", (job_id,)
        ).fetchone()[0]
    )
    conn.execute(
        "INSERT INTO job_events (job_id, seq, ts, type, attempt, data) VALUES (?, ?, ?, ?, ?, ?)",
        (job_id, seq, now, event_type, attempt, json.dumps(data)),
    )
    return seq
