"""Intake: every blocked code, its computed unblock command, and no side effect."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

import pytest

from tau_engine.missions.intake import MissionRequest, run_intake
from tests.missions.support import (
    FIX,
    PYTHON,
    VERIFIER,
    Checkout,
    git,
    make_calc_repo,
    mission,
    write,
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_calc_repo(tmp_path / "repo")


@pytest.fixture
def patch(tmp_path: Path) -> str:
    return str(write(tmp_path / "fix.diff", FIX))


# What intake suggests for python: "python" when it is on PATH, else "python3".
PY = "python" if shutil.which("python") else "python3"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()}
    env.update(extra)
    return env


def _intake(repo: Path, **kwargs: object) -> tuple[str | None, str, str | None]:
    request = MissionRequest(repo=repo, **kwargs)  # type: ignore[arg-type]
    verdict = run_intake(request, _env()).verdict
    return (verdict.code.value if verdict.code else None), verdict.message, verdict.unblock_command


def test_a_runnable_mission_passes_intake(repo: Path, patch: str) -> None:
    assert _intake(repo, task="Fix add()", verifier=VERIFIER, patch_file=patch) == (None, "", None)


def test_missing_verifier_suggests_the_projects_test_command(repo: Path, patch: str) -> None:
    code, message, unblock = _intake(repo, task="Fix add()", patch_file=patch)
    assert code == "missing-verifier" and "no --verifier" in message
    assert unblock is not None and f"--verifier '{PY} -m unittest'" in unblock
    write(repo / "pyproject.toml", "[tool.pytest.ini_options]\naddopts = '-q'\n")
    code, message, unblock = _intake(repo, task="Fix add()", patch_file=patch)
    assert f"this repository suggests '{PY} -m pytest -q'" in message
    assert unblock == shlex.join(
        [
            "tau",
            "mission",
            "run",
            "--repo",
            str(repo),
            "--task",
            "Fix add()",
            "--verifier",
            f"{PY} -m pytest -q",
            "--patch",
            patch,
        ]
    )


def test_missing_verifier_suggests_the_one_recorded_in_agents_md_and_never_runs_it(
    repo: Path, patch: str
) -> None:
    state = repo / ".tau"
    state.mkdir(exist_ok=True)
    canary = repo.parent / "ran"
    write(
        state / "AGENTS.md",
        f"# Project\n\n## Verifier\n\nCheck a change with: `touch {canary} && make check`\n",
    )
    code, message, unblock = _intake(repo, task="Fix add()", patch_file=patch)
    assert code == "missing-verifier"
    assert f".tau/AGENTS.md records 'touch {canary} && make check'" in message
    assert unblock is not None and shlex.quote(f"touch {canary} && make check") in unblock
    assert not canary.exists()  # a suggestion: the workspace's file ran nothing
    # Not a regular file (a link planted by a cloned repository): not read at all.
    (state / "AGENTS.md").unlink()
    elsewhere = write(repo.parent / "elsewhere.md", "Check a change with: `make evil`\n")
    (state / "AGENTS.md").symlink_to(elsewhere)
    _, message, unblock = _intake(repo, task="Fix add()", patch_file=patch)
    assert "make evil" not in message and unblock is not None and "make evil" not in unblock


def test_missing_edit_authority(repo: Path, patch: str) -> None:
    code, message, unblock = _intake(repo, task="Fix add() so that it adds", verifier=VERIFIER)
    assert code == "missing-edit-authority"
    assert "no provider API key was found" in message
    assert unblock is not None and "--patch PATCH.diff" in unblock
    # Offline models are never edit authority, even named explicitly.
    code, message, unblock = _intake(
        repo, task="Fix add() so that it adds", verifier=VERIFIER, model="offline/echo"
    )
    assert code == "missing-edit-authority" and "offline model" in message
    # The suggested command gives --patch instead of the model (the CLI refuses both).
    assert unblock is not None and "--patch PATCH.diff" in unblock and "--model" not in unblock


def test_missing_credentials_names_the_variable(repo: Path) -> None:
    code, message, unblock = _intake(
        repo,
        task="Fix add() so that it adds",
        verifier=VERIFIER,
        model="anthropic/claude-sonnet-4-5",
    )
    assert code == "missing-credentials" and "ANTHROPIC_API_KEY" in message
    assert unblock is not None and unblock.startswith("ANTHROPIC_API_KEY=<your key> tau ")
    assert "--model anthropic/claude-sonnet-4-5" in unblock


def test_a_key_makes_the_default_model_the_authority(repo: Path) -> None:
    request = MissionRequest(repo=repo, task="Fix add() so that it adds", verifier=VERIFIER)
    intake = run_intake(request, _env(ANTHROPIC_API_KEY="sk-ant-test-key"))
    assert intake.verdict.code is None
    assert intake.inputs.authority == "provider"
    assert intake.inputs.model is not None and intake.inputs.model.startswith("anthropic/")


@pytest.mark.parametrize(
    ("task", "patch_text", "profile", "expected"),
    [
        (
            "Fix add()",
            "--- a/.git/config\n+++ b/.git/config\n@@ -1 +1 @@\n-a\n+b\n",
            "balanced",
            "inside git's own folder, where config and hooks make git run programs (rule "
            "'git-internals')",
        ),
        (
            "Fix add()",
            "--- a/.env\n+++ b/.env\n@@ -1 +1 @@\n-a\n+b\n",
            "balanced",
            "rule 'tau-settings'",
        ),
        (
            "Fix add()",
            "--- a/../x.py\n+++ b/../x.py\n@@ -1 +1 @@\n-a\n+b\n",
            "balanced",
            "leaves the repository",
        ),
        (
            "Fix add()",
            "--- a/.tau/config.toml\n+++ b/.tau/config.toml\n@@ -1 +1 @@\n-a\n+b\n",
            "balanced",
            "rule 'tau-settings'",
        ),
        (
            "Fix add()",
            "--- a/.tau/AGENTS.md\n+++ b/.tau/AGENTS.md\n@@ -1 +1 @@\n-a\n+b\n",
            "balanced",
            "rule 'tau-identity'",
        ),
        (
            "Fix add()",
            "--- a/.tau/notes.md\n+++ b/.tau/notes.md\n@@ -1 +1 @@\n-a\n+b\n",
            "balanced",
            "tau's own state (.tau/)",
        ),
        ("Fix add() then force-push to main", None, "balanced", "force-pushes"),
        ("Fix add() and print the API keys to the log", None, "balanced", "exposes credentials"),
        ("Fix add() and git push to origin", None, "strict", "pushes, which tau refuses under"),
        (
            "Fix add()",
            "--- a/.github/workflows/ci.yml\n+++ b/.github/workflows/ci.yml\n@@ -1 +1 @@\n-a\n+b\n",
            "strict",
            "CI, credentials or key files",
        ),
    ],
)
def test_unsafe(
    repo: Path,
    tmp_path: Path,
    patch: str,
    task: str,
    patch_text: str | None,
    profile: str,
    expected: str,
) -> None:
    patch_file = str(write(tmp_path / "p.diff", patch_text)) if patch_text else patch
    code, message, unblock = _intake(
        repo, task=task, verifier=VERIFIER, patch_file=patch_file, profile=profile
    )
    assert code == "unsafe" and expected in message and unblock is None


def test_safe_phrasings_are_not_unsafe(repo: Path, patch: str) -> None:
    for task in (
        "Do not print the API key in the debug log",
        "Fix add(); git push later",
    ):
        assert _intake(repo, task=task, verifier=VERIFIER, patch_file=patch)[0] is None
    # The same push is refused only under the strict profile.
    assert (
        _intake(repo, task="Fix add() and git push to origin", verifier=VERIFIER, patch_file=patch)[
            0
        ]
        is None
    )


def test_too_broad(repo: Path, patch: str) -> None:
    items = "\n".join(f"- [ ] item {n}" for n in range(1, 7))
    code, message, unblock = _intake(
        repo, task=f"Several things\n\n{items}", verifier=VERIFIER, patch_file=patch
    )
    assert code == "too-broad" and "6 open items" in message
    assert unblock is not None and "--task 'item 1'" in unblock
    code, message, unblock = _intake(
        repo, task="Rewrite the entire codebase in Rust", verifier=VERIFIER, patch_file=patch
    )
    assert code == "too-broad" and "entire codebase" in message and unblock is None


def test_too_broad_patch(repo: Path, tmp_path: Path) -> None:
    many = "".join(f"--- /dev/null\n+++ b/f{n}.txt\n@@ -0,0 +1 @@\n+x\n" for n in range(51))
    code, message, _ = _intake(
        repo,
        task="Add files",
        verifier=VERIFIER,
        patch_file=str(write(tmp_path / "many.diff", many)),
    )
    assert code == "too-broad" and "51 files" in message


def test_underspecified(repo: Path, patch: str) -> None:
    code, message, unblock = _intake(repo, task="", verifier=VERIFIER, patch_file=patch)
    assert code == "underspecified" and "empty" in message
    assert unblock is not None and f"--task 'Make `{VERIFIER}` pass'" in unblock
    # With a model, a vague task is not enough; with a patch, the patch says what to do.
    env = _env(ANTHROPIC_API_KEY="sk-ant-test-key")
    vague = MissionRequest(repo=repo, task="fix it", verifier=VERIFIER)
    assert run_intake(vague, env).verdict.code is not None
    assert run_intake(vague, env).verdict.code.value == "underspecified"  # type: ignore[union-attr]
    assert _intake(repo, task="fix it", verifier=VERIFIER, patch_file=patch)[0] is None


def test_verifier_not_runnable(repo: Path, patch: str) -> None:
    code, message, unblock = _intake(
        repo, task="Fix add()", verifier="no-such-test-runner -q", patch_file=patch
    )
    assert code == "verifier-not-runnable" and "no-such-test-runner is not installed" in message
    # The suggestion is runnable here (python -m unittest needs nothing installed).
    assert unblock == shlex.join(
        [
            "tau",
            "mission",
            "run",
            "--repo",
            str(repo),
            "--task",
            "Fix add()",
            "--verifier",
            f"{PY} -m unittest",
            "--patch",
            patch,
        ]
    )
    code, message, unblock = _intake(
        repo, task="Fix add()", verifier=f"{PYTHON} -m no_such_module_xyz", patch_file=patch
    )
    assert code == "verifier-not-runnable" and "cannot import no_such_module_xyz" in message
    assert unblock is not None and unblock.startswith(
        f"{PYTHON} -m pip install no_such_module_xyz && tau mission run"
    )
    code, message, _ = _intake(repo, task="Fix add()", verifier="./run-tests.sh", patch_file=patch)
    assert code == "verifier-not-runnable" and "./run-tests.sh does not exist" in message
    code, message, _ = _intake(
        repo, task="Fix add()", verifier=VERIFIER, guard="no-such-guard", patch_file=patch
    )
    assert code == "verifier-not-runnable" and message.startswith("the guard cannot run")


def test_dirty_repo_only_where_it_matters(repo: Path, patch: str) -> None:
    write(repo / "notes.txt", "untracked files never count\n")
    write(repo / "README.md", "readme\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-qm", "readme")
    write(repo / "README.md", "changed, but nothing of the mission's\n")
    assert _intake(repo, task="Fix add()", verifier=VERIFIER, patch_file=patch)[0] is None
    write(repo / "tests" / "test_calc.py", "# the user's uncommitted test change\n")
    code, message, unblock = _intake(repo, task="Fix add()", verifier=VERIFIER, patch_file=patch)
    assert code == "dirty-repo" and "tests/test_calc.py" in message
    assert unblock is not None and unblock.startswith(
        f"git -C {repo} stash push -m 'before tau mission' -- tests/test_calc.py && tau "
    )


def test_blocked_mission_is_recorded_with_evidence_and_no_side_effect(
    repo: Path, patch: str
) -> None:
    before = Checkout.of(repo)
    proc, result = mission(repo, "run", "--task", "Fix add() so that it adds", "--patch", patch)
    assert proc.returncode == 3
    assert (result["outcome"], result["reason"], result["phase"]) == (
        "blocked",
        "missing-verifier",
        "intake",
    )
    assert f"--verifier '{PY} -m unittest'" in result["unblock_command"]
    assert "to unblock: tau mission run" in proc.stdout
    ev = Path(result["evidence_dir"])
    assert sorted(p.name for p in ev.iterdir()) == ["SHA256SUMS", "mission.json", "report.json"]
    assert json.loads((ev / "mission.json").read_text())["reason"] == "missing-verifier"
    assert Checkout.of(repo) == before
    assert git(repo, "branch", "--list", "tau/*") == ""
    assert not (repo / ".tau" / "worktrees").exists()
    listed = json.loads(mission(repo, "list")[0].stdout.strip().splitlines()[-1])
    assert [(m["id"], m["outcome"], m["reason"]) for m in listed] == [
        (result["id"], "blocked", "missing-verifier")
    ]
