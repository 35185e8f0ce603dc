"""The fence as a job's child process checks it before an irreversible step."""

from __future__ import annotations

import uuid

import pytest

from tau_engine.errors import LeaseLostError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.job_fence import check_fence, fence_from_environ
from tau_engine.store.job_models import Fence, NewJob
from tau_engine.store.jobs import SqliteJobQueue
from tests.jobs.conftest import Clock, owner


def test_the_fence_comes_from_the_environment() -> None:
    assert fence_from_environ({}) is None
    assert fence_from_environ({"TAU_JOB_ID": "abc", "TAU_JOB_FENCE": "x"}) is None
    assert fence_from_environ({"TAU_JOB_ID": "abc", "TAU_JOB_FENCE": "7",
                               "TAU_JOB_ATTEMPT": "2"}) == Fence(job_id="abc", token=7,
                                                                 attempt=2)


async def test_check_fence_passes_only_while_the_attempt_owns_the_job(
        paths: WorkspacePaths, clock: Clock) -> None:
    """SQLite's: a child process opens the workspace's database to check."""
    db = paths.db_path
    queue = SqliteJobQueue.open(paths, clock=clock)
    job = (await queue.submit(NewJob(id=uuid.uuid4().hex, kind="prompt", inputs={},
                                     max_attempts=3))).job
    claim = await queue.claim(owner(), 60)
    assert claim is not None
    check_fence(db, claim.fence)
    clock.advance(61)
    await queue.recover(lambda _o: False)
    with pytest.raises(LeaseLostError, match="no longer holds fence 1"):
        check_fence(db, claim.fence)
    assert job.id == claim.fence.job_id
    queue.close()
