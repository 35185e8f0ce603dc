"""The fence as a job's child process checks it before an irreversible step."""

from __future__ import annotations

import uuid

import pytest

from tau_engine.errors import LeaseLostError
from tau_engine.paths import WorkspacePaths
from tau_engine.store import open_store
from tau_engine.store.job_fence import fence_from_environ
from tau_engine.store.job_models import Fence, NewJob
from tests.jobs.conftest import Clock, open_queue, owner


def test_the_fence_comes_from_the_environment() -> None:
    assert fence_from_environ({}) is None
    assert fence_from_environ({"TAU_JOB_ID": "abc", "TAU_JOB_FENCE": "x"}) is None
    assert fence_from_environ(
        {"TAU_JOB_ID": "abc", "TAU_JOB_FENCE": "7", "TAU_JOB_ATTEMPT": "2"}
    ) == Fence(job_id="abc", token=7, attempt=2)


async def test_check_fence_passes_only_while_the_attempt_owns_the_job(
    queue_backend: str, paths: WorkspacePaths, clock: Clock
) -> None:
    """A child process opens the workspace's store on its own to check."""
    child_store = open_store(paths, queue_backend)
    queue = open_queue(queue_backend, paths, clock)
    job = (
        await queue.submit(NewJob(id=uuid.uuid4().hex, kind="prompt", inputs={}, max_attempts=3))
    ).job
    claim = await queue.claim(owner(), 60)
    assert claim is not None
    child_store.check_job_fence(claim.fence)
    clock.advance(61)
    await queue.recover(lambda _o: False)
    with pytest.raises(LeaseLostError, match="no longer holds fence 1"):
        child_store.check_job_fence(claim.fence)
    assert job.id == claim.fence.job_id
    queue.close()
