"""``/export`` and ``/approval`` do what docs/tui.md says."""

from __future__ import annotations

import os
from pathlib import Path

from tau_tui.widgets.entries import NoticeEntry
from tests.tui.conftest import SIZE, AppFactory, engine_ready, idle, screen_text, wait_for
from tests.tui.test_agent_turns import send


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.message for e in app.agent.transcript.entries if isinstance(e, NoticeEntry)]


async def test_export_writes_to_the_workspace_root_whatever_the_current_folder(
    make_app: AppFactory, ws: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = Path.cwd()
    os.chdir(elsewhere)
    try:
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await engine_ready(app)
            await send(pilot, "something to export")
            await idle(app)
            session_id = app.agent.engine.session.id  # type: ignore[union-attr]
            await send(pilot, "/export")
            default = ws / f"tau-{session_id[:8]}.jsonl"
            await wait_for(lambda: any(f"to {default}" in m for m in notices(app)))
            await send(pilot, "/export sub/named.jsonl")  # the folder must exist
            await wait_for(lambda: any("cannot write" in m for m in notices(app)))
            (ws / "sub").mkdir()
            await send(pilot, "/export sub/named.jsonl")
            await wait_for(
                lambda: any(f"to {ws / 'sub' / 'named.jsonl'}" in m for m in notices(app))
            )
    finally:
        os.chdir(before)
    assert default.is_file() and (ws / "sub" / "named.jsonl").is_file()
    assert list(elsewhere.iterdir()) == []


async def test_approval_without_a_mode_is_a_picker_of_the_four(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "/approval")
        await wait_for(lambda: type(app.screen).__name__ == "ChoicePicker")
        text = screen_text(app)
        for mode in ("read-only", "ask", "auto-edit", "full-auto"):
            assert mode in text
        assert "● ask" in text  # the current mode is marked
        await pilot.press("escape")
        await wait_for(lambda: type(app.screen).__name__ == "AgentScreen")
        assert app.agent.engine.policy.mode.value == "ask"  # type: ignore[union-attr]
