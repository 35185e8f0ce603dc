"""Opening the app on a session another tau process is running: it offers to fork."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau_engine.config import Settings
from tau_engine.engine import Engine
from tau_engine.errors import SessionLockedError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.session_lock import SessionLock
from tau_tui.app import TauApp
from tau_tui.screens.pickers import ChoicePicker
from tau_tui.widgets.entries import NoticeEntry
from tests.tui.conftest import SIZE, AppFactory, engine_ready, screen_text, wait_for


async def _session(ws: Path) -> str:
    engine = await Engine.open(
        workspace=WorkspacePaths(ws), settings=Settings(model="offline/echo"), environ={}
    )
    try:
        await engine.run("the original question")
        assert engine.session is not None
        return engine.session.id
    finally:
        await engine.close()


def _notices(app: TauApp) -> list[str]:
    return [e.message for e in app.agent.transcript.entries if isinstance(e, NoticeEntry)]


@pytest.mark.parametrize(
    "keys",
    [["enter"], ["down", "enter"], ["down", "down", "enter"], ["escape"]],
    ids=["fork", "new", "quit", "escape"],
)
async def test_a_busy_session_offers_fork_new_or_quit(
    make_app: AppFactory, ws: Path, keys: list[str]
) -> None:
    session_id = await _session(ws)
    # This lock stands for another tau process running the session.
    held = SessionLock.acquire(WorkspacePaths(ws).locks_dir, session_id)
    try:
        app = make_app(continue_latest=True)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: isinstance(app.screen, ChoicePicker))
            await wait_for(
                lambda: (
                    f"Session {session_id[:8]} is in use by another tau process" in screen_text(app)
                )
            )
            await pilot.press(*keys)
            if keys[-1] == "escape" or len(keys) == 3:
                await wait_for(lambda: app.startup_error is not None)
                assert isinstance(app.startup_error, SessionLockedError)
            else:
                await engine_ready(app)
                engine = app.agent.engine
                assert engine is not None
                if keys == ["enter"]:
                    assert engine.session is not None and engine.session.id != session_id
                    assert engine.session.meta["forked_from"]["session_id"] == session_id
                    assert any("continuing in a fork" in n for n in _notices(app))
                    await wait_for(lambda: "the original question" in screen_text(app))
                else:
                    assert engine.session is None
                    assert any("starting a new session" in n for n in _notices(app))
        if keys[-1] == "escape" or len(keys) == 3:
            assert app.return_code == 2
    finally:
        held.release()
