"""Rows of the job tables as typed records: what every backend reads its rows with.

Each backend selects the columns in the order named here (``JOB_COLUMNS``,
``ATTEMPT_COLUMNS``, ``EVENT_COLUMNS``) with JSON fields as text, and builds records
with these functions, so a row means the same on SQLite and on PostgreSQL. A row that
cannot be read is ``UnreadableRow``: listings skip it, a claim fails it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tau_engine.errors import JobNotFoundError, StoreError
from tau_engine.store.job_models import AttemptRecord, JobEvent, JobRecord, JobState, LeaseOwner

T = TypeVar("T")

JOB_COLUMNS = (
    "id, kind, inputs, signature, dedup_key, priority, state, reason, message, attempt, "
    "max_attempts, fence, owner, lease_expires_at, heartbeat_at, progress_at, phase, "
    "last_line, last_error, next_run_at, cancel_requested_at, replay_of, session_id, result, "
    "created_at, updated_at, started_at, finished_at"
)
ATTEMPT_COLUMNS = (
    "job_id, attempt, fence, reason, owner, started_at, finished_at, outcome, end_reason, "
    "error, session_id, child_pid, exit_code, side_effects, detail"
)
EVENT_COLUMNS = "job_id, seq, ts, type, attempt, data"
LIVE_SQL = "('queued', 'running', 'recovering')"
CLAIMABLE_SQL = "('queued', 'recovering')"
SETTLED_SQL = "('succeeded', 'failed', 'cancelled')"
"""States ``prune`` deletes (blocked jobs wait for the operator)."""

Row = Sequence[Any]


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def owner_json(owner: LeaseOwner | None) -> str | None:
    return None if owner is None else owner.model_dump_json()


class UnreadableRow(StoreError):
    """A job table row tau cannot read: damaged, or written by something other than tau."""


def _readable(kind: str, row: Row, build: Callable[[], T]) -> T:
    try:
        return build()
    except (ValueError, TypeError, KeyError, IndexError) as exc:  # pydantic's included
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnreadableRow(
            f"{kind} {str(row[0])[:40]!r}: its row cannot be read ({first[:200]})"
        ) from exc


def job_from_row(row: Row) -> JobRecord:
    """A ``JobRecord`` from a row selected with ``JOB_COLUMNS`` (``UnreadableRow``)."""
    return _readable("job", row, lambda: _job(row))


def _job(row: Row) -> JobRecord:
    owner = _json(row[12])
    return JobRecord(
        id=row[0],
        kind=row[1],
        inputs=json.loads(row[2]),
        signature=row[3],
        key=row[4],
        priority=row[5],
        state=JobState(row[6]),
        reason=row[7],
        message=row[8],
        attempt=row[9],
        max_attempts=row[10],
        fence=row[11],
        owner=LeaseOwner.model_validate(owner) if owner else None,
        lease_expires_at=row[13],
        heartbeat_at=row[14],
        progress_at=row[15],
        phase=row[16],
        last_line=row[17],
        last_error=row[18],
        next_run_at=row[19],
        cancel_requested_at=row[20],
        replay_of=row[21],
        session_id=row[22],
        result=_json(row[23]),
        created_at=row[24],
        updated_at=row[25],
        started_at=row[26],
        finished_at=row[27],
    )


def readable_jobs(rows: Sequence[Row]) -> list[JobRecord]:
    """The rows that can be read (a listing is not stopped by one bad row)."""
    return readable(job_from_row, rows)


def readable(build: Callable[[Row], T], rows: Sequence[Row]) -> list[T]:
    """``build`` of each row that can be read."""
    out = []
    for row in rows:
        try:
            out.append(build(row))
        except UnreadableRow:
            continue  # one bad row does not hide the others
    return out


def attempt_from_row(row: Row) -> AttemptRecord:
    return _readable(
        "attempt of job",
        row,
        lambda: AttemptRecord(
            job_id=row[0],
            attempt=row[1],
            fence=row[2],
            reason=row[3],
            owner=LeaseOwner.model_validate_json(row[4]),
            started_at=row[5],
            finished_at=row[6],
            outcome=row[7],
            end_reason=row[8],
            error=row[9],
            session_id=row[10],
            child_pid=row[11],
            exit_code=row[12],
            side_effects=bool(row[13]),
            detail=json.loads(row[14] or "{}"),
        ),
    )


def event_from_row(row: Row) -> JobEvent:
    return _readable(
        "event of job",
        row,
        lambda: JobEvent(
            job_id=row[0],
            seq=row[1],
            ts=row[2],
            type=row[3],
            attempt=row[4],
            data=json.loads(row[5]),
        ),
    )


def escape_like(text: str) -> str:
    """``text`` as a ``LIKE … ESCAPE '\\'`` prefix pattern matches it literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def job_id_text(id_or_prefix: str) -> str:
    """The id or prefix a user gave, trimmed; ``JobNotFoundError`` when it is empty."""
    text = id_or_prefix.strip()
    if not text:
        raise JobNotFoundError("no job id given")
    return text


def only_job(text: str, rows: Sequence[Row]) -> JobRecord:
    """The one job whose id starts with ``text`` (``rows``: up to six matches, as every
    backend reads them), else ``JobNotFoundError`` saying none or which several."""
    if not rows:
        raise JobNotFoundError(f"no job matches '{text}' (tau jobs list shows them)")
    if len(rows) > 1:
        shown = ", ".join(str(r[0])[:12] for r in rows[:5])
        raise JobNotFoundError(f"'{text}' matches several jobs ({shown}); give more of the id")
    return job_from_row(rows[0])
