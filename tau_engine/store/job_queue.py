"""``JobQueue``: the durable queue of background jobs, whatever database holds it.

SQLite (``store/jobs.py``) implements it now; PostgreSQL will implement the same
protocol (``SELECT … FOR UPDATE SKIP LOCKED`` to claim, ``LISTEN/NOTIFY`` to wake
idle workers). The guarantees every backend gives:

- ``claim`` is atomic: one transaction takes the next claimable job (highest
  priority, then oldest, with ``next_run_at`` passed), makes it ``running`` with
  the caller as lease owner, and increments its attempt and its fencing token.
  Two claimers never get the same job.
- Every write a worker makes (``heartbeat``, ``record``, ``finish``, …) names its
  ``Fence``; when the job's token has moved on (it was recovered, or cancelled
  with its owner gone) the write changes nothing and raises ``LeaseLostError``.
- ``recover`` requeues (or fails, once its attempts are spent) every running job
  whose lease expired and whose owner ``is_alive`` says is gone, bumping its fence
  so the old owner can no longer write.
- A busy database raises ``QueueBusyError``; callers retry it with jittered
  backoff (``jobs/queue.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from tau_engine.store.job_models import (
    AttemptDetail,
    AttemptRecord,
    Claim,
    Fence,
    HeartbeatAck,
    JobEvent,
    JobRecord,
    JobState,
    LeaseOwner,
    NewJob,
    Outcome,
    Progress,
    RecoveryReport,
    SubmitResult,
)

OwnerAlive = Callable[[LeaseOwner], bool]
"""Whether a lease's owner is still running (``False`` when it cannot be known)."""


class JobQueue(Protocol):
    """A workspace's queue of background jobs."""

    # -- submitting and reading -------------------------------------------------
    async def submit(self, job: NewJob) -> SubmitResult:
        """Record a job; with a key held by a live job, return that job instead."""
        ...

    async def get(self, id_or_prefix: str) -> JobRecord:
        """The job whose id is or starts with ``id_or_prefix`` (``JobNotFoundError``)."""
        ...

    async def list_jobs(self, *, states: set[JobState] | None = None,
                        limit: int = 100) -> list[JobRecord]:
        """Jobs, newest first."""
        ...

    async def attempts(self, job_id: str) -> list[AttemptRecord]:
        """The job's attempts, first first."""
        ...

    async def events(self, job_id: str, after_seq: int = 0) -> list[JobEvent]:
        """The job's log entries with ``seq > after_seq``, in order."""
        ...

    # -- a worker's side: every call after ``claim`` is fenced ------------------
    async def claim(self, owner: LeaseOwner, lease_s: float) -> Claim | None:
        """Take the next claimable job, or ``None`` when there is none."""
        ...

    async def heartbeat(self, fence: Fence, lease_s: float,
                        progress: Progress) -> HeartbeatAck:
        """Extend the lease and store the progress."""
        ...

    async def record(self, fence: Fence, event_type: str, data: dict[str, Any], *,
                     progress: Progress | None = None, session_id: str | None = None,
                     child_pid: int | None = None,
                     detail: AttemptDetail | None = None) -> HeartbeatAck:
        """Append to the job's log and update what the attempt has learnt about itself."""
        ...

    async def finish(self, fence: Fence, outcome: Outcome) -> JobRecord:
        """End the attempt: settle the job, or requeue it (``outcome.state`` queued)."""
        ...

    # -- recovery and the operator's verbs ----------------------------------------
    async def recover(self, is_alive: OwnerAlive) -> RecoveryReport:
        """Requeue (or fail, or cancel) running jobs whose lease expired and owner is gone."""
        ...

    async def request_cancel(self, job_id: str, is_alive: OwnerAlive) -> JobRecord:
        """Cancel a waiting job (or a running one whose owner is gone) now; ask a running
        one's worker to stop it."""
        ...

    async def block(self, job_id: str, message: str) -> JobRecord:
        """Hold a waiting job out of the queue, with the operator's reason."""
        ...

    async def append_event(self, job_id: str, event_type: str,
                           data: dict[str, Any]) -> None:
        """An operator's note in a job's log (unfenced: no worker writes through this)."""
        ...

    async def prune(self, finished_before: float) -> list[str]:
        """Delete succeeded, failed and cancelled jobs finished before the time; their ids."""
        ...

    async def wait_for_work(self, timeout_s: float) -> None:
        """Return when the queue may have changed, or after ``timeout_s``."""
        ...

    async def fence_holds(self, fence: Fence) -> bool:
        """Whether ``fence`` is still the job's current one (the job is still running)."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...
