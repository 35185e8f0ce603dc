"""The job queue's decisions, said once for every backend: what a duplicate key means,
how an attempt's outcome settles its job, what recovery does with an expired lease,
when a cancel waits for the worker, and what each log entry records.

A backend (``store/sqlite/jobs*.py``, ``store/postgres/jobs*.py``) keeps only its SQL:
it reads the rows, asks these functions what the change is, and writes it in its own
dialect inside its own transaction. So the two backends cannot drift apart on a rule,
and the shared contract tests (``tests/jobs/test_queue.py``) hold both to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tau_engine.errors import LeaseLostError, UsageError
from tau_engine.store.api import OwnerAlive
from tau_engine.store.job_models import (
    Fence,
    JobRecord,
    JobState,
    LeaseOwner,
    NewJob,
    Outcome,
    Progress,
    Reason,
    RecoveredJob,
    SubmitResult,
)

CANCELLED_WHILE_GONE = "cancelled while its owner was gone"


def fence_of(job: JobRecord) -> Fence:
    """The fence of ``job``'s current attempt."""
    return Fence(job_id=job.id, token=job.fence, attempt=job.attempt)


# -- submitting ----------------------------------------------------------------------
def existing_for_key(held: JobRecord, job: NewJob) -> SubmitResult:
    """A submit meeting a live job with its key: that job, when the inputs are the same;
    ``UsageError`` when they are not (the key names one piece of work)."""
    if held.kind != job.kind or held.inputs != job.inputs:
        raise UsageError(
            f"key '{job.key}' is held by live job {held.id[:8]} "
            f"({held.state}) with other inputs; wait for it or cancel it"
        )
    return SubmitResult(job=held, created=False)


def submitted_data(job: NewJob) -> dict[str, Any]:
    """The ``submitted`` log entry."""
    return {
        "kind": job.kind,
        "key": job.key,
        "priority": job.priority,
        "max_attempts": job.max_attempts,
        "replay_of": job.replay_of,
    }


# -- the worker's writes ---------------------------------------------------------------
def claimed_data(owner: LeaseOwner, job: JobRecord) -> dict[str, Any]:
    """The ``claimed`` log entry."""
    return {
        "worker": owner.worker,
        "pid": owner.pid,
        "host": owner.host,
        "fence": job.fence,
        "reason": job.reason,
    }


def touch_assignments(lease: bool, progress: bool, param: Any) -> list[str]:
    """The columns every fenced worker write sets (``param("now")`` is the backend's
    placeholder for a named parameter): the lease when renewed, the progress when it
    changed (``progress_at`` moves only when the phase or the last line did)."""
    now, phase, line = param("now"), param("phase"), param("line")
    sets = [f"updated_at = {now}", f"session_id = coalesce({param('session')}, session_id)"]
    if lease:
        sets += [f"lease_expires_at = {now} + {param('lease')}", f"heartbeat_at = {now}"]
    if progress:
        sets += [
            f"progress_at = CASE WHEN phase != {phase} OR last_line != {line} "
            f"THEN {now} ELSE progress_at END",
            f"phase = {phase}",
            f"last_line = {line}",
        ]
    return sets


def touch_params(
    fence: Fence,
    now: float,
    lease_s: float | None,
    progress: Progress | None,
    session_id: str | None,
) -> dict[str, Any]:
    """The named parameters of ``touch_assignments`` and the fenced condition."""
    return {
        "now": now,
        "lease": lease_s,
        "session": session_id,
        "id": fence.job_id,
        "fence": fence.token,
        "phase": progress.phase if progress else "",
        "line": progress.last_line if progress else "",
    }


def stale_fence(fence: Fence) -> LeaseLostError:
    """What a fenced write that matched no row means."""
    return LeaseLostError(
        f"job {fence.job_id[:8]}: fence {fence.token} is stale; "
        "another worker or a recovery owns the job now"
    )


@dataclass(frozen=True)
class Settlement:
    """How one attempt's outcome leaves its job: the row's new values."""

    state: JobState
    reason: str
    settled: bool  # False: queued again for a retry at ``next_run_at``
    next_run_at: float | None
    finished_at: float | None
    last_error: str
    result: str | None  # JSON, or None to keep the row's

    @property
    def phase(self) -> str:
        return "finished" if self.settled else "waiting to retry"


def settle(job: JobRecord, outcome: Outcome, now: float) -> Settlement:
    """The job after ``outcome``: a retry asked for by the last allowed attempt fails it
    instead (``attempts-exhausted``)."""
    state, reason = outcome.state, outcome.reason
    if state is JobState.QUEUED and job.attempt >= job.max_attempts:
        state, reason = JobState.FAILED, Reason.ATTEMPTS_EXHAUSTED
    settled = state is not JobState.QUEUED
    return Settlement(
        state=state,
        reason=reason,
        settled=settled,
        next_run_at=None if settled else (outcome.retry_at or now),
        finished_at=now if settled else None,
        last_error=outcome.error or job.last_error,
        result=None if outcome.result is None else json.dumps(outcome.result),
    )


def finished_data(settlement: Settlement, outcome: Outcome) -> dict[str, Any]:
    """The ``finished`` log entry."""
    return {
        "state": settlement.state.value,
        "reason": settlement.reason,
        "message": outcome.message,
        "error": outcome.error,
        "exit_code": outcome.exit_code,
        "retry_at": settlement.next_run_at,
    }


# -- recovery ----------------------------------------------------------------------------
def left_alone(job: JobRecord, now: float) -> RecoveredJob:
    """A job whose lease expired while its owner still runs: slow, not dead."""
    expired = now - (job.lease_expires_at or now)
    pid = job.owner.pid if job.owner else "?"
    return RecoveredJob(
        job_id=job.id,
        action="left-alone",
        reason="slow",
        detail=f"lease expired {expired:.0f} s ago but owner pid {pid} is still "
        "running: slow, not dead",
    )


@dataclass(frozen=True)
class Verdict:
    """What recovery does with one job whose lease expired and whose owner is gone."""

    state: JobState
    reason: str
    action: str  # "cancelled", "failed" or "requeued"
    detail: str  # why, for the attempt's error and the log

    @property
    def settled(self) -> bool:
        return self.state is not JobState.RECOVERING

    def next_run_at(self, now: float) -> float | None:
        return None if self.settled else now

    def finished_at(self, now: float) -> float | None:
        return now if self.settled else None

    def data(self) -> dict[str, Any]:
        """The ``recovered`` log entry."""
        return {
            "action": self.action,
            "reason": Reason.STALE_LEASE,
            "detail": self.detail,
            "state": self.state.value,
        }

    def report(self, job_id: str) -> RecoveredJob:
        return RecoveredJob(
            job_id=job_id, action=self.action, reason=self.reason, detail=self.detail
        )


def recovery_verdict(job: JobRecord, now: float) -> Verdict:
    """A cancel asked for finishes as cancelled; the last allowed attempt fails the job;
    any other is requeued (``recovering``) with a new fence."""
    owner = job.owner
    gone = f"lease expired {now - (job.lease_expires_at or now):.0f} s ago; owner " + (
        f"pid {owner.pid} on {owner.host} is not running" if owner else "unknown"
    )
    if job.cancel_requested_at is not None:
        return Verdict(JobState.CANCELLED, Reason.OPERATOR_CANCEL, "cancelled", gone)
    if job.attempt >= job.max_attempts:
        return Verdict(JobState.FAILED, Reason.ATTEMPTS_EXHAUSTED, "failed", gone)
    return Verdict(JobState.RECOVERING, Reason.STALE_LEASE, "requeued", gone)


# -- the operator's verbs ------------------------------------------------------------------
def cancel_asks_the_worker(job: JobRecord, now: float, is_alive: OwnerAlive) -> bool:
    """Whether a cancel of ``job`` is a request its worker acts on (a running job whose
    lease holds or whose owner runs), rather than a change made at once. ``UsageError``
    for a job that has already ended."""
    if job.settled:
        raise UsageError(f"job {job.id[:8]} is already {job.state}; nothing to cancel")
    if job.state is not JobState.RUNNING:
        return False
    lease_over = (job.lease_expires_at or 0) < now
    return not lease_over or (job.owner is not None and is_alive(job.owner))


def cancelled_data(job: JobRecord) -> dict[str, Any]:
    """The ``cancelled`` log entry."""
    return {"reason": Reason.OPERATOR_CANCEL, "was": job.state.value}


def check_blockable(job: JobRecord) -> None:
    """``UsageError`` unless ``job`` waits (only a waiting job can be held back)."""
    if job.state is JobState.RUNNING:
        raise UsageError(
            f"job {job.id[:8]} is running; cancel it first (tau jobs cancel {job.id[:8]})"
        )
    if job.settled:
        raise UsageError(f"job {job.id[:8]} is already {job.state}")


def blocked_data(message: str) -> dict[str, Any]:
    """The ``blocked`` log entry."""
    return {"reason": Reason.OPERATOR_BLOCK, "message": message}
