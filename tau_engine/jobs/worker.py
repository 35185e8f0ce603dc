"""The worker behind ``tau jobs run``: claim a job, run it in a child process, record it.

A worker has ``slots`` (``--workers N``), each running one job at a time. Each
slot claims atomically (``JobQueue.claim``), starts the job's child, heartbeats
while it runs, writes the job's progress and log with its fence, and records
the outcome. It stops the child at once, writing nothing more, when the lease
is lost; on a cancel request it asks the child to stop (SIGTERM), and kills its
process group after ``cancel_grace_s``.

Recovery needs no wiring: the worker runs a recovery pass when it starts and
every ``recover_every_s``. ``drain()`` (the first SIGTERM or Ctrl+C) stops
claiming and lets running jobs finish, their heartbeats going on; ``stop_now()``
(the second) stops them and hands them back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tau_engine.errors import StoreError, TauError
from tau_engine.jobs.kinds import AttemptContext, AttemptObserver, JobKind
from tau_engine.jobs.liveness import current_owner, owner_alive
from tau_engine.jobs.process import JobProcess
from tau_engine.jobs.queue import Lease, check_timing, retry_busy
from tau_engine.jobs.signing import JobSigner
from tau_engine.paths import WorkspacePaths
from tau_engine.store.api import JobQueue, OwnerAlive
from tau_engine.store.job_models import (
    Claim,
    JobRecord,
    JobState,
    LeaseOwner,
    Outcome,
    Reason,
    RecoveryReport,
)

LogFn = Callable[[str], None]


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker runs. The heartbeat must be a third of the lease or less."""

    slots: int = 1
    lease_s: float = 60.0
    heartbeat_s: float = 10.0
    cancel_grace_s: float = 10.0
    recover_every_s: float = 30.0
    idle_wait_s: float = 1.0
    once: bool = False  # each slot runs at most one job
    until_empty: bool = False  # a slot stops when nothing is claimable

    def check(self) -> None:
        check_timing(self.lease_s, self.heartbeat_s)
        if self.slots < 1:
            raise TauError("a worker needs at least one slot")


@dataclass
class WorkerReport:
    """What a worker did before it stopped."""

    ran: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    recovered: int = 0


class Worker:
    """Runs jobs from one workspace's queue until drained or out of work."""

    def __init__(
        self,
        queue: JobQueue,
        paths: WorkspacePaths,
        kinds: Mapping[str, JobKind],
        config: WorkerConfig,
        *,
        signer: JobSigner,
        environ: Mapping[str, str],
        log: LogFn | None = None,
        is_alive: OwnerAlive = owner_alive,
        clock: Callable[[], float] = time.time,
    ) -> None:
        config.check()
        self.queue = queue
        self.paths = paths
        self.kinds = dict(kinds)
        self.config = config
        self.signer = signer
        self.environ = dict(environ)
        self.is_alive = is_alive
        self.report = WorkerReport()
        self._log = log or (lambda _text: None)
        self._clock = clock
        self._draining = asyncio.Event()
        self._hard_stop = asyncio.Event()
        self.leases: dict[int, Lease] = {}  # slot -> the lease it holds now

    def owner(self, slot: int) -> LeaseOwner:
        return current_owner(f"slot-{slot}")

    # -- lifecycle ---------------------------------------------------------------
    async def run(self) -> WorkerReport:
        """Recover, then run every slot until it stops; returns what was done."""
        await self.recover()
        recovering = asyncio.ensure_future(self._recover_periodically())
        try:
            await asyncio.gather(*(self._slot(n) for n in range(self.config.slots)))
        finally:
            recovering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recovering
        return self.report

    def drain(self) -> None:
        """Stop claiming; running jobs finish (and keep heartbeating)."""
        self._draining.set()

    def stop_now(self) -> None:
        """Stop running jobs too, handing them back to the queue."""
        self._draining.set()
        self._hard_stop.set()

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    async def recover(self) -> RecoveryReport:
        report = await retry_busy(lambda: self.queue.recover(self.is_alive))
        for job in report.jobs:
            if job.action != "left-alone":
                self.report.recovered += 1
                self._log(f"job {job.job_id[:8]} {job.action} ({job.reason}): {job.detail}")
        return report

    async def _recover_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.recover_every_s)
            try:
                await self.recover()
            except StoreError as exc:
                self._log(f"recovery pass failed: {exc}")

    async def _slot(self, slot: int) -> None:
        owner = self.owner(slot)
        while not self._draining.is_set():
            claim = await retry_busy(lambda: self.queue.claim(owner, self.config.lease_s))
            if claim is None:
                if self.config.once or self.config.until_empty:
                    return
                await self._idle()
                continue
            await self.run_attempt(slot, claim)
            if self.config.once:
                return

    async def _idle(self) -> None:
        waiting = asyncio.ensure_future(self.queue.wait_for_work(self.config.idle_wait_s))
        draining = asyncio.ensure_future(self._draining.wait())
        try:
            await asyncio.wait({waiting, draining}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiting, draining):
                task.cancel()
            await asyncio.gather(waiting, draining, return_exceptions=True)

    # -- one attempt -------------------------------------------------------------
    async def run_attempt(self, slot: int, claim: Claim) -> JobRecord | None:
        """Run one claimed attempt to its end; the job as recorded, ``None`` if lost."""
        lease = Lease(
            self.queue, claim, lease_s=self.config.lease_s, heartbeat_s=self.config.heartbeat_s
        )
        self.leases[slot] = lease
        lease.start()
        job = claim.job
        self._log(
            f"job {job.id[:8]} attempt {job.attempt}/{job.max_attempts} started "
            f"({job.kind}, {job.reason})"
        )
        started = time.monotonic()
        try:
            outcome = await self._attempt(lease)
            final = None if outcome is None else await lease.finish(outcome)
            if final is None and not lease.stale:
                # The queue still names this worker, alive, as the owner: nobody else will
                # take the job, so say it stopped as soon as the queue answers again.
                final = await lease.release(
                    Outcome(
                        state=JobState.QUEUED,
                        reason=Reason.HEARTBEAT_FAILED,
                        error=lease.lost_reason or "its worker stopped it",
                    ),
                    self._hard_stop,
                )
        finally:
            await lease.stop()
            self.leases.pop(slot, None)
        self.report.ran += 1
        took = time.monotonic() - started
        if final is None:
            self.report.lost += 1
            self._log(
                f"job {job.id[:8]} attempt {job.attempt}: lost its lease "
                f"({lease.lost_reason}); stopped without writing"
            )
            return None
        self.report.outcomes[final.state] = self.report.outcomes.get(final.state, 0) + 1
        self._log(
            f"job {job.id[:8]} attempt {job.attempt}: {final.state} ({final.reason}) "
            f"in {took:.1f} s"
        )
        return final

    async def _attempt(self, lease: Lease) -> Outcome | None:
        job = lease.job
        kind = self.kinds.get(job.kind)
        if kind is None:
            return Outcome(
                state=JobState.FAILED,
                reason=Reason.BAD_INPUT,
                error=f"this tau does not know job kind '{job.kind}'",
            )
        if not self.signer.verify(job.id, job.kind, job.inputs, job.signature):
            return Outcome(
                state=JobState.BLOCKED,
                reason=Reason.UNSIGNED_INPUTS,
                message="its inputs are not signed with your key: they were not "
                "submitted by you on this machine",
            )
        try:
            attempts = await retry_busy(lambda: self.queue.attempts(job.id))
        except StoreError as exc:
            return Outcome(
                state=JobState.QUEUED,
                reason=Reason.RETRY,
                error=f"cannot read the job's attempts: {exc}",
            )
        try:
            inputs = kind.validate(job.inputs)
            ctx = AttemptContext(
                job=job,
                fence=lease.fence,
                paths=self.paths,
                environ=self.environ,
                attempts=tuple(attempts),
            )
            spec = kind.child(ctx, inputs)
        except TauError as exc:
            return Outcome(state=JobState.FAILED, reason=Reason.BAD_INPUT, error=str(exc))
        if lease.cancel_requested.is_set() or await self._cancel_pending(lease):
            return Outcome(
                state=JobState.CANCELLED,
                reason=Reason.OPERATOR_CANCEL,
                message="cancelled before it started",
            )
        try:
            proc = await JobProcess.start(spec.argv, cwd=spec.cwd, env=spec.env, stdin=spec.stdin)
        except OSError as exc:
            return Outcome(
                state=JobState.FAILED,
                reason=Reason.RUN_FAILED,
                error=f"cannot start the job: {exc.strerror or exc}",
            )
        observer = kind.observer(ctx)
        await lease.record("started", {"pid": proc.pid}, child_pid=proc.pid, detail=spec.detail)
        pump = asyncio.ensure_future(self._pump(proc, observer, lease))
        try:
            how = await self._supervise(proc, lease)
            if how == "lost":
                return None
            exit_code = proc.returncode if proc.returncode is not None else await proc.wait()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(pump), 5.0)
        finally:
            if not pump.done():
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)
            if proc.returncode is None:
                await proc.kill()
        if lease.lost.is_set():
            return None
        if how == "shutdown":
            return Outcome(
                state=JobState.QUEUED,
                reason=Reason.WORKER_SHUTDOWN,
                error="its worker was stopped while it ran",
                exit_code=exit_code,
                side_effects=observer.side_effects,
            )
        return observer.outcome(exit_code, cancelled=how == "cancelled", now=self._clock())

    async def _cancel_pending(self, lease: Lease) -> bool:
        """A fenced phase write before starting: it also tells whether cancel was asked."""
        await lease.record("phase", {"phase": "starting"})
        return lease.cancel_requested.is_set()

    async def _pump(self, proc: JobProcess, observer: AttemptObserver, lease: Lease) -> None:
        async for stream, line in proc.lines():
            seen = observer.feed(stream, line)
            lease.progress = observer.progress
            if seen is None or lease.lost.is_set():
                continue
            if seen.event is not None or seen.session_id is not None:
                event_type, data = seen.event or ("session", {"session_id": seen.session_id})
                await lease.record(event_type, data, session_id=seen.session_id, detail=seen.detail)

    async def _supervise(self, proc: JobProcess, lease: Lease) -> str:
        """Wait for the child to exit, the lease to go, a cancel, or a hard stop."""
        exited = asyncio.ensure_future(proc.wait())
        lost = asyncio.ensure_future(lease.lost.wait())
        cancel = asyncio.ensure_future(lease.cancel_requested.wait())
        stop = asyncio.ensure_future(self._hard_stop.wait())
        waits = {exited, lost, cancel, stop}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if lost.done():
                await proc.kill()  # not a moment of grace: the job is someone else's now
                return "lost"
            if exited.done():
                return "exited"
            how = "cancelled" if cancel.done() else "shutdown"
            await lease.record(
                "stopping", {"why": how, "signal": "SIGTERM", "grace_s": self.config.cancel_grace_s}
            )
            stopped = asyncio.ensure_future(proc.stop(self.config.cancel_grace_s))
            waits.add(stopped)
            await asyncio.wait({stopped, lost}, return_when=asyncio.FIRST_COMPLETED)
            if lost.done():
                await proc.kill()
                return "lost"
            if proc.killed:
                await lease.record("killed", {"after_s": self.config.cancel_grace_s})
            return how
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
