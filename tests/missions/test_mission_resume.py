"""kill -9 at every phase, then ``tau mission resume``: the same outcome, exactly one commit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.tau_process import run_tau, tau_env
from tests.missions.support import (
    FIX,
    VERIFIER,
    Checkout,
    add_origin,
    branch_commits,
    fake_gh,
    git,
    make_calc_repo,
    mission,
    mission_state,
    write,
)

DRIVER = Path(__file__).with_name("crash_driver.py")

# (phase, the function after whose Nth call the process dies, N, extra run flags)
CRASH_POINTS = [
    ("intake", "tau_engine.store.sqlite.missions:SqliteMissionStore.create", 1, []),
    ("branch", "tau_engine.missions.worktree:ensure_worktree", 1, []),
    ("setup", "tau_engine.missions.runner:run_command", 1, ["--setup", "echo set up"]),
    ("red", "tau_engine.missions.runner:run_command", 1, []),
    ("edit", "tau_engine.missions.editors:PatchEditor.edit", 1, []),
    ("green", "tau_engine.missions.runner:run_command", 3, []),
    ("checks", "tau_engine.missions.worktree:changed_paths", 2, []),
    ("commit", "tau_engine.missions.worktree:commit", 1, []),
    ("evidence", "tau_engine.missions.evidence:EvidenceWriter.write_sums", 1, []),
    ("publish", "tau_engine.missions.publish:publish", 1, ["--publish", "draft"]),
]


def _crash(
    repo: Path, target: str, nth: int, args: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    # Run by path: the repository under test has a `tests` package of its own.
    return subprocess.run(
        [sys.executable, str(DRIVER), target, str(nth), "mission", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("phase", "target", "nth", "extra"), CRASH_POINTS, ids=[point[0] for point in CRASH_POINTS]
)
def test_kill_9_then_resume_ends_green_with_one_commit(
    tmp_path: Path, phase: str, target: str, nth: int, extra: list[str]
) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    env = tau_env()
    gh_log = None
    if "--publish" in extra:
        env, gh_log = fake_gh(tmp_path)
        add_origin(repo, tmp_path)
    before = Checkout.of(repo)
    crashed = _crash(
        repo,
        target,
        nth,
        [
            "run",
            "--task",
            "Fix add() so that it adds",
            "--verifier",
            VERIFIER,
            "--patch",
            str(patch),
            *extra,
        ],
        env,
    )
    assert crashed.returncode == -9, crashed.stderr
    listed = json.loads(run_tau(["mission", "list", "--json"], repo).stdout)
    # Killed before the outcome was saved, except in the phases after it was decided.
    decided = phase in ("evidence", "publish")
    assert len(listed) == 1 and listed[0]["outcome"] == ("green" if decided else None)
    mid = listed[0]["id"]
    assert listed[0]["phase"] == (phase if phase != "intake" else "branch")
    branch = f"tau/mission-{mid}"
    if phase in ("commit", "evidence", "publish"):
        # The commit was made before the kill (and, at commit, not yet recorded): a
        # resume must find it instead of making another.
        assert len(branch_commits(repo, before.head, branch)) == 1

    proc, result = mission(repo, "resume", mid, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["outcome"] == "green" and result["id"] == mid
    assert branch_commits(repo, before.head, branch) == [result["commit"]]
    state = mission_state(repo, mid)
    if phase != "intake":
        interrupted = [p["name"] for p in state["phases"] if p["note"] == "interrupted"]
        assert interrupted == [phase]
    assert len(state["attempts"]) == 1
    verify = run_tau(["mission", "verify", mid, "--red"], repo, env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert Checkout.of(repo) == before
    if gh_log is not None:
        calls = gh_log.read_text().splitlines()
        assert sum(c.startswith("pr create") for c in calls) == 1
        assert state["publication"]["status"] == "published"
    # Resuming a finished mission changes nothing and reports the same outcome.
    again, result_again = mission(repo, "resume", mid, env=env)
    assert again.returncode == 0 and result_again == result
    assert branch_commits(repo, before.head, branch) == [result["commit"]]


def test_a_mission_runs_in_one_process_at_a_time(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    env = tau_env()
    crashed = _crash(
        repo,
        "tau_engine.missions.runner:run_command",
        1,
        [
            "run",
            "--task",
            "Fix add() so that it adds",
            "--verifier",
            VERIFIER,
            "--patch",
            str(patch),
        ],
        env,
    )
    assert crashed.returncode == -9
    mid = json.loads(run_tau(["mission", "list", "--json"], repo).stdout)[0]["id"]
    lock = repo / ".tau" / "missions" / f"{mid}.lock"
    import fcntl
    import os

    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        proc = run_tau(["mission", "resume", mid], repo)
        assert proc.returncode == 1
        assert f"mission {mid} is running in another tau process" in proc.stderr
    finally:
        os.close(fd)
    assert git(repo, "branch", "--list", f"tau/mission-{mid}")  # untouched, resumable
    proc, result = mission(repo, "resume", mid)
    assert proc.returncode == 0 and result["outcome"] == "green"
