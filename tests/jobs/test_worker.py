"""A worker running real prompt jobs (child ``tau`` processes) in a temp workspace."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tau_engine.errors import StoreError
from tau_engine.jobs.service import JobService
from tau_engine.paths import WorkspacePaths
from tau_engine.store.job_models import JobState
from tau_engine.store.sqlite.jobs import SqliteJobQueue
from tests.jobs.support import (
    bash_turn,
    fast_config,
    kill_all,
    processes_with,
    start_worker,
    submit_script_job,
    text_turn,
    until,
)


@pytest.fixture
def service(paths: WorkspacePaths) -> Iterator[JobService]:
    opened = JobService.open(paths)
    try:
        yield opened
    finally:
        opened.close()


async def test_a_prompt_job_runs_and_links_its_session(service: JobService, tmp_path: Path) -> None:
    job_id = await submit_script_job(
        service,
        tmp_path,
        [bash_turn("echo hello-from-job"), text_turn("All done.\nIt said hello.")],
    )
    _worker, task = start_worker(service, fast_config(once=True))
    report = await asyncio.wait_for(task, 60)
    assert report.ran == 1 and report.outcomes == {"succeeded": 1}
    detail = await service.detail(job_id)
    job, [attempt] = detail.job, detail.attempts
    assert (job.state, job.reason, job.attempt) == (JobState.SUCCEEDED, "completed", 1)
    assert job.session_id and attempt.session_id == job.session_id
    assert job.result is not None and job.result["result"] == "All done.\nIt said hello."
    assert job.last_line == "It said hello." and attempt.side_effects  # bash ran
    assert attempt.detail["recording"] == f"jobs/{job_id}/attempt-1.replay.json"
    assert (service.paths.state_dir / attempt.detail["recording"]).is_file()
    types = [e.type for e in detail.events]
    assert types[:4] == ["submitted", "claimed", "phase", "started"]
    assert {"session", "finished"} <= set(types) and types[-1] == "finished"
    # The engine's own events are read from the linked session.
    engine = detail.sessions[job.session_id]
    assert [e["type"] for e in engine if e["type"] == "tool_result"] == ["tool_result"]
    assert any("hello-from-job" in e.get("output", "") for e in engine)


async def test_heartbeats_go_on_through_a_graceful_drain(
    service: JobService, tmp_path: Path
) -> None:
    job_id = await submit_script_job(service, tmp_path, [bash_turn("sleep 4"), text_turn("slept")])
    later = await submit_script_job(service, tmp_path, [text_turn("never claimed")])
    # A long lease: what is checked is that beats go on through the drain, and a heartbeat
    # delayed by a loaded machine must not cost the lease (it did at 4 s under load ~8).
    worker, task = start_worker(service, fast_config(lease_s=20.0))
    await until(lambda: worker.leases, what="the job to be claimed")
    lease = next(iter(worker.leases.values()))
    await until(lambda: lease.progress.phase == "tool bash", what="the bash call")
    worker.drain()
    beats_at_drain = lease.beats
    report = await asyncio.wait_for(task, 60)
    # The lease was renewed all through the drain (4 s of bash at 0.5 s beats), never lost.
    assert lease.beats >= beats_at_drain + 4 and not lease.lost.is_set()
    assert report.outcomes == {"succeeded": 1} and report.lost == 0
    assert (await service.get(job_id)).state is JobState.SUCCEEDED
    assert (await service.get(later)).state is JobState.QUEUED  # a draining worker claims none


async def test_a_worker_that_loses_its_lease_stops_without_writing(
    service: JobService, tmp_path: Path, paths: WorkspacePaths
) -> None:
    marker = f"31.{os.getpid()}"
    job_id = await submit_script_job(
        service, tmp_path, [bash_turn(f"sleep {marker}"), text_turn("too late")], max_attempts=3
    )
    worker, task = start_worker(service, fast_config(recover_every_s=3600))
    try:
        await until(lambda: processes_with(marker), what="the bash call")
        child = (await service.queue.attempts(job_id))[0].child_pid
        assert child is not None
        # Another party takes the job over, as a recovery that saw the lease expire would.
        # (Its clock runs 100 s ahead, so the requeued job waits that long to run again.)
        thief = SqliteJobQueue.open(paths, clock=lambda: time.time() + 100)
        await thief.recover(lambda _owner: False)
        thief.close()
        seen = [e.seq for e in await service.queue.events(job_id)]
        await until(lambda: worker.report.lost == 1, what="the worker to notice")
        # Nothing of the old attempt is left running: not tau, not the command it ran.
        await until(lambda: not processes_with(marker), timeout=10, what="the tree killed")
        assert not processes_with(f"--workspace {paths.root}")  # the tau child is gone
        await asyncio.sleep(1.0)  # a few heartbeats' time: the stale worker stays silent
        job = await service.get(job_id)
        assert (job.state, job.reason, job.fence) == (JobState.RECOVERING, "stale-lease", 2)
        assert [e.seq for e in await service.queue.events(job_id)] == seen
        [attempt] = await service.queue.attempts(job_id)
        assert attempt.outcome == "stale-lease" and attempt.exit_code is None
    finally:
        worker.stop_now()
        await asyncio.wait_for(task, 60)
        kill_all(marker)


@pytest.mark.parametrize(
    ("ignores_term", "sandboxed"),
    [(False, True), (True, False), (True, True)],
    ids=["cooperative", "killed", "term-ignored-in-sandbox"],
)
async def test_cancel_of_a_bash_heavy_job_leaves_no_process_behind(
    service: JobService, tmp_path: Path, ignores_term: bool, sandboxed: bool
) -> None:
    environ = dict(os.environ)
    if not sandboxed:
        # A bwrap that cannot start: the balanced profile (best-effort) runs bash without it.
        broken = tmp_path / "broken-bwrap"
        broken.mkdir()
        (broken / "bwrap").write_text("#!/bin/sh\nexit 1\n")
        (broken / "bwrap").chmod(0o755)
        environ["PATH"] = f"{broken}{os.pathsep}{environ.get('PATH', '')}"
    elif ignores_term and shutil.which("bwrap") is None and not os.environ.get("CI"):
        pytest.skip("bubblewrap is not installed (CI installs it)")
    marker = f"41.{os.getpid()}{int(ignores_term)}{int(sandboxed)}"
    trap = "trap '' TERM; " if ignores_term else ""
    # Background jobs, a subshell, a process in its own session and a nohup'd one.
    command = (
        f"{trap}sleep {marker} & (sleep {marker}; echo x) & "
        f"setsid sleep {marker} & nohup sleep {marker} >/dev/null 2>&1 & "
        f"sleep {marker}"
    )
    job_id = await submit_script_job(service, tmp_path, [bash_turn(command), text_turn("never")])
    grace = 0.5 if ignores_term else 20.0
    worker, task = start_worker(service, fast_config(cancel_grace_s=grace), environ=environ)
    try:
        await until(lambda: len(processes_with(f"sleep {marker}")) >= 5, what="the commands")
        await service.cancel(job_id)
        job = await until(lambda: _settled(service, job_id), what="the job to end")
        assert (job.state, job.reason) == (JobState.CANCELLED, "operator-cancel")
        await until(lambda: not processes_with(marker), timeout=10, what="no process left")
        types = [e.type for e in await service.queue.events(job_id)]
        assert "cancel-requested" in types and "stopping" in types
        # Unsandboxed, a command that ignores TERM lasts until the worker kills it; in the
        # sandbox bwrap ends on TERM and takes its PID namespace along (--die-with-parent).
        assert ("killed" in types) == (ignores_term and not sandboxed)
    finally:
        worker.drain()
        await asyncio.wait_for(task, 60)
        kill_all(marker)


async def _settled(service: JobService, job_id: str) -> object:
    job = await service.get(job_id)
    return job if job.settled else None


async def test_a_job_without_progress_is_shown_stuck(service: JobService, tmp_path: Path) -> None:
    marker = f"51.{os.getpid()}"
    job_id = await submit_script_job(
        service, tmp_path, [bash_turn(f"sleep {marker}"), text_turn("never")]
    )
    worker, task = start_worker(service, fast_config())
    try:
        await until(lambda: processes_with(marker), what="the bash call")
        job = await service.get(job_id)
        assert service.view(job, [], stuck_after_s=60).state == "running"
        # Heartbeats go on; the phase and last line do not move.
        job = await until(
            lambda: _beating_without_progress(service, job_id, 1.0),
            what="a second of heartbeats without progress",
        )
        view = service.view(job, [], stuck_after_s=1.0)
        assert view.state == "stuck" and view.next_command == f"tau jobs cancel {job_id[:8]}"
        assert "no progress for" in view.reason and "phase tool bash" in view.reason
    finally:
        await service.cancel(job_id)
        worker.drain()
        await asyncio.wait_for(task, 60)
        kill_all(marker)


async def _beating_without_progress(service: JobService, job_id: str, quiet_s: float) -> object:
    job = await service.get(job_id)
    if job.heartbeat_at and job.progress_at and job.heartbeat_at > job.progress_at + quiet_s:
        return job
    return None


async def test_a_retryable_provider_failure_is_retried_later(
    service: JobService, tmp_path: Path
) -> None:
    job_id = await submit_script_job(
        service,
        tmp_path,
        [
            {
                "error": {
                    "kind": "overloaded",
                    "message": "the server is overloaded",
                    "retryable": False,
                }
            }
        ],
        max_attempts=2,
    )
    _worker, task = start_worker(service, fast_config(once=True))
    await asyncio.wait_for(task, 60)
    job = await service.get(job_id)
    assert (job.state, job.reason, job.attempt) == (JobState.QUEUED, "retry", 1)
    assert "overloaded" in job.last_error
    assert job.next_run_at is not None and job.next_run_at > job.updated_at
    view = service.view(job, [])
    assert view.state == "queued" and "next run in" in view.reason


async def test_a_bad_model_fails_as_bad_input(service: JobService, tmp_path: Path) -> None:
    job_id = await submit_script_job(
        service, tmp_path, [text_turn("x")], inputs={"model": "nosuch/model"}
    )
    _worker, task = start_worker(service, fast_config(once=True))
    await asyncio.wait_for(task, 60)
    job = await service.get(job_id)
    assert (job.state, job.reason) == (JobState.FAILED, "bad-input")
    assert "nosuch" in job.last_error


async def test_a_hard_stop_hands_the_job_back(service: JobService, tmp_path: Path) -> None:
    marker = f"61.{os.getpid()}"
    job_id = await submit_script_job(
        service, tmp_path, [bash_turn(f"sleep {marker}"), text_turn("never")], max_attempts=3
    )
    worker, task = start_worker(service, fast_config(cancel_grace_s=5.0))
    try:
        await until(lambda: processes_with(marker), what="the bash call")
        worker.drain()
        worker.stop_now()
        report = await asyncio.wait_for(task, 60)
        assert report.outcomes == {"queued": 1}
        job = await service.get(job_id)
        assert (job.state, job.reason, job.attempt) == (JobState.QUEUED, "worker-shutdown", 1)
        [attempt] = await service.queue.attempts(job_id)
        assert (attempt.outcome, attempt.end_reason) == ("queued", "worker-shutdown")
        assert not processes_with(marker)
        assert service.view(job, [attempt]).state == "queued"
    finally:
        kill_all(marker)


async def test_a_job_killed_by_a_signal_is_requeued(service: JobService, tmp_path: Path) -> None:
    import signal

    marker = f"71.{os.getpid()}"
    job_id = await submit_script_job(
        service, tmp_path, [bash_turn(f"sleep {marker}"), text_turn("never")], max_attempts=3
    )
    worker, task = start_worker(service, fast_config())
    try:
        await until(lambda: processes_with(marker), what="the bash call")
        [attempt] = await service.queue.attempts(job_id)
        assert attempt.child_pid is not None
        os.kill(attempt.child_pid, signal.SIGKILL)  # the OOM killer, say
        job = await until(lambda: _requeued(service, job_id), what="the requeue")
        assert (job.reason, job.attempt) == ("crashed", 1)
        assert "signal 9" in job.last_error
    finally:
        worker.drain()
        await service.cancel(job_id)
        await asyncio.wait_for(task, 60)
        kill_all(marker)


async def _requeued(service: JobService, job_id: str) -> object:
    job = await service.get(job_id)
    return job if job.state is JobState.QUEUED else None


async def test_a_worker_whose_heartbeats_fail_kills_its_job_then_releases_it(
    service: JobService, tmp_path: Path, paths: WorkspacePaths
) -> None:
    from tau_engine.jobs.worker import Worker
    from tests.jobs.test_lease import FlakyQueue

    marker = f"81.{os.getpid()}"
    job_id = await submit_script_job(
        service, tmp_path, [bash_turn(f"sleep {marker}"), text_turn("never")], max_attempts=3
    )
    flaky = FlakyQueue(SqliteJobQueue.open(paths))
    worker = Worker(
        flaky,
        paths,
        service.kinds,
        fast_config(once=True),  # type: ignore[arg-type]
        signer=service.signer,
        environ=os.environ,
    )
    task = asyncio.ensure_future(worker.run())
    try:
        await until(lambda: processes_with(marker), what="the bash call")
        flaky.failing = StoreError
        # Within the lease, the worker kills its own job: nothing of it is left running.
        await until(lambda: not processes_with(marker), timeout=10, what="the job killed")
        lease = next(iter(worker.leases.values()))
        assert "heartbeats failed" in lease.lost_reason and not lease.stale
        job = await service.get(job_id)
        assert job.state is JobState.RUNNING  # the queue could not be told yet
        flaky.failing = None
        await asyncio.wait_for(task, 30)
        job = await service.get(job_id)
        assert (job.state, job.reason) == (JobState.QUEUED, "heartbeat-failed")
        assert "heartbeats failed" in job.last_error
    finally:
        worker.stop_now()
        await asyncio.gather(task, return_exceptions=True)
        flaky.inner.close()
        kill_all(marker)
