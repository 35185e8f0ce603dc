"""The operator's view of a job: one state, a one-line reason and the exact next command.

Derived from the job's record (its row and its attempts) alone, plus the time
and, for a lease on this machine, whether its owner process still runs:

| operator state   | when                                                            |
|------------------|-----------------------------------------------------------------|
| queued           | waiting for a worker (or for its retry time)                    |
| running          | a worker holds a live lease (or its owner runs: slow, not dead)  |
| stuck            | running, but no progress for ``stuck_after_s``                  |
| stale-lease      | its lease expired and its owner is gone                         |
| needs-authority  | blocked until the user grants authority (unsigned inputs, a     |
|                  | mission that needs ``--patch`` or a model)                      |
| blocked          | held by the operator (``tau jobs block``)                       |
| complete         | succeeded                                                       |
| safe-to-replay   | failed or cancelled, and running it again repeats nothing       |
| failed           | failed, and some attempt may have changed things                |
| cancelled        | cancelled after it changed things                               |
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tau_engine.store.job_models import (
    AttemptRecord,
    JobRecord,
    JobState,
    LeaseOwner,
    Reason,
)

STUCK_AFTER_S = 600.0
OPERATOR_STATES = (
    "queued",
    "running",
    "stuck",
    "stale-lease",
    "needs-authority",
    "blocked",
    "complete",
    "safe-to-replay",
    "failed",
    "cancelled",
)


@dataclass(frozen=True)
class OperatorView:
    """What the operator should know about a job and do next."""

    state: str
    reason: str
    next_command: str

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "reason": self.reason, "next_command": self.next_command}


def ago(seconds: float) -> str:
    """``93 s``, ``12 min``, ``3 h``, ``2 d``."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def _where(owner: LeaseOwner | None, same_machine: Callable[[LeaseOwner], bool]) -> str:
    if owner is None:
        return "no owner"
    return f"pid {owner.pid}" + ("" if same_machine(owner) else f" on {owner.host}")


def _tail(job: JobRecord) -> str:
    phase = job.phase or "?"
    return f"phase {phase}" + (f": {job.last_line[:80]}" if job.last_line else "")


def operator_view(
    job: JobRecord,
    attempts: list[AttemptRecord],
    *,
    now: float,
    is_alive: Callable[[LeaseOwner], bool],
    same_machine: Callable[[LeaseOwner], bool],
    replay_safe: bool,
    submit_argv: list[str] | None = None,
    stuck_after_s: float = STUCK_AFTER_S,
) -> OperatorView:
    """Derive the operator's view. ``replay_safe`` comes from the job's kind;
    ``submit_argv`` is the ``tau jobs submit`` arguments that would remake it."""
    short = job.id[:8]
    attempt = f"attempt {job.attempt}/{job.max_attempts}"
    if job.state in (JobState.QUEUED, JobState.RECOVERING):
        waits = f"queued {ago(now - job.created_at)} ago, priority {job.priority}"
        if job.state is JobState.RECOVERING or job.reason == Reason.STALE_LEASE:
            waits = f"requeued after a stale lease ({job.last_error})"
        elif job.reason in (Reason.RETRY, Reason.CRASHED, Reason.WORKER_SHUTDOWN):
            waits = f"requeued ({job.reason}: {job.last_error or 'no detail'})"
        if job.next_run_at is not None and job.next_run_at > now:
            waits += f"; next run in {ago(job.next_run_at - now)}"
        return OperatorView(
            "queued", f"{waits}; attempt {job.attempt + 1}/{job.max_attempts} next", "tau jobs run"
        )
    if job.state is JobState.RUNNING:
        return _running(job, now, is_alive, same_machine, stuck_after_s, attempt)
    if job.state is JobState.SUCCEEDED:
        took = ago((job.finished_at or now) - (job.started_at or job.created_at))
        result = job.result or {}
        session = result.get("session_id") or job.session_id
        command = str(
            result.get("next_command")
            or (f"tau sessions show {session[:8]}" if session else f"tau jobs show {short}")
        )
        return OperatorView("complete", f"succeeded on {attempt} after {took}", command)
    if job.state is JobState.BLOCKED:
        return _blocked(job, short, submit_argv)
    changed = [a.attempt for a in attempts if a.side_effects]
    effects = f"; attempt {', '.join(map(str, changed))} may have changed files" if changed else ""
    if job.state is JobState.CANCELLED:
        reason = (
            f"cancelled by the operator on {attempt}"
            if job.attempt
            else "cancelled by the operator before it ran"
        )
        if replay_safe:
            return OperatorView(
                "safe-to-replay",
                f"{reason}; nothing it did needs undoing",
                f"tau jobs replay {short}",
            )
        return OperatorView("cancelled", reason + effects, f"tau jobs show {short}")
    error = f": {job.last_error}" if job.last_error else ""
    reason = f"failed ({job.reason}) on {attempt}{error}"
    if job.reason == Reason.BAD_INPUT:
        return OperatorView("failed", reason, f"tau jobs show {short}")
    if replay_safe:
        return OperatorView(
            "safe-to-replay", f"{reason}; no attempt changed anything", f"tau jobs replay {short}"
        )
    return OperatorView("failed", reason + effects, f"tau jobs show {short}")


def _running(
    job: JobRecord,
    now: float,
    is_alive: Callable[[LeaseOwner], bool],
    same_machine: Callable[[LeaseOwner], bool],
    stuck_after_s: float,
    attempt: str,
) -> OperatorView:
    short = job.id[:8]
    owner = job.owner
    expires = job.lease_expires_at or now
    where = _where(owner, same_machine)
    if expires < now and not (owner is not None and is_alive(owner)):
        if owner is not None and same_machine(owner):
            why = f"owner {where} is not running"
        else:
            why = f"owner {where} cannot be checked from here"
        return OperatorView(
            "stale-lease", f"lease expired {ago(now - expires)} ago; {why}", "tau jobs recover"
        )
    quiet = now - (job.progress_at or job.started_at or now)
    heartbeat = f"heartbeat {ago(now - (job.heartbeat_at or now))} ago"
    if quiet >= stuck_after_s:
        reason = f"no progress for {ago(quiet)} ({_tail(job)}); {heartbeat}, {where}"
        hung = expires < now or job.cancel_requested_at is not None
        if hung and owner is not None and same_machine(owner):
            # Its worker no longer renews the lease (or acts on the cancel): only killing
            # it frees the job, which recovery then requeues.
            return OperatorView(
                "stuck", f"{reason}; its worker does not answer", f"kill -9 {owner.pid}"
            )
        return OperatorView("stuck", reason, f"tau jobs cancel {short}")
    if expires < now:
        state = f"lease expired {ago(now - expires)} ago but owner {where} is alive: slow, not dead"
    else:
        state = f"{heartbeat}, lease {ago(expires - now)} left"
    cancel = ""
    if job.cancel_requested_at is not None:
        cancel = f"; cancel requested {ago(now - job.cancel_requested_at)} ago"
    return OperatorView(
        "running", f"{attempt} on {where}, {_tail(job)}; {state}{cancel}", f"tau jobs show {short}"
    )


def _blocked(job: JobRecord, short: str, submit_argv: list[str] | None) -> OperatorView:
    if job.reason == Reason.UNSIGNED_INPUTS:
        command = (
            ("tau jobs submit " + shlex.join(submit_argv))
            if submit_argv
            else f"tau jobs show {short}"
        )
        return OperatorView(
            "needs-authority",
            "its inputs were not submitted by you on this "
            "machine (no valid signature); read them, then submit them "
            "yourself if you mean to run them",
            command,
        )
    unblock = str((job.result or {}).get("next_command") or f"tau jobs show {short}")
    if job.reason == Reason.NEEDS_AUTHORITY:
        return OperatorView("needs-authority", job.message or job.reason, unblock)
    if job.reason == Reason.MISSION_BLOCKED:
        return OperatorView("blocked", job.message or job.reason, unblock)
    text = job.message or job.reason
    return OperatorView("blocked", f"blocked by the operator: {text}", f"tau jobs replay {short}")
