"""Workspaces sharing one PostgreSQL database: each sees, claims, changes and recovers
its own jobs only; every checkout of one repository serves the same queue."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from tau_engine.errors import JobNotFoundError
from tau_engine.paths import WorkspacePaths
from tau_engine.store import JobQueue
from tau_engine.store.job_models import JobState, NewJob, Outcome
from tau_engine.store.workspace_key import workspace_key
from tests.cli.tau_process import run_tau, tau_env
from tests.jobs.conftest import Clock, open_queue, owner

pytest.importorskip("psycopg", reason="psycopg is not installed (tau[postgres])")


def _repo(root: Path, text: str) -> Path:
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    (root / "README").write_text(text)
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "README"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", text], check=True)
    return root


def _clone(source: Path, root: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(source), str(root)], check=True)
    return root


def _job(key: str | None = None) -> NewJob:
    return NewJob(id=uuid.uuid4().hex, kind="prompt", inputs={"p": 1}, key=key, max_attempts=1)


def test_the_key_is_the_repository_not_the_checkout(tmp_path: Path) -> None:
    a = _repo(tmp_path / "a", "a")
    b = _repo(tmp_path / "b", "b")
    clone = _clone(a, tmp_path / "elsewhere" / "a-copy")
    (a / "sub").mkdir()
    assert workspace_key(a).startswith("git:") and workspace_key(a) == workspace_key(clone)
    assert workspace_key(a) != workspace_key(b)
    assert workspace_key(a / "sub") == workspace_key(a) + ":sub"
    plain = tmp_path / "plain"
    plain.mkdir()
    assert workspace_key(plain).startswith("path:") and str(plain.resolve()) in workspace_key(plain)


async def test_two_workspaces_never_see_or_claim_each_others_jobs(
    postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    a = _repo(tmp_path / "a", "a")
    b = _repo(tmp_path / "b", "b")
    clone = _clone(a, tmp_path / "other-machine" / "a")
    qa, qb, qa2 = (open_queue(postgres_url, WorkspacePaths(p), clock) for p in (a, b, clone))
    queues: list[JobQueue] = [qa, qb, qa2]
    try:
        ja = (await qa.submit(_job(key="nightly"))).job
        result_b = await qb.submit(_job(key="nightly"))
        assert result_b.created  # a key is per workspace
        jb = result_b.job
        assert [j.id for j in await qa.list_jobs()] == [ja.id]
        assert [j.id for j in await qb.list_jobs()] == [jb.id]
        assert [j.id for j in await qa2.list_jobs()] == [ja.id]  # the same repository
        for id_or_prefix in (ja.id, ja.id[:6]):
            with pytest.raises(JobNotFoundError):
                await qb.get(id_or_prefix)
        with pytest.raises(JobNotFoundError):
            await qb.request_cancel(ja.id, lambda _o: False)
        with pytest.raises(JobNotFoundError):
            await qb.block(ja.id, "not yours")
        with pytest.raises(JobNotFoundError):
            await qb.append_event(ja.id, "forged", {})
        # B's worker takes B's job and then finds nothing, though A's job waits.
        claim_b = await qb.claim(owner("b"), 60)
        assert claim_b is not None and claim_b.job.id == jb.id
        assert await qb.claim(owner("b2"), 60) is None
        # A checkout of A on another machine serves A's queue.
        claim_a = await qa2.claim(owner("a2", host="host-b"), 60)
        assert claim_a is not None and claim_a.job.id == ja.id
        # B's recovery sweep leaves A's expired lease alone; A's takes it.
        clock.advance(120)
        assert [r.job_id for r in (await qb.recover(lambda _o: False)).jobs] == [jb.id]
        assert [r.job_id for r in (await qa.recover(lambda _o: False)).jobs] == [ja.id]
        assert (await qa.get(ja.id)).state is JobState.FAILED
        # B's prune deletes B's finished jobs only.
        assert await qb.prune(clock.now + 1) == [jb.id]
        assert [j.id for j in await qa.list_jobs()] == [ja.id]
    finally:
        for queue in queues:
            queue.close()


async def test_a_worker_of_another_workspace_cannot_finish_a_job_it_never_claimed(
    postgres_url: str, tmp_path: Path
) -> None:
    """Writes are fenced by job and token; a job only its own workspace can claim never
    has a token another workspace's worker holds."""
    a = _repo(tmp_path / "a", "a")
    b = _repo(tmp_path / "b", "b")
    qa, qb = (open_queue(postgres_url, WorkspacePaths(p)) for p in (a, b))
    try:
        await qa.submit(_job())
        claim = await qa.claim(owner("a"), 60)
        assert claim is not None and await qb.claim(owner("b"), 60) is None
        done = await qa.finish(claim.fence, Outcome(state=JobState.SUCCEEDED, reason="completed"))
        assert done.state is JobState.SUCCEEDED
    finally:
        qa.close()
        qb.close()


def test_tau_jobs_in_two_workspaces_on_one_database(postgres_url: str, tmp_path: Path) -> None:
    a = _repo(tmp_path / "a", "a")
    b = _repo(tmp_path / "b", "b")
    env = tau_env(TAU_STORE_URL=postgres_url)
    proc = run_tau(["jobs", "submit", "-p", "only-in-a", "--model", "offline/echo"], a, env=env)
    assert proc.returncode == 0, proc.stderr
    in_a = run_tau(["jobs", "list"], a, env=env)
    in_b = run_tau(["jobs", "list"], b, env=env)
    assert in_a.returncode == 0 and "only-in-a" in in_a.stdout, in_a.stderr
    assert in_b.returncode == 0 and "only-in-a" not in in_b.stdout, in_b.stderr
    assert not (a / ".tau" / "tau.db").exists()  # the jobs are in PostgreSQL
