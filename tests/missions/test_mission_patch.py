"""End to end: ``tau mission run --patch`` in temporary repositories with real failing tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.cli.tau_process import run_tau
from tests.missions.support import (
    FIX,
    FIX_AND_TEST,
    NOT_A_FIX,
    PYTHON,
    STALE,
    VERIFIER,
    Checkout,
    branch_commits,
    git,
    make_calc_repo,
    mission,
    write,
)

RESULT_KEYS = {"id", "phase", "outcome", "reason", "unblock_command", "evidence_dir", "commit"}


def test_patch_mission_red_green_commit_with_evidence(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    before = Checkout.of(repo)
    base = before.head
    proc, result = mission(
        repo,
        "run",
        "--task",
        "Fix add() so that it adds",
        "--verifier",
        VERIFIER,
        "--patch",
        str(patch),
    )
    assert proc.returncode == 0, proc.stderr
    assert set(result) == RESULT_KEYS
    assert result["outcome"] == "green" and result["reason"] is None
    assert result["phase"] == "commit" and result["unblock_command"] is None
    mid = result["id"]
    # Progress: one stderr line per phase, in order.
    phases = [
        line.split(": ")[1]
        for line in proc.stderr.splitlines()
        if line.startswith(f"tau mission {mid}: ")
    ]
    assert phases == ["intake", "branch", "red", "edit", "green", "checks", "commit", "evidence"]
    # Exactly one commit, on the mission branch, by tau, with the trailer; main untouched.
    branch = f"tau/mission-{mid}"
    commits = branch_commits(repo, base, branch)
    assert commits == [result["commit"]]
    message = git(repo, "log", "-1", "--format=%B", result["commit"])
    assert message.startswith("Fix add() so that it adds") and f"Tau-Mission: {mid}" in message
    assert git(repo, "show", f"{result['commit']}:calc/__init__.py").count("return a + b") == 1
    assert Checkout.of(repo) == before
    # The worktree held nothing uncommitted, so it is gone; the branch stays.
    assert not (repo / ".tau" / "worktrees" / mid).exists()
    assert str(repo / ".tau" / "worktrees") not in git(repo, "worktree", "list")

    ev = Path(result["evidence_dir"])
    assert ev == repo / ".tau" / "missions" / mid
    names = sorted(p.relative_to(ev).as_posix() for p in ev.rglob("*") if p.is_file())
    assert names == [
        "PR.md",
        "SHA256SUMS",
        "attempts/1/context.md",
        "attempts/1/diff.patch",
        "attempts/1/verifier.log",
        "commit.txt",
        "diff.patch",
        "green.log",
        "mission.json",
        "red.log",
        "red2.log",
        "report.json",
    ]
    state = json.loads((ev / "mission.json").read_text())
    assert state["schema_version"] == 1 and state["base_commit"] == base
    assert state["outcome"] == "green" and state["commit"] == result["commit"]
    assert [p["name"] for p in state["phases"]][:3] == ["intake", "branch", "red"]
    assert all(p["finished_at"] >= p["started_at"] for p in state["phases"])
    attempt = state["attempts"][0]
    assert attempt["verifier"]["exit_code"] == 0 and attempt["diff_sha256"]
    assert attempt["touched"] == ["calc/__init__.py"]
    assert "patch_text" not in state["inputs"] and state["inputs"]["patch_sha256"]
    assert [r["failing"] for r in state["red"]] == [["tests.test_calc.TestCalc.test_add"]] * 2
    red = (ev / "red.log").read_text()
    assert red.startswith(f"$ {VERIFIER}\n") and "AssertionError: -1 != 5" in red
    assert red.rstrip().splitlines()[-1].startswith("# exit 1 after")
    assert "OK" in (ev / "green.log").read_text()
    assert (ev / "diff.patch").read_text() == git(repo, "diff", base, result["commit"]) + "\n"
    assert result["commit"] in (ev / "commit.txt").read_text()
    context = (ev / "attempts/1/context.md").read_text()
    assert "Fix add() so that it adds" in context and "AssertionError: -1 != 5" in context
    report = json.loads((ev / "report.json").read_text())[mid]
    assert report["resolved"] == "FULL" and report["tests_modified"] is False
    assert report["tests_status"]["FAIL_TO_PASS"] == {
        "success": ["tests.test_calc.TestCalc.test_add"],
        "failure": [],
    }
    assert report["tests_status"]["PASS_TO_PASS"] == {
        "success": ["tests.test_calc.TestCalc.test_mul"],
        "failure": [],
    }
    assert report["flaky"] is False and report["patch_successfully_applied"] is True
    pr = (ev / "PR.md").read_text()
    assert (
        "failed before (2/2 runs), passes after; 0 previously passing tests broken; "
        "test files unchanged"
    ) in pr
    assert (
        f"gh pr create --draft --base main --head {branch} --title "
        f"'Fix add() so that it adds' --body-file .tau/missions/{mid}/PR.md"
    ) in pr
    # Anyone can check the evidence with sha256sum.
    check = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=ev, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(names) - 1


def test_already_green_makes_no_commit(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    before = Checkout.of(repo)
    proc, result = mission(
        repo,
        "run",
        "--task",
        "Make mul multiply",
        "--verifier",
        f"{PYTHON} -m unittest tests.test_calc.TestCalc.test_mul",
        "--patch",
        str(patch),
    )
    assert proc.returncode == 0, proc.stderr
    assert result["outcome"] == "already-green" and result["commit"] is None
    assert result["phase"] == "red"
    assert branch_commits(repo, before.head, f"tau/mission-{result['id']}") == []
    ev = Path(result["evidence_dir"])
    assert (ev / "red.log").is_file() and (ev / "red2.log").is_file()
    assert not (ev / "PR.md").exists() and not (ev / "attempts").exists()
    assert Checkout.of(repo) == before


def test_patch_that_does_not_apply_fails_and_changes_nothing(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "stale.diff", STALE)
    before = Checkout.of(repo)
    proc, result = mission(
        repo,
        "run",
        "--task",
        "Fix add() so that it adds",
        "--verifier",
        VERIFIER,
        "--patch",
        str(patch),
    )
    assert proc.returncode == 1, proc.stderr
    assert result["outcome"] == "failed" and result["reason"] == "patch-does-not-apply"
    assert result["phase"] == "edit" and result["commit"] is None
    assert "does not apply" in proc.stdout and "nothing was changed" in proc.stdout
    # The worktree is unchanged (so it was removed) and the user's checkout too.
    assert not (repo / ".tau" / "worktrees" / result["id"]).exists()
    assert branch_commits(repo, before.head, f"tau/mission-{result['id']}") == []
    assert Checkout.of(repo) == before


def test_patch_that_does_not_fix_it_fails_still_red(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "wrong.diff", NOT_A_FIX)
    before = Checkout.of(repo)
    proc, result = mission(
        repo,
        "run",
        "--task",
        "Fix add() so that it adds",
        "--verifier",
        VERIFIER,
        "--patch",
        str(patch),
    )
    assert proc.returncode == 1
    assert (result["outcome"], result["reason"], result["phase"]) == (
        "failed",
        "still-red",
        "green",
    )
    # The attempt's change stays in the kept worktree for inspection; nothing committed.
    worktree = repo / ".tau" / "worktrees" / result["id"]
    assert "return a * b" in (worktree / "calc" / "__init__.py").read_text()
    assert branch_commits(repo, before.head, f"tau/mission-{result['id']}") == []
    report = json.loads((Path(result["evidence_dir"]) / "report.json").read_text())
    assert report[result["id"]]["resolved"] == "NO"
    assert Checkout.of(repo) == before


def test_guard_catches_a_broken_test(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    # The fix for add() breaks mul(), which only the guard (the whole suite) runs.
    patch = write(
        tmp_path / "fix.diff",
        FIX
        + """@@ -5,2 +5,2 @@
 def mul(a, b):
-    return a * b
+    return a ** b
""",
    )
    proc, result = mission(
        repo,
        "run",
        "--task",
        "Fix add() so that it adds",
        "--verifier",
        f"{PYTHON} -m unittest tests.test_calc.TestCalc.test_add",
        "--guard",
        VERIFIER,
        "--patch",
        str(patch),
    )
    assert proc.returncode == 1, proc.stderr
    assert result["reason"] == "tests-broken"
    ev = Path(result["evidence_dir"])
    state = json.loads((ev / "mission.json").read_text())
    assert state["attempts"][0]["guard_broken"] == ["tests.test_calc.TestCalc.test_mul"]
    guard = (ev / "guard.log").read_text()
    assert "# guard at RED" in guard and "# guard after attempt 1" in guard


def test_green_with_guard_counts_no_broken_tests(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    proc, result = mission(
        repo,
        "run",
        "--task",
        "Fix add() so that it adds",
        "--verifier",
        f"{PYTHON} -m unittest tests.test_calc.TestCalc.test_add",
        "--guard",
        VERIFIER,
        "--patch",
        str(patch),
    )
    assert proc.returncode == 0, proc.stderr
    ev = Path(result["evidence_dir"])
    assert "0 previously passing tests broken" in (ev / "PR.md").read_text()
    p2p = json.loads((ev / "report.json").read_text())[result["id"]]["tests_status"]
    assert p2p["PASS_TO_PASS"]["success"] == ["tests.test_calc.TestCalc.test_mul"]


def test_tamper_flag_and_strict_profile(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "both.diff", FIX_AND_TEST)
    proc, result = mission(
        repo,
        "run",
        "--task",
        "Fix add() so that it adds",
        "--verifier",
        VERIFIER,
        "--patch",
        str(patch),
    )
    assert proc.returncode == 0, proc.stderr
    ev = Path(result["evidence_dir"])
    assert json.loads((ev / "report.json").read_text())[result["id"]]["tests_modified"] is True
    pr = (ev / "PR.md").read_text()
    assert "test files modified: tests/test_calc.py" in pr
    assert "modifies the verifier's own test files" in pr

    before = Checkout.of(repo)
    proc, strict = mission(
        repo,
        "run",
        "--task",
        "Fix add() so that it adds",
        "--verifier",
        VERIFIER,
        "--patch",
        str(patch),
        "--profile",
        "strict",
    )
    assert proc.returncode == 3
    assert (strict["outcome"], strict["reason"], strict["phase"]) == (
        "blocked",
        "verifier-modified",
        "checks",
    )
    assert strict["commit"] is None
    assert branch_commits(repo, before.head, f"tau/mission-{strict['id']}") == []
    assert Checkout.of(repo) == before


def test_flaky_verifier_is_blocked_keeping_both_logs(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    counter = tmp_path / "runs"
    # Fails on odd runs only: the same untouched code, two different results.
    script = write(
        tmp_path / "flaky.sh",
        f"n=$(cat {counter} 2>/dev/null || echo 0)\n"
        f"n=$((n+1)); echo $n > {counter}\necho run $n\n[ $((n % 2)) -eq 0 ]\n",
    )
    patch = write(tmp_path / "fix.diff", FIX)
    before = Checkout.of(repo)
    proc, result = mission(
        repo,
        "run",
        "--task",
        "Fix add() so that it adds",
        "--verifier",
        f"bash {script}",
        "--patch",
        str(patch),
    )
    assert proc.returncode == 3
    assert (result["outcome"], result["reason"], result["phase"]) == (
        "blocked",
        "flaky-verifier",
        "red",
    )
    ev = Path(result["evidence_dir"])
    assert "run 1" in (ev / "red.log").read_text() and "# exit 1" in (ev / "red.log").read_text()
    assert "run 2" in (ev / "red2.log").read_text() and "# exit 0" in (ev / "red2.log").read_text()
    assert json.loads((ev / "report.json").read_text())[result["id"]]["flaky"] is True
    assert Checkout.of(repo) == before


def test_no_commit_leaves_the_change_in_the_worktree_and_verifies(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    before = Checkout.of(repo)
    proc, result = mission(
        repo,
        "run",
        "--task",
        "Fix add() so that it adds",
        "--verifier",
        VERIFIER,
        "--patch",
        str(patch),
        "--no-commit",
    )
    assert proc.returncode == 0, proc.stderr
    assert result["outcome"] == "green" and result["commit"] is None
    worktree = repo / ".tau" / "worktrees" / result["id"]
    assert "return a + b" in (worktree / "calc" / "__init__.py").read_text()
    assert branch_commits(repo, before.head, f"tau/mission-{result['id']}") == []
    proc = run_tau(["mission", "verify", result["id"], "--red"], repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "base" in proc.stdout and "diff.patch" in proc.stdout
    assert Checkout.of(repo) == before


def test_verify_and_verify_red(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    _, result = mission(
        repo,
        "run",
        "--task",
        "Fix add() so that it adds",
        "--verifier",
        VERIFIER,
        "--patch",
        str(patch),
    )
    mid = result["id"]
    before = Checkout.of(repo)
    worktrees = git(repo, "worktree", "list")
    proc = run_tau(["mission", "verify", mid[:6], "--json"], repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == ["evidence", "green"]
    proc = run_tau(["mission", "verify", mid, "--red", "--json"], repo)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0 and [c["name"] for c in report["checks"]] == [
        "evidence",
        "green",
        "red",
    ]
    assert "verifier exit 1 on base" in report["checks"][2]["detail"]
    # The temporary worktrees are gone; nothing of the user's changed.
    assert git(repo, "worktree", "list") == worktrees
    assert Checkout.of(repo) == before
    # Evidence that was edited afterwards no longer verifies.
    red_log = Path(result["evidence_dir"]) / "red.log"
    red_log.write_text(red_log.read_text().replace("-1 != 5", "5 != 5"))
    proc = run_tau(["mission", "verify", mid], repo)
    assert proc.returncode == 1
    assert "FAIL evidence: red.log: changed since the mission wrote it" in proc.stdout


def test_issue_file_and_stdin(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    issue = write(tmp_path / "issue.md", "# add() subtracts\n\nadd(2, 3) returns -1.\n")
    proc, result = mission(
        repo, "run", "--issue", str(issue), "--verifier", VERIFIER, "--patch", str(patch)
    )
    assert proc.returncode == 0, proc.stderr
    assert git(repo, "log", "-1", "--format=%B", result["commit"]) == (
        f"add() subtracts\n\nadd(2, 3) returns -1.\n\nTau-Mission: {result['id']}"
    )
    gh_json = json.dumps({"title": "add() is broken", "body": "It subtracts."})
    proc, result = mission(
        repo, "run", "--issue", "-", "--verifier", VERIFIER, "--patch", str(patch), input=gh_json
    )
    assert proc.returncode == 0, proc.stderr
    assert git(repo, "log", "-1", "--format=%B", result["commit"]) == (
        f"add() is broken\n\nIt subtracts.\n\nTau-Mission: {result['id']}"
    )


def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    plain = tmp_path / "plain"
    plain.mkdir()
    cases = [
        (
            ["mission", "run", "--repo", str(plain), "--task", "x", "--verifier", "true"],
            "not in a git repository",
        ),
        (
            [
                "mission",
                "run",
                "--task",
                "Fix it well",
                "--verifier",
                "true",
                "--patch",
                str(write(tmp_path / "junk.diff", "not a diff\n")),
            ],
            "neither a unified diff",
        ),
        (
            [
                "mission",
                "run",
                "--task",
                "Fix it well",
                "--patch",
                str(patch),
                "--model",
                "anthropic/claude-sonnet-4-5",
            ],
            "not allowed with argument",
        ),
        (
            ["mission", "run", "--task", "Fix it well", "--patch", str(patch), "--auto-merge"],
            "--auto-merge needs --publish draft",
        ),
        (["mission", "show", "nosuchmission"], "no mission matches"),
        (["mission", "run", "--max-attempts", "0"], "must be at least 1"),
    ]
    for args, expected in cases:
        proc = run_tau(args, repo)
        assert proc.returncode == 2, (args, proc.stderr)
        assert expected in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert git(repo, "branch", "--list", "tau/*") == ""


def test_the_time_budget_stops_before_an_attempt(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    # RED alone takes longer than a thousandth of a minute.
    proc, result = mission(
        repo,
        "run",
        "--task",
        "Fix add() so that it adds",
        "--verifier",
        VERIFIER,
        "--patch",
        str(patch),
        "--max-minutes",
        "0.001",
    )
    assert proc.returncode == 1
    assert (result["outcome"], result["reason"], result["phase"]) == (
        "failed",
        "budget-time",
        "edit",
    )
    assert "time budget (0.001 min) is spent" in proc.stdout
