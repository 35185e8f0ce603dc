"""Races and chaos with real worker processes: every job runs once, kill -9 loses nothing.

The ``marker`` jobs run under the real worker (``worker_driver.py``); their child
checks its fence and its "commit" before appending it to a ledger, as a mission
does before ``git commit``, so a duplicate commit would show as a duplicate line.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tau_engine.jobs.prompt_kind import PromptKind
from tau_engine.jobs.service import JobService
from tau_engine.paths import WorkspacePaths
from tau_engine.store.job_models import JobState
from tests.cli.tau_process import TAU, tau_env
from tests.jobs.marker_kind import MarkerKind
from tests.jobs.support import bash_turn, processes_with, text_turn, write_script

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return tmp_path / "ledger.txt"


@pytest.fixture
def service(paths: WorkspacePaths, ledger: Path) -> Iterator[JobService]:
    opened = JobService.open(
        paths, kinds={"marker": MarkerKind(ledger, 0.0), "prompt": PromptKind()}
    )
    try:
        yield opened
    finally:
        opened.close()


def driver(
    paths: WorkspacePaths, ledger: Path, sleep_s: float, *extra: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.jobs.worker_driver",
            str(paths.root),
            str(ledger),
            str(sleep_s),
            *extra,
        ],
        cwd=ROOT,
        env=tau_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def all_settled(service: JobService, count: int, timeout: float) -> list[object]:
    end = time.monotonic() + timeout
    while True:
        jobs = await service.list_jobs(limit=count + 10)
        if len(jobs) == count and all(job.settled for job in jobs):
            return list(jobs)
        assert time.monotonic() < end, Counter(job.state for job in jobs)
        await asyncio.sleep(0.2)


def ledger_ids(ledger: Path) -> list[str]:
    return [line.split()[0] for line in ledger.read_text().splitlines() if line.strip()]


async def test_four_workers_drain_200_jobs_exactly_once(
    service: JobService, paths: WorkspacePaths, ledger: Path
) -> None:
    ids = [(await service.submit("marker", {"n": n})).job.id for n in range(200)]
    workers = [driver(paths, ledger, 0.0, "--until-empty") for _ in range(4)]
    for proc in workers:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert sorted(ledger_ids(ledger)) == sorted(ids)  # each job committed exactly once
    jobs = await service.list_jobs(limit=300)
    assert {job.state for job in jobs} == {JobState.SUCCEEDED}
    assert {job.attempt for job in jobs} == {1}
    claimers = set()
    for job_id in ids:
        attempts = await service.queue.attempts(job_id)
        assert len(attempts) == 1
        claimers.add(attempts[0].owner.pid)
    assert len(claimers) > 1  # the workers really ran side by side


async def test_kill_9_workers_at_random_points_loses_nothing(
    service: JobService, paths: WorkspacePaths, ledger: Path
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    ids = [(await service.submit("marker", {"n": n}, max_attempts=10)).job.id for n in range(40)]
    workers = [driver(paths, ledger, 0.3) for _ in range(3)]
    kills = 0
    try:
        while kills < 6:
            await asyncio.sleep(rng.uniform(0.1, 0.5))
            running = [
                job
                for job in await service.list_jobs(states={JobState.RUNNING})
                if job.owner is not None
            ]
            if not running:
                if all(job.settled for job in await service.list_jobs(limit=100)):
                    break
                continue
            victim_pid = rng.choice(running).owner.pid  # type: ignore[union-attr]
            victim = next((p for p in workers if p.pid == victim_pid), None)
            if victim is None:
                continue
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            kills += 1
            workers.remove(victim)
            workers.append(driver(paths, ledger, 0.3))
        jobs = await all_settled(service, len(ids), timeout=240)
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            proc.communicate(timeout=60)
    assert kills >= 1, f"seed {seed}"
    assert {job.state for job in jobs} == {JobState.SUCCEEDED}, f"seed {seed}"  # type: ignore[attr-defined]
    # Zero duplicate commits, nothing lost.
    assert sorted(ledger_ids(ledger)) == sorted(ids), f"seed {seed}"
    recovered = 0
    for job_id in ids:
        outcomes = [a.outcome for a in await service.queue.attempts(job_id)]
        assert outcomes.count("succeeded") == 1, (job_id, outcomes, seed)
        assert set(outcomes) <= {"succeeded", "stale-lease"}, (outcomes, seed)
        recovered += outcomes.count("stale-lease")
    assert recovered >= 1, f"seed {seed}"
    # The killed workers' jobs died with them (PR_SET_PDEATHSIG): no child is left over.
    assert not processes_with(str(ledger))


async def test_tau_workers_run_prompt_jobs_once_through_kill_9(
    service: JobService, paths: WorkspacePaths, tmp_path: Path
) -> None:
    script = write_script(tmp_path, [bash_turn("sleep 0.4"), text_turn("done")])
    ids = [
        (
            await service.submit(
                "prompt",
                {
                    "prompt": f"job {n}",
                    "model": "offline/replay",
                    "script": str(script),
                    "approval": "full-auto",
                },
                max_attempts=10,
            )
        ).job.id
        for n in range(12)
    ]

    def tau_worker() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                *TAU,
                "jobs",
                "run",
                "--workers",
                "2",
                "--lease",
                "3",
                "--heartbeat",
                "0.5",
                "--recover-every",
                "1",
            ],
            cwd=paths.root,
            env=tau_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    workers = [tau_worker(), tau_worker()]
    try:
        for _kill in range(2):
            while not [
                j
                for j in await service.list_jobs(states={JobState.RUNNING})
                if j.phase == "tool bash"
            ]:
                await asyncio.sleep(0.05)
            victim = workers.pop(0)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            workers.append(tau_worker())
        jobs = await all_settled(service, len(ids), timeout=300)
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            proc.communicate(timeout=120)
    assert {job.state for job in jobs} == {JobState.SUCCEEDED}  # type: ignore[attr-defined]
    sessions = set()
    recovered = 0
    for job_id in ids:
        attempts = await service.queue.attempts(job_id)
        outcomes = [a.outcome for a in attempts]
        assert outcomes.count("succeeded") == 1, outcomes
        recovered += outcomes.count("stale-lease")
        sessions.add((await service.get(job_id)).session_id)
    assert recovered >= 2 and len(sessions) == len(ids)
    assert not processes_with(f"--workspace {paths.root}")
