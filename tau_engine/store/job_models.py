"""What the job queue stores and hands back: jobs, attempts, events, claims and outcomes.

These types are the contract between the queue's backends (SQLite now, PostgreSQL
later) and the code above them (``tau_engine/jobs``): nothing here knows SQL.
Times are unix seconds from the queue's clock.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class JobState(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"  # waiting for a worker (maybe until next_run_at)
    RUNNING = "running"  # a worker holds its lease
    RECOVERING = "recovering"  # its lease expired with its owner gone; requeued for recovery
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"  # held out of the queue: by the operator, or it needs authority
    CANCELLED = "cancelled"


LIVE_STATES = frozenset({JobState.QUEUED, JobState.RUNNING, JobState.RECOVERING})
"""States in which a job still runs by itself; a dedup key is held only while live."""
CLAIMABLE_STATES = frozenset({JobState.QUEUED, JobState.RECOVERING})
SETTLED_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.BLOCKED, JobState.CANCELLED}
)


class Reason(StrEnum):
    """Why a job is in its state (``JobRecord.reason``) or why an attempt started or ended."""

    SUBMITTED = "submitted"
    REPLAY = "replay"  # a new job made from an old one's recorded inputs
    RETRY = "retry"  # requeued after a failure that may pass on another try
    STALE_LEASE = "stale-lease"  # requeued after its owner stopped heartbeating
    WORKER_SHUTDOWN = "worker-shutdown"  # its worker was stopped hard and let it go
    HEARTBEAT_FAILED = "heartbeat-failed"  # its worker could not renew the lease, and stopped it
    COMPLETED = "completed"
    RUN_FAILED = "run-failed"
    BAD_INPUT = "bad-input"
    CRASHED = "crashed"  # the job's process died by a signal nobody sent it
    ATTEMPTS_EXHAUSTED = "attempts-exhausted"
    BUDGET = "budget"
    MAX_TURNS = "max-turns"
    OPERATOR_BLOCK = "operator-block"
    OPERATOR_CANCEL = "operator-cancel"
    UNSIGNED_INPUTS = "unsigned-inputs"  # not submitted by this user: needs authority
    MISSION_BLOCKED = "mission-blocked"
    NEEDS_AUTHORITY = "needs-authority"  # a mission that needs edit authority (--patch)
    UNREADABLE = "unreadable"  # its row cannot be read (damaged, or not written by tau)


class LeaseOwner(BaseModel):
    """Who holds a lease: enough to tell, on the same host, whether it is still alive.

    ``pid_start`` is the process's start time in clock ticks since boot
    (``/proc/PID/stat``), so a recycled pid is not taken for the owner.
    """

    model_config = ConfigDict(frozen=True)

    worker: str
    host: str
    boot_id: str = ""
    pid: int
    pid_start: int | None = None


class JobRecord(BaseModel):
    """One job's row."""

    id: str
    kind: str
    inputs: dict[str, Any]
    signature: str = ""
    key: str | None = None
    priority: int = 0
    state: JobState
    reason: str
    message: str = ""
    attempt: int = 0  # attempts started so far
    max_attempts: int = 1
    fence: int = 0  # bumped by every claim and recovery: the fencing token
    owner: LeaseOwner | None = None
    lease_expires_at: float | None = None
    heartbeat_at: float | None = None
    progress_at: float | None = None  # when the phase or the last line last changed
    phase: str = ""
    last_line: str = ""
    last_error: str = ""
    next_run_at: float | None = None
    cancel_requested_at: float | None = None
    replay_of: str | None = None
    session_id: str | None = None
    result: dict[str, Any] | None = None
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def settled(self) -> bool:
        return self.state in SETTLED_STATES


class AttemptRecord(BaseModel):
    """One run of a job by one worker."""

    job_id: str
    attempt: int
    fence: int
    reason: str  # why it started (submitted, retry, stale-lease, replay...)
    owner: LeaseOwner
    started_at: float
    finished_at: float | None = None
    outcome: str | None = None  # the state it ended the job in, or stale-lease
    end_reason: str | None = None
    error: str = ""
    session_id: str | None = None
    child_pid: int | None = None
    exit_code: int | None = None
    side_effects: bool = False  # it ran a tool that may have changed something
    detail: dict[str, Any] = Field(default_factory=dict)


class JobEvent(BaseModel):
    """One entry of a job's append-only log (the engine's own events live in its session)."""

    job_id: str
    seq: int
    ts: float
    type: str
    attempt: int = 0
    data: dict[str, Any] = Field(default_factory=dict)


class NewJob(BaseModel):
    """A job to submit. ``id`` is chosen by the submitter so the signature can cover it."""

    id: str
    kind: str
    inputs: dict[str, Any]
    signature: str = ""
    key: str | None = None
    priority: int = 0
    max_attempts: int = 1
    reason: str = Reason.SUBMITTED
    replay_of: str | None = None


class SubmitResult(BaseModel):
    """The job submitted, or the live job that already held the key (``created`` false)."""

    job: JobRecord
    created: bool


class Fence(BaseModel):
    """A worker's hold on one attempt of one job: every write it makes carries this."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    token: int
    attempt: int


class Claim(BaseModel):
    """What a successful claim returns: the job as it now is, and the fence to write with."""

    job: JobRecord
    fence: Fence


class Progress(BaseModel):
    """What a heartbeat carries: the phase and the job's last line of output."""

    phase: str = ""
    last_line: str = ""


class HeartbeatAck(BaseModel):
    """The queue's answer to a fenced write: the lease's new expiry and whether to stop."""

    lease_expires_at: float | None = None
    cancel_requested: bool = False


class Outcome(BaseModel):
    """How an attempt ends the job.

    ``state`` ``queued`` requeues it (a retry at ``retry_at``); the others settle it.
    """

    state: JobState
    reason: str
    message: str = ""
    error: str = ""
    result: dict[str, Any] | None = None
    retry_at: float | None = None
    exit_code: int | None = None
    side_effects: bool = False


class RecoveredJob(BaseModel):
    """One job a recovery pass looked at, and what it did with it."""

    job_id: str
    action: str  # requeued | failed | cancelled | left-alone
    reason: str
    detail: str = ""


class RecoveryReport(BaseModel):
    """Everything one recovery pass did."""

    jobs: list[RecoveredJob] = Field(default_factory=list)
    skipped: bool = False
    """Another recovery pass of the same queue was running, so this one did nothing
    (a shared store lets one sweeper at a time judge and requeue expired leases)."""

    def by_action(self, action: str) -> list[RecoveredJob]:
        return [job for job in self.jobs if job.action == action]


AttemptDetail = dict[str, Any]
"""Kind-specific facts about an attempt (its recording, its mission id)."""
