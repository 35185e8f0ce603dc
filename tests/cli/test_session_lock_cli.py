"""Two processes, one session: the second is refused (exit 2, naming the first's pid)
and the session is written by one process only."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from pathlib import Path

from tests.cli.tau_process import TAU, run_tau, tau_env
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer


def _args(server: ScriptedServer) -> list[str]:
    return ["--model", "openai/gpt-test", "--base-url", server.url + "/v1", "--no-color"]


def _env() -> dict[str, str]:
    return tau_env(OPENAI_API_KEY="sk-test")


def _start_slow_continue(server: ScriptedServer, workspace: Path) -> subprocess.Popen[str]:
    """A ``--continue`` run that streams for minutes: it holds the session until the
    test interrupts it."""
    server.add(openai_answer("slow " * 20_000, chunk_size=5, delay_s=0.01))
    proc = subprocess.Popen(
        [*TAU, "-p", "second question", "--continue", *_args(server)],
        cwd=workspace,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.read(20)  # it is streaming: it holds the session
    return proc


def test_a_second_continue_exits_2_naming_the_first_pid(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(openai_answer("first answer"))
    assert (
        run_tau(["-p", "first question", *_args(scripted_server)], workspace, env=_env()).returncode
        == 0
    )
    first = _start_slow_continue(scripted_server, workspace)
    try:
        scripted_server.add(openai_answer("intruder answer"))
        second = run_tau(
            ["-p", "intruder", "--continue", *_args(scripted_server)], workspace, env=_env()
        )
        assert first.poll() is None  # it held the session all along
        first.send_signal(signal.SIGINT)
        _out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == 2, second.stderr
    assert second.stderr.strip().splitlines()[-1] == (
        f"tau: error: session {_latest(workspace)[:8]} is in use by another tau process "
        f"(pid {first.pid}); wait for it to finish, or fork it: tau sessions fork "
        f"{_latest(workspace)[:8]}"
    )
    assert "Traceback" not in second.stderr
    assert first.returncode == 130, err
    show = json.loads(run_tau(["sessions", "show", _latest(workspace), "--json"], workspace).stdout)
    # The first run's messages only, in order: nothing of the intruder's.
    messages = [m["message"] for m in show["messages"]]
    assert [m["content"] for m in messages[:3]] == [
        "first question",
        "first answer",
        "second question",
    ]
    assert len(messages) == 4 and messages[3]["content"].startswith("slow slow")
    assert messages[3]["meta"] == {"interrupted": True}
    with sqlite3.connect(workspace / ".tau" / "tau.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seqs = [r[0] for r in db.execute("SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))


def test_sessions_commands_on_a_running_session(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(openai_answer("first answer"))
    assert (
        run_tau(["-p", "first question", *_args(scripted_server)], workspace, env=_env()).returncode
        == 0
    )
    session_id = _latest(workspace)
    first = _start_slow_continue(scripted_server, workspace)
    try:
        refused = {
            action: run_tau(["sessions", action, session_id[:8]], workspace)
            for action in ("undo", "redo", "delete")
        }
        shown = run_tau(["sessions", "show", session_id[:8]], workspace)
        forked = run_tau(["sessions", "fork", session_id[:8], "--json"], workspace)
        assert first.poll() is None  # it held the session all along
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    for action, proc in refused.items():
        assert proc.returncode == 2, (action, proc.stderr)
        assert f"in use by another tau process (pid {first.pid})" in proc.stderr
    assert shown.returncode == 0 and "first question" in shown.stdout
    assert forked.returncode == 0, forked.stderr
    assert json.loads(forked.stdout)["id"] != session_id
    # Once the run is over, the session is free again.
    assert run_tau(["sessions", "undo", session_id[:8]], workspace).returncode == 0
    deleted = run_tau(["sessions", "delete", session_id[:8]], workspace)
    assert deleted.returncode == 0, deleted.stderr
    assert not (workspace / ".tau" / "locks" / f"{session_id}.lock").exists()


def _latest(workspace: Path) -> str:
    listing = run_tau(["sessions", "list", "--json"], workspace)
    sessions = json.loads(listing.stdout)
    return str(min(sessions, key=lambda s: s["created_at"])["id"])
