"""SIGTERM and SIGHUP behave like Ctrl+C in ``tau -p``: the partial answer is saved, the
tools' process groups are killed, and tau exits 143 / 129."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.tau_process import TAU, run_tau, tau_env
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer


def _args(server: ScriptedServer) -> list[str]:
    return ["--model", "openai/gpt-test", "--base-url", server.url + "/v1", "--no-color"]


def _start(server: ScriptedServer, workspace: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*TAU, "-p", "talk", *_args(server), *extra],
        cwd=workspace,
        env=tau_env(OPENAI_API_KEY="sk-test"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _last_messages(workspace: Path) -> list[dict[str, object]]:
    sid = json.loads(run_tau(["sessions", "list", "--json"], workspace).stdout)[0]["id"]
    show = json.loads(run_tau(["sessions", "show", sid, "--json"], workspace).stdout)
    return [m["message"] for m in show["messages"]]


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)], ids=["SIGTERM", "SIGHUP"]
)
def test_a_stop_signal_mid_answer_saves_the_partial_answer(
    scripted_server: ScriptedServer, workspace: Path, signum: int, code: int
) -> None:
    scripted_server.add(openai_answer("word " * 400, chunk_size=5, delay_s=0.02))
    proc = _start(scripted_server, workspace)
    assert proc.stdout is not None
    proc.stdout.read(20)  # the answer is streaming
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    last = _last_messages(workspace)[-1]
    assert last["role"] == "assistant"
    assert last["meta"] == {"interrupted": True}
    assert str(last["content"]).startswith("word word word word")


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting to be reaped does not: it was killed)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _pids_running(marker: str) -> list[int]:
    """Host pids of live processes whose command line holds ``marker`` (bash runs in its own
    PID namespace in the sandbox, so ``$!`` and ``$$`` there are not host pids)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline and _running(int(name)):
                found.append(int(name))
    return found


def test_sigterm_during_a_tool_stops_its_processes(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    marker = f"30.{os.getpid()}{time.monotonic_ns() % 10**6}"
    scripted_server.add(
        openai_answer(
            "",
            [
                {
                    "id": "c1",
                    "name": "bash",
                    "arguments": {
                        "command": f"sleep {marker} & echo started > background.pid; "
                        "echo started > shell.pid; wait"
                    },
                }
            ],
        )
    )
    proc = _start(scripted_server, workspace, "--approval", "full-auto")
    markers = [workspace / "background.pid", workspace / "shell.pid"]
    deadline = time.monotonic() + 30
    while not all(m.exists() and m.read_text().strip() for m in markers):
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
        time.sleep(0.02)
    # The shell and its background sleep (and whatever runs them) are running.
    pids = _pids_running(marker)
    assert len(pids) >= 2 and all(_running(pid) for pid in pids)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in pids):
        assert time.monotonic() < deadline, "the tool's processes outlived tau"
        time.sleep(0.05)
    messages = _last_messages(workspace)
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[-1]["is_error"] is True
    assert messages[-1]["meta"] == {"interrupted": True}


@pytest.mark.skipif(not Path("/usr/bin/setsid").exists(), reason="needs util-linux setsid")
def test_closing_the_terminal_saves_the_partial_answer(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    # tau runs on a real pseudo-terminal as its controlling terminal; closing the
    # terminal's master side makes the kernel send SIGHUP, and every later write to the
    # terminal fails: the partial answer must be saved all the same.
    scripted_server.add(openai_answer("word " * 400, chunk_size=5, delay_s=0.02))
    master, slave = os.openpty()
    proc = subprocess.Popen(
        ["/usr/bin/setsid", "--ctty", *TAU, "-p", "talk", *_args(scripted_server)],
        cwd=workspace,
        env=tau_env(OPENAI_API_KEY="sk-test"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    try:
        seen = b""
        while b"word word" not in seen:
            seen += os.read(master, 1024)
    finally:
        os.close(master)
    assert proc.wait(timeout=30) == 129
    last = _last_messages(workspace)[-1]
    assert last["role"] == "assistant" and last["meta"] == {"interrupted": True}
    assert str(last["content"]).startswith("word word")
