"""The fence as a job's child process checks it before an irreversible step."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tau_engine.errors import LeaseLostError
from tau_engine.jobs.kinds import AttemptContext, ChildSpec
from tau_engine.jobs.service import JobService
from tau_engine.paths import WorkspacePaths
from tau_engine.store import open_store
from tau_engine.store.job_fence import child_store_environ, fence_from_environ, job_store_url
from tau_engine.store.job_models import Fence, JobState, NewJob
from tests.jobs.conftest import Clock, open_queue, owner
from tests.jobs.marker_kind import MarkerKind
from tests.jobs.support import fast_config


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


FENCE_CHILD = r"""
import os, sys
from pathlib import Path
from tau_engine.errors import LeaseLostError, StoreError
from tau_engine.paths import WorkspacePaths
from tau_engine.store import open_store
from tau_engine.store.job_fence import fence_from_environ, job_store_url
fence = fence_from_environ(os.environ)
try:
    open_store(WorkspacePaths(Path.cwd()), job_store_url(os.environ)).check_job_fence(fence)
except (LeaseLostError, StoreError) as exc:
    print(f"fence check failed: {exc}", flush=True)
    sys.exit(3)
print("committed", flush=True)
"""


class FenceCheckKind(MarkerKind):
    """A child that checks its fence as a mission does before its commit
    (``missions/runner.py``: the store its worker named in the environment)."""

    def child(self, ctx: AttemptContext, inputs: dict[str, Any]) -> ChildSpec:
        env = ctx.child_environ()
        assert env["TAU_STORE_URL"] not in ctx.job.inputs.get("argv", [])
        return ChildSpec(argv=[sys.executable, "-c", FENCE_CHILD], cwd=ctx.paths.root, env=env)


async def test_a_job_child_checks_its_fence_in_its_workers_store(
    queue_backend: str, paths: WorkspacePaths, tmp_path: Path
) -> None:
    """A PostgreSQL worker's child checks against PostgreSQL (the URL reaches it through
    the environment); without it the child would ask the workspace's SQLite file, which
    holds no such job, and never commit."""
    service = JobService.open(
        paths,
        store_url=queue_backend,
        kinds={"marker": FenceCheckKind(tmp_path / "ledger", 0.0)},
    )
    try:
        result = await service.submit("marker", {})
        worker = service.worker(
            fast_config(until_empty=True), environ={"PATH": os.environ.get("PATH", "")}
        )
        report = await asyncio.wait_for(worker.run(), 60)
        job = await service.get(result.job.id)
        assert report.ran == 1 and job.state == JobState.SUCCEEDED, job.last_line
        assert job.last_line == "committed"
    finally:
        service.close()


def test_the_store_reaches_a_child_in_its_environment_only() -> None:
    env = child_store_environ({"HOME": "/h"}, " postgresql://u:pw@h/db ")
    assert env == {"HOME": "/h", "TAU_STORE_URL": "postgresql://u:pw@h/db"}
    # A SQLite worker says so, so a child never follows a user config to another store.
    assert child_store_environ({}, None) == {"TAU_STORE_URL": "sqlite"}
    assert job_store_url({"TAU_STORE_URL": "sqlite"}) == "sqlite"
    assert job_store_url({}) is None
