"""tau doctor's checks one by one, and when nothing counts as set up."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from tau_engine.config import Settings
from tau_engine.config.credentials import CredentialsFile
from tau_engine.config.profiles import Profile, ProfileStore
from tau_engine.onboarding.doctor import (
    git_check,
    run_doctor,
    sandbox_check,
    store_check,
    workspace_check,
)
from tau_engine.onboarding.key_report import key_report
from tau_engine.paths import WorkspacePaths
from tau_engine.resources.setup_state import nothing_configured


def _script(path: Path, body: str) -> str:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_a_damaged_store_fails_quick_check(workspace: Path) -> None:
    paths = WorkspacePaths(workspace)
    assert store_check(paths).status == "ok"  # no store yet
    paths.ensure()
    with sqlite3.connect(paths.db_path) as db:
        db.execute("CREATE TABLE t (x TEXT)")
        db.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
        db.execute("CREATE INDEX t_x ON t (x)")
    assert store_check(paths).status == "ok"
    data = bytearray(paths.db_path.read_bytes())
    data[4096 * 3 : 4096 * 3 + 600] = b"\xff" * 600  # scribble over a page in the middle
    paths.db_path.write_bytes(bytes(data))
    check = store_check(paths)
    assert check.status == "fail" and "back up .tau/tau.db" in check.remedy


def test_the_sandbox_check_runs_bwrap_and_weighs_failure_by_safety(tmp_path: Path) -> None:
    working = _script(tmp_path / "bwrap-ok", 'echo "$@" >> "$0.calls"; exit 0')
    assert sandbox_check("balanced", working).status == "ok"
    assert "true" in (tmp_path / "bwrap-ok.calls").read_text()  # bwrap really ran
    broken = _script(
        tmp_path / "bwrap-no", "echo 'bwrap: No permissions to creating new namespace' >&2; exit 1"
    )
    soft = sandbox_check("balanced", broken)
    assert soft.status == "warn" and "No permissions" in soft.message
    assert soft.remedy
    assert sandbox_check("strict", broken).status == "fail"
    assert sandbox_check("hardened", broken).status == "fail"
    assert sandbox_check("permissive", broken).status == "warn"


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_the_real_bwrap_starts_a_sandbox_here() -> None:
    check = sandbox_check("strict")
    assert check.status in ("ok", "warn", "fail")  # a container may lack some namespaces
    assert check.status != "fail" or check.remedy


def test_a_missing_bwrap_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    check = sandbox_check("hardened")
    assert check.status == "fail" and "apt-get install bubblewrap" in check.remedy
    assert "not installed" in check.message


def test_git_and_a_folder_that_is_not_a_repository(workspace: Path, tmp_path: Path) -> None:
    assert git_check(workspace).status == "ok"
    plain = tmp_path / "plain"
    plain.mkdir()
    check = git_check(plain)
    assert check.status == "warn" and f"git init {plain}" in check.remedy


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_state_folder_fails(workspace: Path) -> None:
    paths = WorkspacePaths(workspace)
    paths.ensure()
    os.chmod(paths.state_dir, stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert workspace_check(paths).status == "fail"
    finally:
        os.chmod(paths.state_dir, 0o755)


def test_a_missing_state_folder_points_at_tau_onboard(workspace: Path) -> None:
    check = workspace_check(WorkspacePaths(workspace))
    assert check.status == "fail" and "tau onboard" in check.remedy


async def test_a_loose_credentials_file_fails_with_the_chmod(workspace: Path) -> None:
    CredentialsFile().store("openai", "sk-proj-stored-key-0123456789")
    os.chmod(CredentialsFile().path, 0o644)
    checks = {
        c.name: c
        for c in await run_doctor(
            WorkspacePaths(workspace), {"model": "openai/gpt-4.1-mini"}, probe=False, environ={}
        )
    }
    assert checks["credentials"].status == "fail"
    assert "chmod 600" in checks["credentials"].remedy
    assert checks["model"].status == "skip"


async def test_a_broken_profile_fails_config_and_skips_what_depends_on_it(workspace: Path) -> None:
    checks = {
        c.name: c
        for c in await run_doctor(WorkspacePaths(workspace), {"profile": "missing"}, environ={})
    }
    assert checks["config"].status == "fail" and "no profile 'missing'" in checks["config"].message
    assert checks["credentials"].status == "skip" and checks["model"].status == "skip"


def test_nothing_configured_and_each_thing_that_counts(workspace: Path) -> None:
    paths = WorkspacePaths(workspace)
    assert nothing_configured(paths, Settings(), {})
    assert not nothing_configured(paths, Settings(model="offline/echo"), {})
    assert not nothing_configured(paths, Settings(), {"OPENAI_API_KEY": "sk-real-key-1234"})
    (workspace / ".env").write_text("GEMINI_API_KEY=from-dotenv-1234\n")
    assert not nothing_configured(paths, Settings(), {})
    (workspace / ".env").unlink()
    CredentialsFile().store("xai", "xai-stored-key-12345")
    assert not nothing_configured(paths, Settings(), {})
    CredentialsFile().path.unlink()
    ProfileStore().save("p", Profile(provider="ollama", model="ollama/llama3", key_source="none"))
    assert not nothing_configured(paths, Settings(), {})
    (ProfileStore().folder / "p.toml").unlink()
    paths.ensure()
    assert not nothing_configured(paths, Settings(), {})


def test_key_report_usable_follows_the_chosen_model(workspace: Path) -> None:
    paths = WorkspacePaths(workspace)
    env = {"OPENAI_API_KEY": "sk-proj-abcdefghijklmnop"}
    assert key_report(paths, Settings(), env).usable
    assert not key_report(paths, Settings(), {}).usable
    assert not key_report(paths, Settings(model="anthropic/claude-sonnet-4-5"), env).usable
    assert key_report(paths, Settings(model="ollama/llama3"), {}).usable
    assert key_report(paths, Settings(model="offline/echo"), {}).usable


def test_runs_that_cannot_ask_need_a_setup_unless_they_need_no_model(workspace: Path) -> None:
    from tau_engine.resources.setup_state import SetupNeededError
    from tau_engine.resources.trust import load_run_settings

    paths = WorkspacePaths(workspace)
    with pytest.raises(SetupNeededError, match="tau onboard") as caught:
        load_run_settings(paths, None, default_approval="auto-edit", environ={})
    assert caught.value.exit_code == 2
    settings = load_run_settings(
        paths, None, default_approval="auto-edit", environ={}, require_setup=False
    )
    assert settings.model is None
