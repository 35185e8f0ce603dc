"""What the command line hands the app: ``tau PROMPT``'s first message, and a notice when
the resumed session's model cannot be used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tau_tui.widgets.entries import UserEntry
from tau_tui.widgets.prompt import PromptInput
from tests.tui.conftest import SIZE, AppFactory, engine_ready, idle, screen_text, wait_for


async def test_the_first_message_is_sent_once_the_engine_is_open(make_app: AppFactory) -> None:
    app = make_app(first_prompt="fix the tests")
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await wait_for(lambda: "last user message: 'fix the tests'" in screen_text(app))
        await idle(app)
        users = [e.text for e in app.agent.transcript.entries if isinstance(e, UserEntry)]
        assert users == ["fix the tests"]  # sent once
        await pilot.press("up")  # and remembered like a typed prompt
        assert app.query_one(PromptInput).text == "fix the tests"


def test_the_cli_hands_its_prompt_to_the_app(monkeypatch: pytest.MonkeyPatch, ws: Path) -> None:
    import tau_tui.app
    from tau_tui import cli

    opened: dict[str, Any] = {}
    monkeypatch.setattr(tau_tui.app, "run_app", lambda **kw: opened.update(kw) or 0)
    monkeypatch.setattr(cli, "stdio_is_terminal", lambda: True)
    assert cli.main(["-w", str(ws), "fix the tests", "--model", "offline/echo"]) == 0
    assert opened["first_prompt"] == "fix the tests" and opened["workspace"] == str(ws)
    assert cli.main(["-w", str(ws)]) == 0
    assert opened["first_prompt"] is None


async def test_a_session_model_that_cannot_be_used_is_a_visible_notice(
    make_app: AppFactory, ws: Path
) -> None:
    from tau_engine.paths import WorkspacePaths
    from tau_engine.store import open_store

    store = open_store(WorkspacePaths(ws)).open_sessions()
    try:
        session = await store.create_session(model="anthropic/claude-sonnet-4-5", title="keyed")
    finally:
        store.close()
    app = make_app(continue_latest=True)
    async with app.run_test(size=(120, 32)):
        await engine_ready(app)
        await wait_for(lambda: "which cannot be used" in screen_text(app))
        text = " ".join(screen_text(app).split())
        assert f"session {session.id[:8]} uses anthropic/claude-sonnet-4-5" in text
        assert "ANTHROPIC_API_KEY" in text and "Continuing with offline/echo" in text
        assert app.agent.engine is not None and app.agent.engine.model_id == "offline/echo"


async def test_a_resumed_session_shows_its_totals_with_or_without_notices(
    make_app: AppFactory, ws: Path
) -> None:
    from tau_engine.conversation import Message, Usage
    from tau_engine.paths import WorkspacePaths
    from tau_engine.store import open_store

    store = open_store(WorkspacePaths(ws)).open_sessions()
    try:
        session = await store.create_session(model="offline/echo", title="costly")
        await store.append(session.id, Message(role="user", content="hi"))
        await store.append(
            session.id,
            Message(role="assistant", content="hello"),
            usage=Usage(input_tokens=1234, output_tokens=56),
        )
    finally:
        store.close()
    app = make_app(continue_latest=True, model="offline/echo")  # no start-up notice
    async with app.run_test(size=SIZE):
        await engine_ready(app)
        assert not app.agent.engine.startup_notices  # type: ignore[union-attr]
        await wait_for(lambda: "↑1.2k ↓56" in screen_text(app))
