"""``Lease``: heartbeats with progress, cancel requests, a lost fence, failing heartbeats."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import pytest

from tau_engine.errors import QueueBusyError, StoreError, UsageError
from tau_engine.jobs.queue import Lease, check_timing, retry_busy
from tau_engine.paths import WorkspacePaths
from tau_engine.store.job_models import (
    Fence,
    HeartbeatAck,
    JobState,
    NewJob,
    Outcome,
    Progress,
    Reason,
)
from tau_engine.store.sqlite.jobs import SqliteJobQueue
from tests.jobs.conftest import owner

# Generous for a loaded 2-core machine: 2.5 s of failing heartbeats are tolerated.
LEASE, BEAT = 3.0, 0.5


class FlakyQueue:
    """A real queue whose worker writes can be made to fail, counting the heartbeats."""

    WRITES = ("heartbeat", "record", "finish")

    def __init__(self, inner: SqliteJobQueue) -> None:
        self.inner = inner
        self.failing: type[Exception] | None = None
        self.beats: list[Progress] = []

    async def heartbeat(self, fence: Fence, lease_s: float, progress: Progress) -> HeartbeatAck:
        if self.failing is not None:
            raise self.failing("the disk is gone")
        self.beats.append(progress)
        return await self.inner.heartbeat(fence, lease_s, progress)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if name not in self.WRITES:
            return method

        async def write(*args: Any, **kwargs: Any) -> Any:
            if self.failing is not None:
                raise self.failing("the disk is gone")
            return await method(*args, **kwargs)

        return write


async def until(condition: Any, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        await asyncio.sleep(0.01)


async def claimed(paths: WorkspacePaths) -> tuple[FlakyQueue, Any]:
    queue = FlakyQueue(SqliteJobQueue.open(paths))
    await queue.inner.submit(
        NewJob(id=uuid.uuid4().hex, kind="prompt", inputs={"prompt": "x"}, max_attempts=3)
    )
    claim = await queue.inner.claim(owner(), LEASE)
    assert claim is not None
    return queue, claim


def test_the_heartbeat_is_a_third_of_the_lease_or_less() -> None:
    check_timing(60, 20)
    with pytest.raises(UsageError, match="a third of the lease"):
        check_timing(60, 21)


async def test_heartbeats_extend_the_lease_and_carry_progress(paths: WorkspacePaths) -> None:
    queue, claim = await claimed(paths)
    lease = Lease(queue, claim, lease_s=LEASE, heartbeat_s=BEAT)  # type: ignore[arg-type]
    lease.progress = Progress(phase="tool bash", last_line="make: all done")
    lease.start()
    try:
        await until(lambda: len(queue.beats) >= 3)
        job = await queue.inner.get(claim.job.id)
        assert job.phase == "tool bash" and job.last_line == "make: all done"
        assert job.lease_expires_at is not None and job.lease_expires_at > time.time()
        assert not lease.lost.is_set()
    finally:
        await lease.stop()
        queue.inner.close()


async def test_a_cancel_request_reaches_the_lease(paths: WorkspacePaths) -> None:
    queue, claim = await claimed(paths)
    lease = Lease(queue, claim, lease_s=LEASE, heartbeat_s=BEAT)  # type: ignore[arg-type]
    lease.start()
    try:
        await queue.inner.request_cancel(claim.job.id, lambda _o: True)
        await asyncio.wait_for(lease.cancel_requested.wait(), 5)
    finally:
        await lease.stop()
        queue.inner.close()


async def test_heartbeats_failing_for_the_lease_lose_it(paths: WorkspacePaths) -> None:
    queue, claim = await claimed(paths)
    lease = Lease(queue, claim, lease_s=LEASE, heartbeat_s=BEAT)  # type: ignore[arg-type]
    lease.start()
    try:
        await until(lambda: len(queue.beats) >= 1)
        queue.failing = StoreError
        failed_at = time.monotonic()
        await asyncio.wait_for(lease.lost.wait(), 10)
        # Declared lost before the lease itself could run out (one heartbeat early).
        assert time.monotonic() - failed_at < LEASE
        assert "heartbeats failed" in lease.lost_reason and lease.failed_beats >= 1
        assert not lease.stale  # the queue still names it: the job must be released
        releasing = asyncio.ensure_future(
            lease.release(
                Outcome(
                    state=JobState.QUEUED, reason=Reason.HEARTBEAT_FAILED, error=lease.lost_reason
                ),
                asyncio.Event(),
            )
        )
        await asyncio.sleep(1.2)
        assert not releasing.done()  # keeps trying while the queue fails
        queue.failing = None
        job = await asyncio.wait_for(releasing, 5)
        assert job is not None and (job.state, job.reason) == (JobState.QUEUED, "heartbeat-failed")
    finally:
        await lease.stop()
        queue.inner.close()


async def test_a_busy_database_does_not_lose_the_lease(paths: WorkspacePaths) -> None:
    queue, claim = await claimed(paths)
    lease = Lease(queue, claim, lease_s=LEASE, heartbeat_s=BEAT)  # type: ignore[arg-type]
    lease.start()
    try:
        queue.failing = QueueBusyError
        await asyncio.sleep(1.2)  # a few failed beats, well inside the lease
        queue.failing = None
        await until(lambda: len(queue.beats) >= 2)
        assert not lease.lost.is_set()
    finally:
        await lease.stop()
        queue.inner.close()


async def test_a_stale_fence_loses_the_lease_at_the_next_beat(paths: WorkspacePaths) -> None:
    queue, claim = await claimed(paths)
    lease = Lease(queue, claim, lease_s=LEASE, heartbeat_s=BEAT)  # type: ignore[arg-type]
    lease.start()
    try:
        # Another party recovers the job (as if it had seen the lease expire).
        stealer = SqliteJobQueue.open(paths, clock=lambda: time.time() + 100)
        await stealer.recover(lambda _o: False)
        stealer.close()
        await asyncio.wait_for(lease.lost.wait(), 5)
        assert "fence 1 is stale" in lease.lost_reason and lease.stale
        assert not await lease.record("phase", {"phase": "late"})
    finally:
        await lease.stop()
        queue.inner.close()


async def test_retry_busy_backs_off_with_jitter_then_gives_up() -> None:
    calls: list[float] = []

    async def busy() -> None:
        calls.append(time.monotonic())
        raise QueueBusyError("busy")

    with pytest.raises(QueueBusyError):
        await retry_busy(busy, deadline_s=0.3)
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert len(calls) > 3 and max(gaps) <= 0.6


class HeldBeatQueue(FlakyQueue):
    """A heartbeat that starts before the job is settled and reaches the database after."""

    def __init__(self, inner: SqliteJobQueue) -> None:
        super().__init__(inner)
        self.beat_started = asyncio.Event()
        self.settled = asyncio.Event()

    async def heartbeat(self, fence: Fence, lease_s: float, progress: Progress) -> HeartbeatAck:
        self.beat_started.set()
        await self.settled.wait()
        return await self.inner.heartbeat(fence, lease_s, progress)

    async def finish(self, fence: Fence, outcome: Outcome) -> Any:
        record = await self.inner.finish(fence, outcome)
        self.settled.set()
        await asyncio.sleep(0.05)  # the held beat runs (and fails) before finish returns
        return record


async def test_a_beat_in_flight_when_the_job_settles_does_not_lose_it(
    paths: WorkspacePaths,
) -> None:
    # Seen under load in CI: a heartbeat still in flight when the job was settled found the
    # fence gone and marked the finished lease lost.
    inner = SqliteJobQueue.open(paths)
    queue = HeldBeatQueue(inner)
    await inner.submit(
        NewJob(id=uuid.uuid4().hex, kind="prompt", inputs={"prompt": "x"}, max_attempts=3)
    )
    claim = await inner.claim(owner(), LEASE)
    assert claim is not None
    lease = Lease(queue, claim, lease_s=LEASE, heartbeat_s=0.05)  # type: ignore[arg-type]
    lease.start()
    await asyncio.wait_for(queue.beat_started.wait(), 5)
    final = await lease.finish(Outcome(state=JobState.SUCCEEDED, reason=Reason.COMPLETED))
    await lease.stop()
    assert final is not None and final.state is JobState.SUCCEEDED
    assert not lease.lost.is_set(), lease.lost_reason
    inner.close()


class CancelSwallowingLease(Lease):
    """A beat that ends normally when cancelled, as Python 3.11's ``wait_for`` does when the
    heartbeat write completes at the moment the cancel arrives."""

    calls = 0

    async def beat(self) -> None:
        self.calls += 1
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return


async def test_stop_ends_the_heartbeats_even_when_a_beat_swallows_the_cancel(
    paths: WorkspacePaths,
) -> None:
    queue, claim = await claimed(paths)
    lease = CancelSwallowingLease(queue, claim, lease_s=LEASE, heartbeat_s=0.01)  # type: ignore[arg-type]
    lease.start()
    try:
        await until(lambda: lease.calls == 1)  # inside a beat
        await lease.stop()
        await asyncio.sleep(0.1)
        assert lease.calls == 1  # no beat after stop
    finally:
        queue.inner.close()
