"""``--publish draft`` and ``--auto-merge`` through a stand-in ``gh`` that records its calls."""

from __future__ import annotations

import os
from pathlib import Path

from tests.cli.tau_process import tau_env
from tests.missions.support import (
    FIX,
    NOT_A_FIX,
    VERIFIER,
    add_origin,
    fake_gh,
    git,
    make_calc_repo,
    mission,
    mission_state,
    write,
)

TASK = "Fix add() so that it adds"


def _run(repo: Path, patch: Path, env: dict[str, str], *flags: str) -> dict[str, object]:
    proc, result = mission(
        repo, "run", "--task", TASK, "--verifier", VERIFIER, "--patch", str(patch), *flags, env=env
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    result["stdout"] = proc.stdout
    return result


def _remote_branches(remote: Path) -> list[str]:
    return git(remote, "for-each-ref", "--format=%(refname)").splitlines()


def test_publish_draft_pushes_and_creates_a_draft_pr(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    remote = add_origin(repo, tmp_path)
    env, log = fake_gh(tmp_path)
    result = _run(repo, write(tmp_path / "fix.diff", FIX), env, "--publish", "draft")
    mid = result["id"]
    branch = f"tau/mission-{mid}"
    assert log.read_text().splitlines() == [
        "auth status",
        f"pr view {branch} --json url --jq .url",
        f"pr create --draft --base main --head {branch} --title {TASK} "
        f"--body-file .tau/missions/{mid}/PR.md",
    ]
    assert _remote_branches(remote) == [f"refs/heads/{branch}"]
    assert git(remote, "rev-parse", branch) == result["commit"]
    publication = mission_state(repo, str(mid))["publication"]
    assert publication["status"] == "published" and publication["auto_merge"] is False
    assert publication["url"] == "https://github.com/example/calc/pull/7"
    assert "publish: draft pull request: https://github.com/example/calc/pull/7" in str(
        result["stdout"]
    )


def test_auto_merge_goes_through_gh_pr_merge_auto(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    add_origin(repo, tmp_path)
    env, log = fake_gh(tmp_path)
    result = _run(
        repo, write(tmp_path / "fix.diff", FIX), env, "--publish", "draft", "--auto-merge"
    )
    branch = f"tau/mission-{result['id']}"
    calls = log.read_text().splitlines()
    assert calls[-2:] == [f"pr ready {branch}", f"pr merge {branch} --auto --squash"]
    assert not any("--admin" in call for call in calls)
    assert mission_state(repo, str(result["id"]))["publication"]["auto_merge"] is True


def test_nothing_is_published_without_the_flag_or_for_a_failed_mission(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    remote = add_origin(repo, tmp_path)
    env, log = fake_gh(tmp_path)
    _run(repo, write(tmp_path / "fix.diff", FIX), env)
    failed = _run(repo, write(tmp_path / "wrong.diff", NOT_A_FIX), env, "--publish", "draft")
    assert failed["outcome"] == "failed"
    assert not log.exists()
    assert _remote_branches(remote) == []


def test_without_gh_the_commands_are_recorded_not_run(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    remote = add_origin(repo, tmp_path)
    path = os.pathsep.join(
        d
        for d in tau_env()["PATH"].split(os.pathsep)
        if not os.access(os.path.join(d, "gh"), os.X_OK)
    )
    result = _run(repo, write(tmp_path / "fix.diff", FIX), tau_env(PATH=path), "--publish", "draft")
    assert result["outcome"] == "green"
    publication = mission_state(repo, str(result["id"]))["publication"]
    assert publication["status"] == "not-published"
    assert "gh CLI is not installed" in publication["reason"]
    branch = f"tau/mission-{result['id']}"
    assert publication["commands"][0] == f"git push -u origin {branch}"
    assert publication["commands"][1].startswith(
        f"gh pr create --draft --base main --head {branch}"
    )
    assert f"    {publication['commands'][1]}" in str(result["stdout"])
    assert _remote_branches(remote) == []


def test_gh_not_logged_in_pushes_nothing(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    remote = add_origin(repo, tmp_path)
    env, log = fake_gh(tmp_path, logged_in=False)
    result = _run(repo, write(tmp_path / "fix.diff", FIX), env, "--publish", "draft")
    publication = mission_state(repo, str(result["id"]))["publication"]
    assert publication["status"] == "not-published" and "not logged in" in publication["reason"]
    assert log.read_text().splitlines() == ["auth status"]
    assert _remote_branches(remote) == []
