"""Canaries in the app: fake secrets planted in ``.env``, a tool's output, a file read and an
error message never appear on screen, with every tool card expanded to show its output, nor in
what the transcript holds (see tests/cli/test_secret_canaries.py for everything stored and
sent)."""

from __future__ import annotations

from pathlib import Path

from tau_tui.widgets.entries import ToolEntry
from tau_tui.widgets.tool_card import ToolCard
from tests.cli.test_secret_canaries import CANARIES, plant
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer
from tests.tui.conftest import AppFactory, engine_ready, idle, screen_text
from tests.tui.test_agent_turns import send


async def test_no_canary_reaches_a_frame(
    make_app: AppFactory, server: ScriptedServer, ws: Path
) -> None:
    calls = plant(ws)
    server.add(
        openai_answer("", calls[:2]), openai_answer("", calls[2:]), openai_answer("Checked.")
    )
    app = make_app(server, approval="full-auto")
    frames: list[str] = []
    async with app.run_test(size=(120, 60)) as pilot:
        await engine_ready(app)
        await send(pilot, "check the deployment settings")
        await idle(app)
        frames.append(screen_text(app))
        for card in app.agent.transcript.query(ToolCard):
            card.action_toggle_details()
            await pilot.pause()
            card.scroll_visible(animate=False)
            await pilot.pause()
            frames.append(screen_text(app))
        entries = [e for e in app.agent.transcript.entries if isinstance(e, ToolEntry)]
        assert [e.status for e in entries] == ["ok", "ok", "ok", "error"]
        held = "".join(f"{e.output}{e.arguments}" for e in entries)
    shown = "\n".join(frames)
    assert "[REDACTED:github-token]" in shown  # the outputs really were on screen
    assert [name for name, value in CANARIES.items() if value in shown or value in held] == []
