"""The ``JobQueue`` contract, run against every backend: claims, fences, recovery, dedup."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from typing import Any

import pytest

from tau_engine.errors import JobNotFoundError, LeaseLostError, UsageError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.api import JobQueue
from tau_engine.store.job_models import (
    JobState,
    NewJob,
    Outcome,
    Progress,
    Reason,
)
from tests.jobs.conftest import Clock, open_queue, owner

LEASE = 60.0


def new_job(
    key: str | None = None, priority: int = 0, max_attempts: int = 3, prompt: str = "hi"
) -> NewJob:
    return NewJob(
        id=uuid.uuid4().hex,
        kind="prompt",
        inputs={"prompt": prompt},
        key=key,
        priority=priority,
        max_attempts=max_attempts,
    )


def dead(_owner: Any) -> bool:
    return False


def alive(_owner: Any) -> bool:
    return True


async def test_claim_takes_highest_priority_then_oldest(queue: JobQueue, clock: Clock) -> None:
    low = (await queue.submit(new_job(priority=0))).job
    clock.advance(1)
    high = (await queue.submit(new_job(priority=5))).job
    clock.advance(1)
    low2 = (await queue.submit(new_job(priority=0))).job
    order = []
    while (claim := await queue.claim(owner(), LEASE)) is not None:
        order.append(claim.job.id)
        assert claim.job.state is JobState.RUNNING and claim.job.attempt == 1
        assert claim.fence.token == claim.job.fence == 1
        assert claim.job.lease_expires_at == pytest.approx(clock.now + LEASE)
    assert order == [high.id, low.id, low2.id]


async def test_a_claim_records_the_attempt_and_the_log(queue: JobQueue) -> None:
    job = (await queue.submit(new_job())).job
    claim = await queue.claim(owner("slot-3", pid=77), LEASE)
    assert claim is not None
    [attempt] = await queue.attempts(job.id)
    assert (attempt.attempt, attempt.fence, attempt.reason) == (1, 1, "submitted")
    assert attempt.owner.pid == 77 and attempt.owner.worker == "slot-3"
    types = [e.type for e in await queue.events(job.id)]
    assert types == ["submitted", "claimed"]


async def test_concurrent_claims_never_share_a_job(
    queue_backend: str, paths: WorkspacePaths
) -> None:
    """Eight queues (eight connections) claiming 100 jobs at once: each job is taken once."""
    first = open_queue(queue_backend, paths)
    ids = [(await first.submit(new_job())).job.id for _ in range(100)]
    queues = [open_queue(queue_backend, paths) for _ in range(8)]
    from tau_engine.jobs.queue import retry_busy

    async def drain(q: JobQueue, n: int) -> list[str]:
        got = []
        while (claim := await retry_busy(lambda: q.claim(owner(f"s{n}"), LEASE))) is not None:
            got.append(claim.job.id)
        return got

    try:
        taken = await asyncio.gather(*(drain(q, n) for n, q in enumerate(queues)))
    finally:
        for q in [first, *queues]:
            q.close()
    flat = [job_id for part in taken for job_id in part]
    assert sorted(flat) == sorted(ids)


async def test_dedup_key_returns_the_live_job(queue: JobQueue) -> None:
    first = await queue.submit(new_job(key="nightly"))
    again = await queue.submit(new_job(key="nightly"))
    assert first.created and not again.created and again.job.id == first.job.id
    with pytest.raises(UsageError, match="held by live job"):
        await queue.submit(new_job(key="nightly", prompt="something else"))
    # While it runs the key is still held; once it has ended, the key is free again.
    claim = await queue.claim(owner(), LEASE)
    assert claim is not None
    assert not (await queue.submit(new_job(key="nightly"))).created
    await queue.finish(claim.fence, Outcome(state=JobState.SUCCEEDED, reason=Reason.COMPLETED))
    later = await queue.submit(new_job(key="nightly"))
    assert later.created and later.job.id != first.job.id


async def test_a_stale_fence_writes_nothing(queue: JobQueue, clock: Clock) -> None:
    job = (await queue.submit(new_job())).job
    claim = await queue.claim(owner(), LEASE)
    assert claim is not None
    await queue.heartbeat(claim.fence, LEASE, Progress(phase="turn 1", last_line="working"))
    clock.advance(LEASE + 1)
    report = await queue.recover(dead)
    assert [j.action for j in report.jobs] == ["requeued"]
    before = await queue.events(job.id)
    for write in (
        lambda: queue.heartbeat(claim.fence, LEASE, Progress(phase="late")),
        lambda: queue.record(claim.fence, "phase", {"phase": "late"}, session_id="s"),
        lambda: queue.finish(
            claim.fence, Outcome(state=JobState.SUCCEEDED, reason=Reason.COMPLETED)
        ),
    ):
        with pytest.raises(LeaseLostError):
            await write()
    after = await queue.get(job.id)
    assert after.state is JobState.RECOVERING and after.reason == Reason.STALE_LEASE
    assert after.fence == 2 and after.session_id is None and after.phase == "turn 1"
    assert await queue.events(job.id) == before
    assert not await queue.fence_holds(claim.fence)


async def test_recovery_leaves_a_live_owner_alone(queue: JobQueue, clock: Clock) -> None:
    job = (await queue.submit(new_job())).job
    assert await queue.claim(owner(), LEASE) is not None
    clock.advance(LEASE + 5)
    report = await queue.recover(alive)
    assert [(j.action, j.reason) for j in report.jobs] == [("left-alone", "slow")]
    assert "slow, not dead" in report.jobs[0].detail
    assert (await queue.get(job.id)).state is JobState.RUNNING


async def test_recovery_never_touches_a_live_lease(queue: JobQueue, clock: Clock) -> None:
    await queue.submit(new_job())
    claim = await queue.claim(owner(), LEASE)
    assert claim is not None
    clock.advance(LEASE - 1)
    assert (await queue.recover(dead)).jobs == []
    assert await queue.fence_holds(claim.fence)


async def test_the_recovered_attempt_records_stale_lease(queue: JobQueue, clock: Clock) -> None:
    job = (await queue.submit(new_job())).job
    assert await queue.claim(owner(pid=1), LEASE) is not None
    clock.advance(LEASE + 93)
    await queue.recover(dead)
    second = await queue.claim(owner(pid=2), LEASE)
    assert second is not None and second.job.attempt == 2 and second.fence.token == 3
    first, retry = await queue.attempts(job.id)
    assert (first.outcome, first.end_reason) == ("stale-lease", "stale-lease")
    assert "lease expired 93 s ago; owner pid 1 on host-a is not running" in first.error
    assert retry.reason == "stale-lease" and second.job.reason == "stale-lease"


async def test_recovery_fails_a_job_out_of_attempts(queue: JobQueue, clock: Clock) -> None:
    job = (await queue.submit(new_job(max_attempts=1))).job
    assert await queue.claim(owner(), LEASE) is not None
    clock.advance(LEASE + 1)
    report = await queue.recover(dead)
    assert [(j.action, j.reason) for j in report.jobs] == [("failed", "attempts-exhausted")]
    assert (await queue.get(job.id)).state is JobState.FAILED


async def test_a_retry_waits_for_its_time_and_attempts_run_out(
    queue: JobQueue, clock: Clock
) -> None:
    job = (await queue.submit(new_job(max_attempts=2))).job
    claim = await queue.claim(owner(), LEASE)
    assert claim is not None
    requeued = await queue.finish(
        claim.fence,
        Outcome(state=JobState.QUEUED, reason=Reason.RETRY, error="429", retry_at=clock.now + 30),
    )
    assert requeued.state is JobState.QUEUED and requeued.next_run_at == clock.now + 30
    assert await queue.claim(owner(), LEASE) is None
    clock.advance(31)
    second = await queue.claim(owner(), LEASE)
    assert second is not None and second.job.reason == "retry"
    final = await queue.finish(
        second.fence, Outcome(state=JobState.QUEUED, reason=Reason.RETRY, error="429 again")
    )
    assert (final.state, final.reason) == (JobState.FAILED, "attempts-exhausted")
    assert final.last_error == "429 again" and job.id == final.id


async def test_cancel_waiting_running_and_orphaned_jobs(queue: JobQueue, clock: Clock) -> None:
    waiting = (await queue.submit(new_job())).job
    assert (await queue.request_cancel(waiting.id, alive)).state is JobState.CANCELLED
    running = (await queue.submit(new_job())).job
    claim = await queue.claim(owner(), LEASE)
    assert claim is not None and claim.job.id == running.id
    asked = await queue.request_cancel(running.id, alive)
    assert asked.state is JobState.RUNNING and asked.cancel_requested_at == clock.now
    ack = await queue.heartbeat(claim.fence, LEASE, Progress())
    assert ack.cancel_requested
    # Its owner died: once the lease is over, cancelling settles it at once.
    clock.advance(LEASE + 1)
    done = await queue.request_cancel(running.id, dead)
    assert done.state is JobState.CANCELLED and done.fence == claim.fence.token + 1
    with pytest.raises(UsageError, match="already cancelled"):
        await queue.request_cancel(running.id, dead)


async def test_a_cancelled_stale_job_is_not_requeued(queue: JobQueue, clock: Clock) -> None:
    job = (await queue.submit(new_job())).job
    assert await queue.claim(owner(), LEASE) is not None
    await queue.request_cancel(job.id, alive)
    clock.advance(LEASE + 1)
    report = await queue.recover(dead)
    assert [j.action for j in report.jobs] == ["cancelled"]
    assert (await queue.get(job.id)).state is JobState.CANCELLED


async def test_block_holds_a_waiting_job(queue: JobQueue) -> None:
    job = (await queue.submit(new_job())).job
    blocked = await queue.block(job.id, "waiting for the schema change")
    assert (blocked.state, blocked.reason) == (JobState.BLOCKED, "operator-block")
    assert blocked.message == "waiting for the schema change"
    assert await queue.claim(owner(), LEASE) is None
    other = (await queue.submit(new_job())).job
    assert await queue.claim(owner(), LEASE) is not None
    with pytest.raises(UsageError, match="is running; cancel it first"):
        await queue.block(other.id, "no")


async def test_prefixes_find_one_job(queue: JobQueue) -> None:
    job = (await queue.submit(new_job())).job
    assert (await queue.get(job.id[:6])).id == job.id
    with pytest.raises(JobNotFoundError, match="no job matches"):
        await queue.get("zz")
    with pytest.raises(JobNotFoundError):
        await queue.get("%")


async def test_prune_deletes_only_old_finished_jobs(queue: JobQueue, clock: Clock) -> None:
    old = (await queue.submit(new_job())).job
    await queue.request_cancel(old.id, alive)
    waiting = (await queue.submit(new_job())).job
    clock.advance(8 * 86400)
    recent = (await queue.submit(new_job())).job
    await queue.request_cancel(recent.id, alive)
    assert await queue.prune(clock.now - 7 * 86400) == [old.id]
    with pytest.raises(JobNotFoundError):
        await queue.get(old.id)
    assert (await queue.get(waiting.id)).state is JobState.QUEUED
    assert await queue.events(old.id) == []


async def test_wait_for_work_wakes_on_a_submit(queue_backend: str, paths: WorkspacePaths) -> None:
    waiter, submitter = open_queue(queue_backend, paths), open_queue(queue_backend, paths)
    try:
        waiting = asyncio.ensure_future(waiter.wait_for_work(30.0))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        await submitter.submit(new_job())
        await asyncio.wait_for(waiting, 5.0)
    finally:
        waiter.close()
        submitter.close()


def test_sqlite_job_log_is_append_only(paths: WorkspacePaths) -> None:
    from tau_engine.store.sqlite.jobs import SqliteJobQueue

    queue = SqliteJobQueue.open(paths)
    job = asyncio.run(queue.submit(new_job())).job
    queue.close()
    conn = sqlite3.connect(paths.db_path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE job_events SET type = 'forged' WHERE job_id = ?", (job.id,))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM job_events WHERE job_id = ?", (job.id,))
    conn.close()
