"""Start-up: what loads before the first frame, resuming, and start-up errors."""

from __future__ import annotations

import json
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
from tau_tui.cli import main
main(["--workspace", sys.argv[1]])
"""


def test_the_first_frame_loads_no_heavy_module(ws: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _FIRST_FRAME_PROBE, str(ws)],
                          capture_output=True, text=True, timeout=60, check=True)
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == {"pydantic": False, "httpx": False, "sqlite3": False,
                      "markdown_it": False, "pygments": False}


async def test_resume_opens_on_the_session_transcript(make_app: AppFactory, ws: Path) -> None:
    session_id = await create_long_session(ws, 6)
    app = make_app(resume=session_id[:8])
    async with app.run_test(size=SIZE):
        await engine_ready(app)
        entries = app.agent.transcript.entries
        assert [e.text for e in entries if isinstance(e, UserEntry)] == [
            "question 0", "question 2", "question 4"]
        assert sum(isinstance(e, AssistantEntry) for e in entries) == 3
        await wait_for(lambda: f"resumed session {session_id[:8]}" in screen_text(app))
        assert "This is message 5" in screen_text(app)


async def test_an_unknown_session_ends_the_app_with_the_error(make_app: AppFactory) -> None:
    app = make_app(resume="doesnotexist")
    async with app.run_test(size=SIZE):
        await wait_for(lambda: app.startup_error is not None)
    assert "doesnotexist" in str(app.startup_error)
    assert app.return_code == 2
