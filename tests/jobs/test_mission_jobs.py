"""Mission jobs: ``tau jobs submit --mission``, the fence before ``git commit``, the
``Tau-Job`` trailer, replays that resume, and kill -9 chaos with zero duplicate commits."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.cli.tau_process import TAU, run_tau, tau_env
from tests.jobs.support import processes_with
from tests.missions.support import FIX, VERIFIER, git, make_calc_repo, write


def tau_json(args: list[str], cwd: Path, **kwargs: Any) -> Any:
    proc = run_tau([*args, "--json"], cwd, **kwargs)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def submit_mission(repo: Path, patch: Path, *job_options: str) -> dict[str, Any]:
    made = tau_json(
        [
            "jobs",
            "submit",
            *job_options,
            "--mission",
            "--task",
            "make add add",
            "--verifier",
            VERIFIER,
            "--patch",
            str(patch),
        ],
        repo,
    )
    job: dict[str, Any] = made["job"]
    return job


def trailers(repo: Path, key: str) -> list[str]:
    out = git(repo, "log", "--all", f"--format=%(trailers:key={key},valueonly,separator=%x2C)")
    return [
        value.strip() for line in out.splitlines() for value in line.split(",") if value.strip()
    ]


def test_a_mission_job_commits_once_with_both_trailers(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    job = submit_mission(repo, patch, "--key", "calc")
    assert job["inputs"] == {
        "args": ["--task", "make add add", "--verifier", VERIFIER, "--patch", "patch"]
    }
    assert (repo / ".tau" / "jobs" / job["id"] / "patch").read_text() == FIX
    run = run_tau(["jobs", "run", "--once"], repo)
    assert run.returncode == 0, run.stderr
    shown = tau_json(["jobs", "show", job["id"]], repo)
    record = shown["job"]
    mission_id = record["result"]["id"]
    assert record["state"] == "succeeded" and record["result"]["outcome"] == "green"
    assert record["operator"]["next_command"] == f"tau mission show {mission_id}"
    assert shown["attempts"][0]["detail"]["mission_id"] == mission_id
    assert trailers(repo, "Tau-Job") == [job["id"]]
    assert trailers(repo, "Tau-Mission") == [mission_id]
    # A replay resumes the same mission: it finds its commit and makes no other.
    replay = tau_json(["jobs", "replay", job["id"]], repo)["job"]
    assert replay["inputs"]["mission_id"] == mission_id
    assert run_tau(["jobs", "run", "--once"], repo).returncode == 0
    assert tau_json(["jobs", "show", replay["id"]], repo)["job"]["state"] == "succeeded"
    assert trailers(repo, "Tau-Mission") == [mission_id]
    refused = run_tau(["jobs", "replay", job["id"], "--offline"], repo)
    assert refused.returncode == 2 and "cannot be replayed --offline" in refused.stderr


def test_a_mission_without_edit_authority_needs_authority(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    job = tau_json(
        ["jobs", "submit", "--mission", "--task", "make add add", "--verifier", VERIFIER], repo
    )["job"]
    assert run_tau(["jobs", "run", "--once"], repo).returncode == 0
    record = tau_json(["jobs", "show", job["id"]], repo)["job"]
    assert (record["state"], record["reason"]) == ("blocked", "needs-authority")
    assert record["operator"]["state"] == "needs-authority"
    assert record["operator"]["next_command"].startswith("tau mission run ")
    assert "--patch" in record["operator"]["next_command"]


def test_bad_mission_arguments_are_refused_at_submit(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    for args, words in (
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--task", "x", "--verifier", "y", "--repo", "/tmp"], "--repo is not for a job"),
        (["--task", "x", "--patch", "nope.diff"], "no such file"),
        ([], "--mission needs the arguments"),
    ):
        proc = run_tau(["jobs", "submit", "--mission", *args], repo)
        assert proc.returncode == 2 and words in proc.stderr, (args, proc.stderr)


def test_a_mission_whose_job_lost_its_fence_does_not_commit(tmp_path: Path) -> None:
    """The check right before ``git commit``: a mission run for a job attempt that no
    longer owns the job stops there, and commits when resumed by the owner."""
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    job = submit_mission(repo, patch)  # queued, never claimed: fence 1 is nobody's
    stale = tau_env(TAU_JOB_ID=job["id"], TAU_JOB_FENCE="1", TAU_JOB_ATTEMPT="1")
    proc = run_tau(
        [
            "mission",
            "run",
            "--task",
            "make add add",
            "--verifier",
            VERIFIER,
            "--patch",
            str(patch),
            "--json",
        ],
        repo,
        env=stale,
    )
    assert proc.returncode == 1
    assert f"job {job['id'][:8]} no longer holds fence 1" in proc.stderr
    assert trailers(repo, "Tau-Mission") == []
    mission_id = tau_json(["mission", "list"], repo)[0]["id"]
    resumed = run_tau(["mission", "resume", mission_id, "--json"], repo)
    assert resumed.returncode == 0, resumed.stderr
    assert trailers(repo, "Tau-Mission") == [mission_id] and trailers(repo, "Tau-Job") == []


def test_kill_9_workers_during_20_mission_jobs_makes_no_duplicate_commit(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    ids = [submit_mission(repo, patch, "--max-attempts", "10")["id"] for _ in range(20)]

    def worker() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*TAU, "jobs", "run", "--lease", "3", "--heartbeat", "0.5", "--recover-every", "1"],
            cwd=repo,
            env=tau_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def jobs() -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = tau_json(["jobs", "list", "--limit", "100"], repo)
        return listed

    workers = [worker() for _ in range(3)]
    kills = 0
    deadline = time.monotonic() + 600
    try:
        while True:
            listed = jobs()
            if all(j["state"] not in ("queued", "running", "recovering") for j in listed):
                break
            assert time.monotonic() < deadline, (Counter(j["state"] for j in listed), seed)
            running = [j for j in listed if j["state"] == "running" and j["owner"]]
            if kills < 6 and running:
                time.sleep(rng.uniform(0.0, 1.5))  # a random point of the mission
                pid = rng.choice(running)["owner"]["pid"]
                victim = next((p for p in workers if p.pid == pid), None)
                if victim is not None and victim.poll() is None:
                    os.kill(victim.pid, signal.SIGKILL)
                    victim.wait()
                    kills += 1
                    workers.remove(victim)
                    workers.append(worker())
            time.sleep(0.3)
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            proc.communicate(timeout=120)
    by_id = {j["id"]: j for j in jobs()}
    assert kills >= 3, f"seed {seed}"
    assert {by_id[i]["state"] for i in ids} == {"succeeded"}, f"seed {seed}"
    # Every job committed exactly once: zero duplicate commits, nothing lost.
    assert sorted(trailers(repo, "Tau-Job")) == sorted(ids), f"seed {seed}"
    missions = trailers(repo, "Tau-Mission")
    assert len(missions) == len(set(missions)) == 20, f"seed {seed}"
    recovered = 0
    for job_id in ids:
        attempts = tau_json(["jobs", "show", job_id], repo)["attempts"]
        outcomes = [a["outcome"] for a in attempts]
        assert outcomes.count("succeeded") == 1, (job_id, outcomes, seed)
        recovered += outcomes.count("stale-lease")
    assert recovered >= 3, f"seed {seed}"
    assert not processes_with(f"--repo {repo}")
