"""Rows of the job tables as typed records, and the SQL pieces that read them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from tau_engine.errors import JobNotFoundError, StoreError
from tau_engine.store.job_models import (
    AttemptRecord,
    JobEvent,
    JobRecord,
    JobState,
    LeaseOwner,
)

T = TypeVar("T")

JOB_COLUMNS = (
    "id, kind, inputs, signature, dedup_key, priority, state, reason, message, attempt, "
    "max_attempts, fence, owner, lease_expires_at, heartbeat_at, progress_at, phase, "
    "last_line, last_error, next_run_at, cancel_requested_at, replay_of, session_id, result, "
    "created_at, updated_at, started_at, finished_at"
)
SELECT_JOB = f"SELECT {JOB_COLUMNS} FROM jobs"
ATTEMPT_COLUMNS = (
    "job_id, attempt, fence, reason, owner, started_at, finished_at, outcome, end_reason, "
    "error, session_id, child_pid, exit_code, side_effects, detail"
)
LIVE_SQL = "('queued', 'running', 'recovering')"
CLAIMABLE_SQL = "('queued', 'recovering')"
FENCED = "WHERE id = :id AND fence = :fence AND state = 'running'"
"""The condition of every fenced write: the job is still running under this token."""


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def owner_json(owner: LeaseOwner | None) -> str | None:
    return None if owner is None else owner.model_dump_json()


class UnreadableRow(StoreError):
    """A job table row tau cannot read: damaged, or written by something other than tau."""


def _readable(kind: str, row: tuple[Any, ...], build: Callable[[], T]) -> T:
    try:
        return build()
    except (ValueError, TypeError, KeyError, IndexError) as exc:  # pydantic's included
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnreadableRow(f"{kind} {str(row[0])[:40]!r}: its row cannot be read "
                            f"({first[:200]})") from exc


def job_from_row(row: tuple[Any, ...]) -> JobRecord:
    """A ``JobRecord`` from a row selected with ``JOB_COLUMNS`` (``UnreadableRow``)."""
    return _readable("job", row, lambda: _job(row))


def _job(row: tuple[Any, ...]) -> JobRecord:
    owner = _json(row[12])
    return JobRecord(
        id=row[0], kind=row[1], inputs=json.loads(row[2]), signature=row[3], key=row[4],
        priority=row[5], state=JobState(row[6]), reason=row[7], message=row[8],
        attempt=row[9], max_attempts=row[10], fence=row[11],
        owner=LeaseOwner.model_validate(owner) if owner else None,
        lease_expires_at=row[13], heartbeat_at=row[14], progress_at=row[15], phase=row[16],
        last_line=row[17], last_error=row[18], next_run_at=row[19],
        cancel_requested_at=row[20], replay_of=row[21], session_id=row[22],
        result=_json(row[23]), created_at=row[24], updated_at=row[25], started_at=row[26],
        finished_at=row[27])


def readable_jobs(rows: list[tuple[Any, ...]]) -> list[JobRecord]:
    """The rows that can be read (a listing is not stopped by one bad row)."""
    jobs = []
    for row in rows:
        try:
            jobs.append(job_from_row(row))
        except UnreadableRow:
            continue
    return jobs


def attempt_from_row(row: tuple[Any, ...]) -> AttemptRecord:
    return _readable("attempt of job", row, lambda: AttemptRecord(
        job_id=row[0], attempt=row[1], fence=row[2], reason=row[3],
        owner=LeaseOwner.model_validate_json(row[4]), started_at=row[5], finished_at=row[6],
        outcome=row[7], end_reason=row[8], error=row[9], session_id=row[10],
        child_pid=row[11], exit_code=row[12], side_effects=bool(row[13]),
        detail=json.loads(row[14] or "{}")))


def event_from_row(row: tuple[Any, ...]) -> JobEvent:
    return _readable("event of job", row, lambda: JobEvent(
        job_id=row[0], seq=row[1], ts=row[2], type=row[3], attempt=row[4],
        data=json.loads(row[5])))


def require_job(conn: sqlite3.Connection, job_id: str) -> JobRecord:
    row = conn.execute(f"{SELECT_JOB} WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFoundError(f"no job {job_id}")
    return job_from_row(row)


def find_job(conn: sqlite3.Connection, id_or_prefix: str) -> JobRecord:
    """The job with this id, else the one job whose id starts with it."""
    text = id_or_prefix.strip()
    if not text:
        raise JobNotFoundError("no job id given")
    row = conn.execute(f"{SELECT_JOB} WHERE id = ?", (text,)).fetchone()
    if row is not None:
        return job_from_row(row)
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = conn.execute(f"{SELECT_JOB} WHERE id LIKE ? ESCAPE '\\' LIMIT 6",
                        (escaped + "%",)).fetchall()
    if not rows:
        raise JobNotFoundError(f"no job matches '{text}' (tau jobs list shows them)")
    if len(rows) > 1:
        shown = ", ".join(r[0][:12] for r in rows[:5])
        raise JobNotFoundError(f"'{text}' matches several jobs ({shown}); give more of the id")
    return job_from_row(rows[0])


def append_event(conn: sqlite3.Connection, job_id: str, event_type: str, now: float,
                 attempt: int, data: dict[str, Any]) -> int:
    """Append one log entry inside the caller's transaction; returns its seq."""
    seq = int(conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM job_events WHERE job_id = ?",
                           (job_id,)).fetchone()[0])
    conn.execute("INSERT INTO job_events (job_id, seq, ts, type, attempt, data) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 (job_id, seq, now, event_type, attempt, json.dumps(data)))
    return seq
