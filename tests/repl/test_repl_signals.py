"""SIGTERM and SIGHUP in ``tau --line``: the turn is interrupted as by Ctrl+C (its
partial answer saved), and the REPL leaves with 143 / 129."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tau_engine.config import Settings
from tau_engine.engine import Engine
from tau_engine.paths import WorkspacePaths
from tau_tui.repl import LineRepl
from tests.cli.tau_process import TAU, run_tau, tau_env


async def _engine(workspace: Path, script: Path | None = None) -> Engine:
    return await Engine.open(
        workspace=WorkspacePaths(workspace),
        environ={},
        script_path=script,
        settings=Settings(model="offline/replay" if script else "offline/echo"),
    )


async def test_a_stop_signal_at_the_prompt_leaves_with_its_code(workspace: Path) -> None:
    engine = await _engine(workspace)

    async def ask(_message: str) -> str:
        await asyncio.Event().wait()  # the user never types
        return ""

    repl = LineRepl(engine, ask, io.StringIO(), io.StringIO())
    try:
        asyncio.get_running_loop().call_later(0.05, repl.stop, signal.SIGTERM)
        assert await asyncio.wait_for(repl.loop(), 10) == 143
    finally:
        await engine.close()


async def test_a_stop_signal_mid_turn_saves_the_partial_answer(
    workspace: Path, tmp_path: Path
) -> None:
    script = tmp_path / "long.json"
    script.write_text(json.dumps({"version": 1, "turns": [{"text": "word " * 20_000}]}))
    engine = await _engine(workspace, script)
    prompts = iter(["talk"])

    async def ask(_message: str) -> str:
        return next(prompts)  # a second question would fail the test: the REPL must leave

    repl = LineRepl(engine, ask, io.StringIO(), io.StringIO())

    def stop_on_the_first_words(event: object) -> None:
        if getattr(event, "type", "") == "text_delta" and repl.exit_code is None:
            repl.stop(signal.SIGHUP)

    engine.bus.subscribe(stop_on_the_first_words)
    try:
        assert await asyncio.wait_for(repl.loop(), 30) == 129
        history = await engine.history()
    finally:
        await engine.close()
    assert history[-1].message.role == "assistant"
    assert history[-1].message.meta == {"interrupted": True}
    assert history[-1].message.content.startswith("word")
    assert len(history[-1].message.content) < len("word " * 20_000)


@pytest.mark.skipif(not Path("/usr/bin/setsid").exists(), reason="needs util-linux setsid")
def test_closing_the_repl_terminal_saves_the_partial_answer(
    workspace: Path, tmp_path: Path
) -> None:
    script = tmp_path / "long.json"
    script.write_text(json.dumps({"version": 1, "turns": [{"text": "word " * 200_000}]}))
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [
            "/usr/bin/setsid",
            "--ctty",
            *TAU,
            "--line",
            "--model",
            "offline/replay",
            "--script",
            str(script),
        ],
        cwd=workspace,
        env=tau_env(),
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    try:
        seen = b""
        while b"tau>" not in seen:
            seen += os.read(master, 1024)
        os.write(master, b"talk\r")
        while b"word word" not in seen:
            seen += os.read(master, 1024)
    finally:
        os.close(master)
    assert proc.wait(timeout=30) == 129
    sid = json.loads(run_tau(["sessions", "list", "--json"], workspace).stdout)[0]["id"]
    show = json.loads(run_tau(["sessions", "show", sid, "--json"], workspace).stdout)
    last = show["messages"][-1]["message"]
    assert last["role"] == "assistant" and last["meta"] == {"interrupted": True}
