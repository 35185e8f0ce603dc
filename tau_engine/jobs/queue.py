"""A worker's hold on a claimed job: heartbeats, progress and fenced writes.

``Lease`` beats every ``heartbeat_s`` (a third of the lease or less) with the
job's progress, and passes on what the queue answers: a stale fence means the
job is someone else's now (``lost``), a cancel request means stop it
(``cancel_requested``). When heartbeats keep failing (the database is busy or
gone) the lease is declared lost one heartbeat before it could expire, so the
worker kills its job before anyone else can take it over.

``retry_busy`` is how every caller meets a busy database: retry with full
jitter and exponential backoff, so contending workers spread out.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tau_engine.errors import LeaseLostError, QueueBusyError, StoreError, UsageError
from tau_engine.store.api import JobQueue
from tau_engine.store.job_models import (
    AttemptDetail,
    Claim,
    HeartbeatAck,
    JobRecord,
    Outcome,
    Progress,
)

T = TypeVar("T")
FIRST_BACKOFF_S = 0.005
MAX_BACKOFF_S = 0.5


async def retry_busy(
    call: Callable[[], Awaitable[T]], *, deadline_s: float = 30.0, rng: random.Random | None = None
) -> T:
    """``await call()``, retrying ``QueueBusyError`` with jittered backoff until the deadline."""
    pick = rng or random
    delay = FIRST_BACKOFF_S
    end = time.monotonic() + deadline_s
    while True:
        try:
            return await call()
        except QueueBusyError:
            left = end - time.monotonic()
            if left <= 0:
                raise
            await asyncio.sleep(min(left, pick.uniform(0, delay)))
            delay = min(delay * 2, MAX_BACKOFF_S)


def check_timing(lease_s: float, heartbeat_s: float) -> None:
    """Refuse a heartbeat that would leave less than three beats per lease."""
    if lease_s <= 0 or heartbeat_s <= 0:
        raise UsageError("the lease and the heartbeat interval must be more than 0 s")
    if heartbeat_s * 3 > lease_s + 1e-9:
        raise UsageError(
            f"the heartbeat interval ({heartbeat_s:g} s) must be a third of the "
            f"lease ({lease_s:g} s) or less"
        )


class Lease:
    """One claimed attempt: its fence, its heartbeat task and what the queue told it."""

    def __init__(
        self,
        queue: JobQueue,
        claim: Claim,
        *,
        lease_s: float,
        heartbeat_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_timing(lease_s, heartbeat_s)
        self.queue = queue
        self.job: JobRecord = claim.job
        self.fence = claim.fence
        self.lease_s = lease_s
        self.heartbeat_s = heartbeat_s
        self.progress = Progress(phase="claimed")
        self.lost = asyncio.Event()
        self.lost_reason = ""
        # Lost because the fence moved (someone else owns the job: write nothing), as
        # opposed to lost because heartbeats kept failing (the job is still ours).
        self.stale = False
        self.cancel_requested = asyncio.Event()
        self.beats = 0
        self.failed_beats = 0
        self._clock = clock
        self._last_ok = clock()  # the claim itself set the lease
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- heartbeats -------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._beat_forever())

    async def stop(self) -> None:
        """Stop beating (the attempt is over, or lost)."""
        task, self._task = self._task, None
        # A flag as well as the cancel: Python 3.11's wait_for returns the heartbeat's result,
        # swallowing the cancel, when the write finishes as the cancel arrives; the loop
        # would then beat on forever and this await never end (seen once in CI).
        self._stopping = True
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def budget_left_s(self) -> float:
        """How long heartbeats may keep failing before the job must be killed."""
        return self._last_ok + self.lease_s - self.heartbeat_s - self._clock()

    async def _beat_forever(self) -> None:
        while not self.lost.is_set() and not self._stopping:
            await asyncio.sleep(min(self.heartbeat_s, max(0.0, self.budget_left_s)))
            if self._stopping:
                return
            if self.budget_left_s <= 0:
                self._lose(
                    f"heartbeats failed for {self._clock() - self._last_ok:.1f} s "
                    f"(lease {self.lease_s:g} s): killing the job before its lease "
                    "runs out"
                )
                return
            await self.beat()

    async def beat(self) -> None:
        """One heartbeat with the current progress; bounded by the heartbeat interval."""
        started = self._clock()
        progress = self.progress
        try:
            ack = await asyncio.wait_for(
                retry_busy(
                    lambda: self.queue.heartbeat(self.fence, self.lease_s, progress),
                    deadline_s=self.heartbeat_s,
                ),
                self.heartbeat_s,
            )
        except LeaseLostError as exc:
            self._lose(str(exc), stale=True)
            return
        except (StoreError, TimeoutError):
            self.failed_beats += 1
            return
        self.beats += 1
        self._last_ok = started
        self._take(ack)

    def _take(self, ack: HeartbeatAck) -> None:
        if ack.cancel_requested:
            self.cancel_requested.set()

    def _lose(self, reason: str, *, stale: bool = False) -> None:
        if not self.lost.is_set():
            self.lost_reason = reason
            self.stale = stale
            self.lost.set()

    # -- fenced writes ---------------------------------------------------------------
    async def record(
        self,
        event_type: str,
        data: dict[str, Any],
        *,
        session_id: str | None = None,
        child_pid: int | None = None,
        detail: AttemptDetail | None = None,
        with_progress: bool = True,
    ) -> bool:
        """Append to the job's log (and note what the attempt learnt); False if lost."""
        if self.lost.is_set():
            return False
        progress = self.progress if with_progress else None
        try:
            ack = await retry_busy(
                lambda: self.queue.record(
                    self.fence,
                    event_type,
                    data,
                    progress=progress,
                    session_id=session_id,
                    child_pid=child_pid,
                    detail=detail,
                ),
                deadline_s=self.heartbeat_s,
            )
        except LeaseLostError as exc:
            self._lose(str(exc), stale=True)
            return False
        except StoreError:
            # Not fatal by itself: the heartbeat decides when failures last too long.
            return True
        self._take(ack)
        return True

    async def finish(self, outcome: Outcome) -> JobRecord | None:
        """Settle or requeue the job; ``None`` when the lease was lost first."""
        if self.lost.is_set():
            return None
        # Beats stop first: one still in flight when the settling write lands would find the
        # fence gone and call a finished job lost (seen under load).
        await self.stop()
        while True:
            try:
                return await retry_busy(
                    lambda: self.queue.finish(self.fence, outcome), deadline_s=self.heartbeat_s
                )
            except LeaseLostError as exc:
                self._lose(str(exc), stale=True)
                return None
            except StoreError:
                if self.budget_left_s <= 0 or self.lost.is_set():
                    self._lose("could not record the job's end before its lease ran out")
                    return None
                await asyncio.sleep(min(self.heartbeat_s, max(0.01, self.budget_left_s)))

    async def release(self, outcome: Outcome, stop: asyncio.Event) -> JobRecord | None:
        """After heartbeats failed and the job was killed: record ``outcome`` once the
        queue answers again. On the same host nobody else may take the job while this
        worker lives (its owner is alive), so only this write frees it. ``None`` if the
        fence moved meanwhile, or ``stop`` was set first."""
        while not stop.is_set():
            try:
                return await retry_busy(
                    lambda: self.queue.finish(self.fence, outcome), deadline_s=self.heartbeat_s
                )
            except LeaseLostError:
                self.stale = True
                return None
            except StoreError:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.heartbeat_s)
        return None
