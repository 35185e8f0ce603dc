"""Closing the app's terminal mid-answer: the partial answer is saved and tau exits 129.

The app runs as the real ``tau`` on a pseudo-terminal that is its controlling terminal;
closing the terminal's master side is what closing a terminal window does: the kernel
sends SIGHUP and every read and write on the terminal fails from then on.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from tau_tui.terminal_driver import HangupSafeOutput
from tests.cli.tau_process import TAU, run_tau, tau_env
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer


def _read_until(master: int, seen: bytearray, needle: bytes, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while needle not in seen:
        assert time.monotonic() < deadline, f"{needle!r} never appeared"
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            seen += os.read(master, 65536)


@pytest.mark.skipif(not Path("/usr/bin/setsid").exists(), reason="needs util-linux setsid")
def test_closing_the_app_terminal_saves_the_partial_answer(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(openai_answer("Streaming " + "word " * 2000, chunk_size=5, delay_s=0.02))
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(
        [
            "/usr/bin/setsid",
            "--ctty",
            *TAU,
            "--model",
            "openai/gpt-test",
            "--base-url",
            scripted_server.url + "/v1",
        ],
        cwd=workspace,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=tau_env(OPENAI_API_KEY="sk-test", TERM="xterm-256color"),
    )
    os.close(slave)
    seen = bytearray()
    try:
        _read_until(master, seen, b"Ask tau")
        os.write(master, b"talk\r")
        _read_until(master, seen, b"word word")
    finally:
        os.close(master)
    try:
        assert proc.wait(timeout=30) == 129
    finally:
        if proc.poll() is None:
            proc.kill()
    sid = json.loads(run_tau(["sessions", "list", "--json"], workspace).stdout)[0]["id"]
    show = json.loads(run_tau(["sessions", "show", sid, "--json"], workspace).stdout)
    last = show["messages"][-1]["message"]
    assert last["role"] == "assistant" and last["meta"] == {"interrupted": True}
    assert last["content"].startswith("Streaming word")


class _DeadTerminal(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(5, "Input/output error")


def test_output_to_a_dead_terminal_is_dropped_and_reported_once() -> None:
    reports: list[str] = []
    output = HangupSafeOutput(_DeadTerminal(), lambda: reports.append("hangup"))
    assert output.write("frame") == 5
    output.write("another frame")
    output.flush()
    assert output.hung_up and reports == ["hangup"]
