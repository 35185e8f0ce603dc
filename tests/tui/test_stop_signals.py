"""SIGTERM and SIGHUP stop the app like a quit, after the running turn is interrupted and
its partial answer saved; the app exits 143 / 129."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tau_engine.paths import WorkspacePaths
from tau_engine.store import open_store
from tau_tui.widgets.prompt import PromptInput
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer
from tests.tui.conftest import SIZE, AppFactory, engine_ready, screen_text, wait_for


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)], ids=["SIGTERM", "SIGHUP"]
)
async def test_a_stop_signal_saves_the_partial_answer_and_exits(
    make_app: AppFactory, server: ScriptedServer, ws: Path, signum: int, code: int
) -> None:
    server.add(openai_answer("Streaming " + "word " * 400, chunk_size=5, delay_s=0.02))
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await pilot.press(*"talk")
        app.query_one(PromptInput).submit()
        await wait_for(lambda: "Streaming word" in screen_text(app))
        # The app handles the signal: without a handler it would kill the test run.
        assert signal.getsignal(signum) not in (signal.SIG_DFL, signal.SIG_IGN)
        os.kill(os.getpid(), signum)
        await wait_for(lambda: app.return_code is not None)
    assert app.return_code == code
    assert signal.getsignal(signum) == signal.SIG_DFL  # given back when the app ended
    store = await asyncio.to_thread(open_store(WorkspacePaths(ws)).open_sessions)
    try:
        latest = await store.latest_session()
        assert latest is not None
        last = (await store.history(latest.id))[-1].message
    finally:
        store.close()
    assert last.role == "assistant" and last.meta == {"interrupted": True}
    assert last.content.startswith("Streaming word")
    assert len(last.content) < len("Streaming " + "word " * 400)
