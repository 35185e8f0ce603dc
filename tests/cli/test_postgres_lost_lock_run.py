"""A headless run on PostgreSQL whose session lock connection is ended mid-run (as a
server restart or a network cut would end it) stops with one line saying so, writes
nothing more to the session, and the session can be continued afterwards."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from tests.cli.tau_process import TAU, run_tau, tau_env
from tests.support.lock_connections import end_lock_connections

WAIT_FOR_GO = "touch started; while [ ! -e go ]; do sleep 0.05; done; echo went"


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds (a generous limit: a loaded machine is slow)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def _script(workspace: Path) -> Path:
    path = workspace / "script.json"
    turns = [
        {"tool_calls": [{"name": "bash", "arguments": {"command": WAIT_FOR_GO}}]},
        {"text": "Done."},
    ]
    path.write_text(json.dumps({"version": 1, "turns": turns}))
    return path


def test_a_run_whose_lock_connection_dies_stops_with_one_line(
    workspace: Path, postgres_url: str
) -> None:
    args = ["-p", "build", "--model", "offline/replay", "--script", str(_script(workspace))]
    run = subprocess.Popen(
        [*TAU, *args, "--approval", "full-auto", "--store", postgres_url, "--no-color"],
        cwd=workspace,
        env=tau_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: (workspace / "started").exists() or run.poll() is not None)
        assert run.poll() is None, run.communicate()
        assert end_lock_connections(postgres_url, run.pid) == 1
        (workspace / "go").touch()
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode != 0
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tau: error: lost the lock on session ")
    session = lines[0].split("tau --resume ")[1]

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        roles = [row[0] for row in conn.execute("SELECT role FROM messages ORDER BY seq")]
    assert roles == ["user", "assistant"]  # the tool's result and the answer were refused

    resumed = run_tau(
        ["--resume", session, "-p", "again", "--model", "offline/echo", "--store", postgres_url],
        workspace,
    )
    assert resumed.returncode == 0, resumed.stderr
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        count = conn.execute("SELECT count(*) FROM messages").fetchone()
    assert count is not None and count[0] > 2
