"""The jobs part of the status snapshot: counts, leases and each job's next command.

It follows ``tau_engine.jobs.operator`` (the full view ``tau jobs show`` prints) for the
states liveness decides, reading the rows directly so that no pydantic model is built:

* ``running`` with an expired lease and an owner that is gone: ``stale-lease``;
* ``running`` with no progress for ``STUCK_AFTER_S``: ``stuck`` (``kill -9 PID`` when its
  worker on this machine no longer answers, else ``tau jobs cancel ID``);
* ``blocked`` for unsigned inputs or a mission needing authority: ``needs-authority``.

Settled jobs keep their stored state; their next command is ``tau jobs show ID``, which
says whether a replay is safe (that needs the job kind's own code). A row is untrusted
input: an owner that does not parse is no owner, so its expired lease is stale.
"""

from __future__ import annotations

import json

from tau_engine.jobs.liveness import owner_alive, same_machine
from tau_engine.status.model import JOB_STATES, Jobs, JobSummary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from tau_engine.jobs.liveness import OwnerIdentity
    from tau_engine.status.tables import Reader

STUCK_AFTER_S = 600.0
"""As ``tau_engine.jobs.operator.STUCK_AFTER_S`` (a test keeps them equal)."""
AUTHORITY_REASONS = ("unsigned-inputs", "needs-authority")
JOB_COLUMNS = (
    "id, kind, state, reason, phase, attempt, max_attempts, updated_at, owner, "
    "lease_expires_at, heartbeat_at, progress_at, started_at, cancel_requested_at, "
    "result"
)


class _Owner:
    """A lease owner read from its JSON column (the fields liveness needs)."""

    __slots__ = ("boot_id", "host", "pid", "pid_start")

    def __init__(self, host: str, boot_id: str, pid: int, pid_start: int | None) -> None:
        self.host, self.boot_id, self.pid, self.pid_start = host, boot_id, pid, pid_start


def parse_owner(text: object) -> _Owner | None:
    """The owner in a ``jobs.owner`` value, or None when it is absent or malformed."""
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    host, boot, pid, start = (
        data.get("host"),
        data.get("boot_id", ""),
        data.get("pid"),
        data.get("pid_start"),
    )
    if (
        not isinstance(host, str)
        or not isinstance(boot, str)
        or type(pid) is not int
        or not (start is None or type(start) is int)
    ):
        return None
    return _Owner(host, boot, pid, start)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _unblock(result: object) -> str | None:
    if not isinstance(result, str):
        return None
    try:
        data = json.loads(result)
    except ValueError:
        return None
    command = data.get("next_command") if isinstance(data, dict) else None
    return command if isinstance(command, str) and command else None


def summarize(
    row: tuple[object, ...],
    now: float,
    *,
    is_alive: Callable[[OwnerIdentity], bool] = owner_alive,
    on_this_machine: Callable[[OwnerIdentity], bool] = same_machine,
) -> JobSummary:
    """One job row (``JOB_COLUMNS``) as the operator sees it."""
    job_id, state, reason = _text(row[0]), _text(row[2]), _text(row[3])
    short = job_id[:8]
    operator_state, command = state, f"tau jobs show {short}"
    if state in ("queued", "recovering"):
        operator_state, command = "queued", "tau jobs run"
    elif state == "running":
        owner = parse_owner(row[8])
        expires = _number(row[9])
        expires = now if expires is None else expires
        alive = owner is not None and is_alive(owner)
        quiet = now - (_number(row[11]) or _number(row[12]) or now)
        if expires < now and not alive:
            operator_state, command = "stale-lease", "tau jobs recover"
        elif quiet >= STUCK_AFTER_S:
            hung = expires < now or row[13] is not None
            operator_state = "stuck"
            if hung and owner is not None and on_this_machine(owner):
                command = f"kill -9 {owner.pid}"
            else:
                command = f"tau jobs cancel {short}"
    elif state == "blocked":
        if reason in AUTHORITY_REASONS:
            operator_state = "needs-authority"
        if reason != "unsigned-inputs":
            command = _unblock(row[14]) or command
    elif state == "succeeded":
        operator_state = "complete"
    attempt, max_attempts = row[5], row[6]
    return JobSummary(
        id=job_id,
        kind=_text(row[1]),
        state=state,
        operator_state=operator_state,
        reason=reason,
        phase=_text(row[4]),
        attempt=attempt if type(attempt) is int else 0,
        max_attempts=max_attempts if type(max_attempts) is int else 0,
        updated_at=_number(row[7]) or 0.0,
        next_command=command,
    )


def read_jobs(
    conn: Reader,
    now: float,
    limit: int,
    *,
    scope: str = "1 = 1",
    scope_params: tuple[str, ...] = (),
) -> Jobs:
    """The jobs section, inside the caller's read transaction; ``scope`` (a condition with
    ``?`` placeholders for ``scope_params``) picks this workspace's jobs in a store that
    several workspaces share."""
    by_state = dict.fromkeys(JOB_STATES, 0)
    authority = 0
    # One scan counts every state and the blocked jobs that need authority.
    for state, needs, count in conn.execute(
        "SELECT state, CASE WHEN state = 'blocked' AND reason IN (?, ?) THEN 1 ELSE 0 END, "
        f"count(*) FROM jobs WHERE {scope} GROUP BY 1, 2",
        (*AUTHORITY_REASONS, *scope_params),
    ):
        by_state[str(state)] = by_state.get(str(state), 0) + int(count)
        authority += int(count) if needs else 0
    # Liveness matters only for running jobs (an index covers them): the rest are counted.
    running = conn.execute(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE {scope} AND state = 'running' ORDER BY created_at",
        scope_params,
    ).fetchall()
    blocked = (
        conn.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE {scope} AND state = 'blocked' "
            "AND reason IN (?, ?) ORDER BY created_at",
            (*scope_params, *AUTHORITY_REASONS),
        ).fetchall()
        if authority
        else []
    )
    watched = [summarize(row, now) for row in running + blocked]
    attention = tuple(
        job for job in watched if job.operator_state in ("stale-lease", "stuck", "needs-authority")
    )
    recent = tuple(
        summarize(row, now)
        for row in conn.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE {scope} ORDER BY created_at DESC LIMIT ?",
            (*scope_params, limit),
        )
    )
    return Jobs(
        total=sum(by_state.values()),
        by_state=by_state,
        stale=sum(job.operator_state == "stale-lease" for job in watched),
        stuck=sum(job.operator_state == "stuck" for job in watched),
        needs_authority=sum(job.operator_state == "needs-authority" for job in watched),
        attention=attention,
        recent=recent,
    )
