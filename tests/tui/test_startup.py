"""Start-up: what loads before the first frame, resuming, and start-up errors."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tau_tui.widgets.entries import AssistantEntry, UserEntry
from tests.tui.conftest import SIZE, AppFactory, engine_ready, screen_text, wait_for
from tests.tui.long_session import create_long_session

_FIRST_FRAME_PROBE = """
import json, sys
from textual.app import App
import tau_tui.app as tau_app
_on_mount = tau_app.TauApp.on_mount
def on_mount(self):
    _on_mount(self)
    def probe():
        heavy = ["pydantic", "httpx", "sqlite3", "markdown_it", "pygments"]
        print(json.dumps({name: name in sys.modules for name in heavy}))
        self.exit()
    self.call_after_refresh(probe)
tau_app.TauApp.on_mount = on_mount
tau_app.TauApp.run = lambda self, **kw: App.run(self, headless=True)
import tau_tui.cli
tau_tui.cli.stdio_is_terminal = lambda: True  # the app runs headless here, into a pipe
from tau_tui.cli import main
main(["--workspace", sys.argv[1]])
"""


def test_the_first_frame_loads_no_heavy_module(ws: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_FRAME_PROBE, str(ws)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == {
        "pydantic": False,
        "httpx": False,
        "sqlite3": False,
        "markdown_it": False,
        "pygments": False,
    }


async def test_resume_opens_on_the_session_transcript(make_app: AppFactory, ws: Path) -> None:
    session_id = await create_long_session(ws, 6)
    app = make_app(resume=session_id[:8])
    async with app.run_test(size=SIZE):
        await engine_ready(app)
        entries = app.agent.transcript.entries
        assert [e.text for e in entries if isinstance(e, UserEntry)] == [
            "question 0",
            "question 2",
            "question 4",
        ]
        assert sum(isinstance(e, AssistantEntry) for e in entries) == 3
        await wait_for(lambda: f"resumed session {session_id[:8]}" in screen_text(app))
        assert "This is message 5" in screen_text(app)


async def test_an_unknown_session_ends_the_app_with_the_error(make_app: AppFactory) -> None:
    app = make_app(resume="doesnotexist")
    async with app.run_test(size=SIZE):
        await wait_for(lambda: app.startup_error is not None)
    assert "doesnotexist" in str(app.startup_error)
    assert app.return_code == 2


def _corrupt_history(root: Path) -> None:
    """Make the stored session unreadable the way a damaged row would be."""
    import sqlite3

    with sqlite3.connect(root / ".tau" / "tau.db") as conn:
        conn.execute("UPDATE messages SET body = '{broken' WHERE role = 'user'")


async def test_an_exception_while_the_engine_opens_ends_the_app(make_app: AppFactory) -> None:
    async def failing_factory(approver: object) -> object:
        raise RuntimeError("disk on fire\nsecond line of detail")

    app = make_app()
    app.engine_factory = failing_factory  # type: ignore[assignment]
    async with app.run_test(size=SIZE):
        await wait_for(lambda: app.startup_error is not None)
    assert isinstance(app.startup_error, RuntimeError)
    assert app.return_code == 1


async def test_history_that_cannot_be_loaded_ends_the_app(make_app: AppFactory, ws: Path) -> None:
    await create_long_session(ws, 4)
    _corrupt_history(ws)
    app = make_app(continue_latest=True)
    async with app.run_test(size=SIZE):
        await wait_for(lambda: app.startup_error is not None)
    assert type(app.startup_error).__name__ == "ValidationError"
    assert app.return_code == 1


async def test_a_failed_worker_after_start_up_is_an_error_notice(make_app: AppFactory) -> None:
    from tau_tui.widgets.entries import NoticeEntry

    async def broken() -> None:
        raise KeyError("no such thing")

    app = make_app()
    async with app.run_test(size=SIZE):
        await engine_ready(app)
        app.agent.run_worker(broken(), group="command", exit_on_error=False)
        await wait_for(
            lambda: any(
                isinstance(e, NoticeEntry) and e.level == "error"
                for e in app.agent.transcript.entries
            )
        )
        assert app.is_running and app.startup_error is None
        notice = [e for e in app.agent.transcript.entries if isinstance(e, NoticeEntry)][-1]
        assert notice.message == "internal error: KeyError: 'no such thing'"


_RUN_APP_HEADLESS = """
import os, sys
from textual.app import App
import tau_tui.app as tau_app
tau_app.TauApp.run = lambda self, **kw: App.run(self, headless=True, size=(80, 24))
import tau_tui.cli
tau_tui.cli.stdio_is_terminal = lambda: True  # the app runs headless here, into a pipe
from tau_tui.screens.agent import AgentScreen
_original = AgentScreen.attach_engine
async def attach_then_chat(self, engine):
    await _original(self, engine)
    if os.environ.get("PROBE_CHAT"):
        await engine.run("hello from the probe")
    self.app.exit()
AgentScreen.attach_engine = attach_then_chat
from tau_tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run_app(*args: str, chat: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``tau ARGS`` with the app headless; it ends once the engine is attached
    (after one prompt with ``chat``)."""
    env = {**os.environ, "PROBE_CHAT": "1" if chat else ""}
    return subprocess.run(
        [sys.executable, "-c", _RUN_APP_HEADLESS, *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def test_the_cli_reports_a_start_up_failure_in_one_line(ws: Path) -> None:
    asyncio.run(create_long_session(ws, 4))
    _corrupt_history(ws)
    done = _run_app("--workspace", str(ws), "--continue")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith("tau: error: the app could not start: ValidationError: ")
    debug = _run_app("--workspace", str(ws), "--continue", "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    assert "pydantic_core._pydantic_core.ValidationError" in debug.stderr


def test_the_resume_hint_names_the_workspace_only_when_it_was_given(tmp_path: Path) -> None:
    from tau_tui.app import resume_hint

    assert resume_hint("abc123", None) == "resume with: tau --resume abc123"
    assert resume_hint("abc123", tmp_path / "my repo") == (
        f"resume with: tau -w '{tmp_path / 'my repo'}' --resume abc123"
    )


def test_on_exit_the_app_prints_how_to_resume(ws: Path) -> None:
    done = _run_app("--workspace", str(ws), "--model", "offline/echo", chat=True)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"resume with: tau -w (\S+) --resume (\S+)", last)
    assert match and match.group(1) == str(ws)
    listed = subprocess.run(
        [sys.executable, "-m", "tau_tui.cli", "sessions", "list"],
        cwd=ws,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert match.group(2)[:8] in listed.stdout
    # No session was started: nothing to resume, nothing printed.
    quiet = _run_app("--workspace", str(ws), "--model", "offline/echo")
    assert quiet.returncode == 0 and "resume with" not in quiet.stdout
