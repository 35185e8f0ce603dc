"""A damaged store and a store the user cannot write: one line saying what to do, a
non-zero exit, and read-only commands that still work where they can."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.tau_process import TAU, run_tau, tau_env
from tests.support.damage import damage_table, session_with_messages

SETPRIV = shutil.which("setpriv") or ""


def test_a_damaged_store_says_what_to_do_in_one_line(workspace: Path) -> None:
    asyncio.run(session_with_messages(workspace))
    damage_table(workspace / ".tau" / "tau.db", "messages")
    proc = run_tau(["-p", "go on", "--continue", "--model", "offline/echo"], workspace)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(
        f"tau: error: {workspace / '.tau' / 'tau.db'} is damaged "
        "(database disk image is malformed); tau stopped writing"
    )
    assert lines[0].endswith("then run: tau sessions recover (see docs/sessions.md)")


def test_recover_rebuilds_the_store_and_tau_goes_on(workspace: Path) -> None:
    asyncio.run(session_with_messages(workspace))
    damage_table(workspace / ".tau" / "tau.db", "messages")
    recovered = run_tau(["sessions", "recover"], workspace)
    assert recovered.returncode == 0, recovered.stderr
    lines = recovered.stdout.splitlines()
    assert lines[0].startswith(f"recovered {workspace / '.tau' / 'tau.db'}: 1 session(s), ")
    assert "part of messages could not be read: the rows there are lost" in lines
    assert lines[-1].startswith(f"the damaged files are kept in {workspace / '.tau' / 'backups'}")
    again = run_tau(["-p", "go on", "--continue", "--model", "offline/echo"], workspace)
    assert again.returncode == 0, again.stderr
    as_json = json.loads(run_tau(["sessions", "recover", "--json"], workspace).stdout)
    assert as_json["tables"]["messages"]["unreadable"] is False  # a healthy store now


@pytest.fixture
def shared_workspace() -> Iterator[Path]:
    """A workspace another user can read but not write (a fresh folder under /tmp:
    pytest's own temp folders are private to their owner)."""
    root = Path(tempfile.mkdtemp(prefix="tau-shared-"))
    try:
        os.chmod(root, 0o755)
        (root / "repo").mkdir(mode=0o755)
        (root / "config").mkdir(mode=0o755)
        yield root / "repo"
    finally:
        for path in (root, *root.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                os.chmod(path, 0o755)
        shutil.rmtree(root)


def _as_reader(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run tau as a user who may read the workspace but not write it: another user when
    the tests run as root (root may write anything), else this user after chmod."""
    env = tau_env(TAU_CONFIG_DIR=str(cwd.parent / "config"))
    as_other: list[str] = []
    if os.geteuid() == 0:
        as_other = [SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups"]
    return subprocess.run(
        [*as_other, *TAU, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.skipif(os.geteuid() == 0 and not SETPRIV, reason="root needs setpriv to drop it")
def test_a_store_the_user_cannot_write(shared_workspace: Path) -> None:
    created = run_tau(
        ["-p", "hello there", "--model", "offline/echo"],
        shared_workspace,
        env=tau_env(TAU_CONFIG_DIR=str(shared_workspace.parent / "config")),
    )
    assert created.returncode == 0, created.stderr
    state = shared_workspace / ".tau"
    if os.geteuid() != 0:
        for path in (state / "tau.db", state):
            os.chmod(path, path.stat().st_mode & ~0o222)
    listing = _as_reader(["sessions", "list", "--json"], shared_workspace)
    assert listing.returncode == 0, listing.stderr
    session_id = json.loads(listing.stdout)[0]["id"]
    shown = _as_reader(["sessions", "show", session_id], shared_workspace)
    assert shown.returncode == 0, shown.stderr
    assert "hello there" in shown.stdout

    run = _as_reader(["-p", "more", "--continue", "--model", "offline/echo"], shared_workspace)
    assert run.returncode == 1
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert run.stderr.startswith(f"tau: error: no write permission on {state}")
    undo = _as_reader(["sessions", "undo", session_id], shared_workspace)
    assert undo.returncode != 0
    assert "no write permission on" in undo.stderr and "Traceback" not in undo.stderr
