"""Files planted in ``.tau/`` where tau expects regular files: a named pipe for a log, a
config file or the store must not hang ``tau status`` or ``tau watch`` (opening a pipe
blocks until a writer comes)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.cli.tau_process import run_tau


def test_named_pipes_planted_in_the_workspace_do_not_hang_tau_status(tmp_path: Path) -> None:
    logs = tmp_path / ".tau" / "logs"
    logs.mkdir(parents=True)
    for name in ("breaker.jsonl", "provider.jsonl", "audit.jsonl"):
        os.mkfifo(logs / name)
    os.mkfifo(tmp_path / ".tau" / "config.toml")
    done = run_tau(["status", "-w", str(tmp_path)], cwd=tmp_path, timeout=30)
    assert done.returncode == 0 and done.stderr == ""
    assert "control_plane.providers={}" in done.stdout.splitlines()


def test_a_named_pipe_for_the_store_is_a_store_error_not_a_hang(tmp_path: Path) -> None:
    (tmp_path / ".tau").mkdir()
    os.mkfifo(tmp_path / ".tau" / "tau.db")
    done = run_tau(["status", "-w", str(tmp_path)], cwd=tmp_path, timeout=30)
    assert done.returncode == 1 and done.stderr == ""
    assert "control_plane.store.status=error" in done.stdout.splitlines()
    watch = ["watch", "--no-color", "--iterations", "1", "-w", str(tmp_path)]
    assert run_tau(watch, cwd=tmp_path, timeout=30).returncode == 0
