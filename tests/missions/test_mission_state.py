"""The mission store (for every store backend), the worktree's snapshots and commits, and
the evidence writer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tau_engine.errors import StoreError
from tau_engine.missions import worktree as wt
from tau_engine.missions.evidence import EvidenceWriter, check_sums, environment_redactor
from tau_engine.missions.model import MissionError
from tau_engine.missions.verifier import command_environ
from tau_engine.paths import WorkspacePaths
from tau_engine.store import MissionRow, StoreBackend
from tau_engine.store.sqlite.missions import SqliteMissionStore
from tau_engine.store.sqlite.schema import SCHEMA_VERSION, connect
from tests.missions.support import FIX, PYTHON, VERIFIER, git, make_calc_repo, mission, write


def _row(mid: str, created: float = 1.0) -> MissionRow:
    return MissionRow(
        id=mid,
        created_at=created,
        updated_at=created,
        title="t",
        phase="branch",
        outcome=None,
        reason=None,
        commit=None,
        state={"id": mid},
    )


async def test_store_saves_with_compare_and_swap(store_backend: StoreBackend) -> None:
    store = store_backend.open_missions()
    try:
        first = await store.create(_row("abc123"))
        saved = await store.save(MissionRow(**{**first.__dict__, "phase": "red"}))
        assert saved.revision == first.revision + 1
        with pytest.raises(StoreError, match="changed by another process"):
            await store.save(first)  # a stale writer loses, loudly
        with pytest.raises(StoreError, match="already exists"):
            await store.create(_row("abc123"))
        await store.create(_row("abd999", created=2.0))
        assert await store.match("ab") == ["abc123", "abd999"]
        assert await store.match("abc") == ["abc123"]
        assert await store.match("a_") == []  # LIKE wildcards are literal
        assert [r.id for r in await store.recent()] == ["abd999", "abc123"]
        got = await store.get("abc123")
        assert got is not None and got.phase == "red" and got.state == {"id": "abc123"}
    finally:
        store.close()


async def test_two_writers_of_one_mission_never_both_win(store_backend: StoreBackend) -> None:
    # Two processes resuming one mission (each its own connection): every round, both
    # save what they read; exactly one save lands and the other is told, on each backend.
    first, second = store_backend.open_missions(), store_backend.open_missions()
    try:
        row = await first.create(_row("race01"))
        for n in range(5):
            read_a, read_b = await first.get("race01"), await second.get("race01")
            assert read_a is not None and read_b is not None
            results = await asyncio.gather(
                first.save(MissionRow(**{**read_a.__dict__, "phase": f"a{n}"})),
                second.save(MissionRow(**{**read_b.__dict__, "phase": f"b{n}"})),
                return_exceptions=True,
            )
            won = [r for r in results if isinstance(r, MissionRow)]
            lost = [r for r in results if isinstance(r, StoreError)]
            assert len(won) == 1 and len(lost) == 1, results
            assert "changed by another process" in str(lost[0])
            stored = await first.get("race01")
            assert stored is not None and stored.revision == row.revision + n + 1
            assert stored.phase == won[0].phase
    finally:
        first.close()
        second.close()


async def test_the_sqlite_mission_store_migrates_the_database(tmp_path: Path) -> None:
    paths = WorkspacePaths(tmp_path)
    SqliteMissionStore.open(paths).close()
    conn = connect(paths.db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


async def test_store_reports_an_unreadable_state(tmp_path: Path) -> None:
    paths = WorkspacePaths(tmp_path)
    store = SqliteMissionStore.open(paths)
    await store.create(_row("bad1"))
    conn = connect(paths.db_path)
    conn.execute("UPDATE missions SET state = 'not json' WHERE id = 'bad1'")
    conn.close()
    with pytest.raises(StoreError, match="not JSON"):
        await store.get("bad1")
    store.close()


def test_snapshot_restore_and_result_tree(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    WorkspacePaths(repo).ensure()  # .tau/ ignores its own content, worktrees included
    base = git(repo, "rev-parse", "HEAD")
    tree_path = repo / ".tau" / "worktrees" / "m1"
    wt.ensure_worktree(repo, tree_path, "tau/mission-m1", base)
    wt.ensure_worktree(repo, tree_path, "tau/mission-m1", base)  # a resume finds it
    start = wt.snapshot(tree_path)
    write(tree_path / "calc" / "__init__.py", "changed\n")
    write(tree_path / "new.txt", "new\n")
    (tree_path / "tests" / "test_calc.py").unlink()
    write(tree_path / "build" / "junk.txt", "left by a test run\n")
    after = wt.snapshot(tree_path)
    touched = wt.changed_paths(tree_path, start, after)
    assert touched == ["build/junk.txt", "calc/__init__.py", "new.txt", "tests/test_calc.py"]
    # The result holds only what an editor touched, whatever else lies around.
    result = wt.result_tree(tree_path, base, ["calc/__init__.py", "new.txt"])
    assert wt.changed_paths(tree_path, base, result) == ["calc/__init__.py", "new.txt"]
    assert wt.restore(tree_path, start) == touched
    assert not (tree_path / "new.txt").exists() and (tree_path / "tests/test_calc.py").exists()
    assert "return a - b" in (tree_path / "calc" / "__init__.py").read_text()
    assert git(tree_path, "status", "--porcelain") == ""
    assert git(repo, "status", "--porcelain") == ""


def test_commit_is_made_once_and_found_by_its_trailer(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    base = git(repo, "rev-parse", "HEAD")
    path = repo / ".tau" / "worktrees" / "m2"
    wt.ensure_worktree(repo, path, "tau/mission-m2", base)
    write(path / "calc" / "__init__.py", "fixed\n")
    tree = wt.result_tree(path, base, ["calc/__init__.py"])
    assert wt.find_commit(path, base, "tau/mission-m2", "m2") is None
    message = wt.commit_message("Fix add()", "Fix add()\n\nIt subtracted.", "m2", {"Tau-Job": "j1"})
    assert message == "Fix add()\n\nIt subtracted.\n\nTau-Mission: m2\nTau-Job: j1\n"
    sha = wt.commit(path, base=base, branch="tau/mission-m2", tree=tree, message=message)
    assert wt.find_commit(path, base, "tau/mission-m2", "m2") == sha
    assert wt.find_commit(path, base, "tau/mission-m2", "m3") is None
    with pytest.raises(MissionError, match="moved away from the base commit"):
        wt.commit(path, base=base, branch="tau/mission-m2", tree=tree, message=message)
    assert git(path, "status", "--porcelain") == ""
    assert wt.removable(repo, path) is None
    write(path / "scratch.txt", "untracked\n")
    assert wt.remove_if_safe(repo, path) == "it holds uncommitted or untracked changes"
    assert path.exists()


def test_a_worktree_of_another_branch_is_not_reused(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    base = git(repo, "rev-parse", "HEAD")
    path = repo / ".tau" / "worktrees" / "m4"
    wt.ensure_worktree(repo, path, "tau/mission-m4", base)
    with pytest.raises(MissionError, match="will not be reused"):
        wt.ensure_worktree(repo, path, "tau/mission-m5", base)


def test_evidence_writer_redacts_and_sums(tmp_path: Path) -> None:
    redact = environment_redactor(
        {"MY_SERVICE_TOKEN": "tok-1234567890", "HOME": "/home/x", "SHORT_TOKEN": "abc"}
    )
    writer = EvidenceWriter(tmp_path / "ev", redact)
    writer.write("red.log", "token tok-1234567890 printed; home /home/x; abc stays\n")
    assert writer.read("red.log") == (
        "token [REDACTED:MY_SERVICE_TOKEN] printed; home /home/x; abc stays\n"
    )
    writer.write_json("mission.json", {"verifier": "curl -H 'X: tok-1234567890'"})
    assert "tok-1234567890" not in writer.read("mission.json")
    with pytest.raises(MissionError, match="escapes"):
        writer.write("../outside.txt", "x")
    writer.write_sums()
    assert check_sums(tmp_path / "ev") == []
    (tmp_path / "ev" / "extra.txt").write_text("added later")
    (tmp_path / "ev" / "red.log").write_text("edited")
    assert check_sums(tmp_path / "ev") == [
        "red.log: changed since the mission wrote it",
        "extra.txt: not listed in SHA256SUMS",
    ]


def test_verifier_environment_has_no_api_keys(tmp_path: Path) -> None:
    env = command_environ(
        tmp_path,
        {
            "ANTHROPIC_API_KEY": "k",
            "TAU_OPENAI_API_KEY": "k2",
            "PATH": "/bin",
            "PYTEST_ADDOPTS": "-x",
        },
    )
    assert "ANTHROPIC_API_KEY" not in env and "TAU_OPENAI_API_KEY" not in env
    assert env["PATH"] == "/bin" and env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTEST_ADDOPTS"] == f"-x --confcutdir={tmp_path}"


def test_evidence_never_carries_a_secret_end_to_end(tmp_path: Path) -> None:
    from tests.cli.tau_process import tau_env

    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    secret = "svc-token-5f1c9a7e3b"
    key = "sk-ant-api-key-9d8c7b6a"
    # A token tau was never told about, recognised by its vendor's format.
    github = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    verifier = f"echo token=$MY_SERVICE_TOKEN key=[$ANTHROPIC_API_KEY] gh={github}; {VERIFIER}"
    proc, result = mission(
        repo,
        "run",
        "--task",
        f"Fix add() (ref {secret}, {key})",
        "--verifier",
        verifier,
        "--patch",
        str(patch),
        env=tau_env(MY_SERVICE_TOKEN=secret, ANTHROPIC_API_KEY=key),
    )
    assert proc.returncode == 0, proc.stderr
    evidence = Path(result["evidence_dir"])
    red = (evidence / "red.log").read_text()
    assert "token=[REDACTED:MY_SERVICE_TOKEN]" in red and "key=[]" in red
    assert "gh=[REDACTED:github-token]" in red
    for path in evidence.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert secret not in text and key not in text and github not in text, path
    assert (
        json.loads((evidence / "mission.json").read_text())["inputs"]["task"]
        == "Fix add() (ref [REDACTED:MY_SERVICE_TOKEN], [REDACTED:ANTHROPIC_API_KEY])"
    )
    assert PYTHON in red


def test_a_worktree_whose_commits_no_ref_reaches_is_kept(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    WorkspacePaths(repo).ensure()
    base = git(repo, "rev-parse", "HEAD")
    path = repo / ".tau" / "worktrees" / "m6"
    wt.ensure_worktree(repo, path, "tau/mission-m6", base)
    git(path, "checkout", "-q", "--detach")
    write(path / "calc" / "__init__.py", "work\n")
    git(path, "commit", "-qam", "work on no branch")
    assert wt.remove_if_safe(repo, path) == "its commits are on no branch or tag"
    assert path.exists()


def test_a_half_created_worktree_folder_is_moved_aside_not_deleted(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    WorkspacePaths(repo).ensure()
    base = git(repo, "rev-parse", "HEAD")
    path = repo / ".tau" / "worktrees" / "m7"
    write(path / "leftover.txt", "something\n")
    wt.ensure_worktree(repo, path, "tau/mission-m7", base)
    orphans = list(path.parent.glob("m7.orphan-*"))
    assert len(orphans) == 1 and (orphans[0] / "leftover.txt").read_text() == "something\n"
    assert git(path, "rev-parse", "HEAD") == base


async def test_a_verifier_that_hangs_is_killed_with_its_children(tmp_path: Path) -> None:
    import time as _time

    from tau_engine.missions.verifier import TIMEOUT_EXIT_CODE, run_command

    marker = tmp_path / "child-survived"
    started = _time.monotonic()
    out = await run_command(
        f"(sleep 3; touch {marker}) & echo started; sleep 60", tmp_path, timeout_s=0.5
    )
    assert out.timed_out and out.exit_code == TIMEOUT_EXIT_CODE
    assert "started" in out.text
    assert _time.monotonic() - started < 30
    _time.sleep(3.5)
    assert not marker.exists()  # the background child died with the group


def test_tau_runs_no_git_hooks_and_commits_without_an_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    WorkspacePaths(repo).ensure()
    marker = tmp_path / "hook-ran"
    for hook in ("post-checkout", "pre-commit", "post-commit"):
        write(repo / ".git" / "hooks" / hook, f"#!/bin/sh\necho {hook} >> {marker}\n").chmod(0o755)
    git(repo, "config", "--unset", "user.name")
    git(repo, "config", "--unset", "user.email")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    base = git(repo, "rev-parse", "HEAD")
    path = repo / ".tau" / "worktrees" / "m8"
    wt.ensure_worktree(repo, path, "tau/mission-m8", base)
    write(path / "calc" / "__init__.py", "fixed\n")
    sha = wt.commit(
        path,
        base=base,
        branch="tau/mission-m8",
        tree=wt.result_tree(path, base, ["calc/__init__.py"]),
        message=wt.commit_message("Fix", "Fix", "m8"),
    )
    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>", sha) == (
        "tau <tau@localhost>|tau <tau@localhost>"
    )
    assert not marker.exists()


def test_a_tampered_mission_record_is_refused(tmp_path: Path) -> None:
    from tests.cli.tau_process import run_tau

    repo = make_calc_repo(tmp_path / "repo")
    other = make_calc_repo(tmp_path / "other")
    _, result = mission(
        repo,
        "run",
        "--task",
        "Fix add() so that it adds",
        "--verifier",
        VERIFIER,
        "--patch",
        str(write(tmp_path / "f.diff", FIX)),
        "--no-commit",
    )
    mid = result["id"]
    conn = connect(repo / ".tau" / "tau.db")
    state = json.loads(conn.execute("SELECT state FROM missions").fetchone()[0])
    for field, value, expected in (
        (("inputs", "repo"), str(other), f"it belongs to {other}"),
        (("worktree",), "../../other", "its worktree is ../../other"),
        (("id",), "../../x", "its stored state cannot be read"),
    ):
        changed = json.loads(json.dumps(state))
        target = changed
        for key in field[:-1]:
            target = target[key]
        target[field[-1]] = value
        changed["phase"] = "green"
        conn.execute("UPDATE missions SET state = ?", (json.dumps(changed),))
        for action in ("resume", "verify"):
            proc = run_tau(["mission", action, mid], repo)
            assert proc.returncode != 0 and expected in proc.stderr, (field, proc.stderr)
    conn.close()
    assert git(other, "branch", "--list", "tau/*") == ""


def test_planted_symlinks_under_tau_are_refused(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    outside = tmp_path / "outside"
    outside.mkdir()
    WorkspacePaths(repo).ensure()
    (repo / ".tau" / "missions").symlink_to(outside)
    proc, _ = mission(
        repo,
        "run",
        "--task",
        "Fix add() so that it adds",
        "--verifier",
        VERIFIER,
        "--patch",
        str(write(tmp_path / "f.diff", FIX)),
    )
    assert proc.returncode == 1 and "is a symbolic link" in proc.stderr
    assert list(outside.iterdir()) == []


def test_a_worktree_pointed_elsewhere_or_moved_off_its_branch_is_caught(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    decoy = make_calc_repo(tmp_path / "decoy")
    WorkspacePaths(repo).ensure()
    base = git(repo, "rev-parse", "HEAD")
    path = repo / ".tau" / "worktrees" / "m9"
    wt.ensure_worktree(repo, path, "tau/mission-m9", base)
    wt.check_worktree(repo, path, "tau/mission-m9")
    original = (path / ".git").read_text()
    (path / ".git").write_text(f"gitdir: {decoy}/.git\n")
    with pytest.raises(MissionError, match=r"its \.git was changed"):
        wt.check_worktree(repo, path, "tau/mission-m9")
    (path / ".git").write_text(original)
    git(path, "checkout", "-q", "--detach")
    with pytest.raises(MissionError, match="no longer on tau/mission-m9"):
        wt.check_worktree(repo, path, "tau/mission-m9")


async def test_nothing_a_verifier_starts_outlives_it(tmp_path: Path) -> None:
    import time as _time

    from tau_engine.missions.verifier import run_command
    from tau_engine.tools.command_process import supervision_available

    if not supervision_available():
        pytest.skip("no per-call subreaper on this platform")
    marker = tmp_path / "daemon-survived"
    # setsid leaves the process group: only the subreaper can still stop it.
    out = await run_command(
        f"setsid sh -c 'sleep 2; touch {marker}' & echo ran; exit 1", tmp_path, timeout_s=30
    )
    assert out.exit_code == 1 and not out.timed_out and "ran" in out.text
    _time.sleep(3)
    assert not marker.exists()
