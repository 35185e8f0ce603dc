"""The approval modal in the app: choices that never scroll away, a why line naming the rule
that asks, and session and saved rules that say what they cover and cover nothing more."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau_tui.widgets.entries import ToolEntry
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer
from tests.tui.conftest import AppFactory, engine_ready, idle, screen_text, wait_for
from tests.tui.test_agent_turns import edit_call, send

LONG_FILE = "".join(f"line {i}\n" for i in range(80))


def long_edit(ws: Path) -> dict[str, object]:
    """An edit whose diff is far taller than any of the sizes tested."""
    (ws / "long.txt").write_text(LONG_FILE)
    return edit_call("e1", "long.txt", LONG_FILE, LONG_FILE.upper())


def bash_call(call_id: str, command: str) -> dict[str, object]:
    return {"id": call_id, "name": "bash", "arguments": {"command": command}}


@pytest.mark.parametrize(
    ("size", "choices"),
    [
        ((80, 24), "Allow once (y)"),
        ((60, 20), "y allow · a session · A always · n deny"),
    ],
)
async def test_the_choices_stay_visible_whatever_the_diff(
    make_app: AppFactory, server: ScriptedServer, ws: Path, size: tuple[int, int], choices: str
) -> None:
    server.add(openai_answer("", [long_edit(ws)]), openai_answer("Shouted."))
    app = make_app(server)
    async with app.run_test(size=size) as pilot:
        await engine_ready(app)
        await send(pilot, "shout it", wait=False)
        await wait_for(lambda: type(app.screen).__name__ == "ApprovalModal")
        await pilot.pause()
        text = screen_text(app)
        assert choices in text
        assert "+LINE 79" not in text  # the diff is taller than the modal
        flat = " ".join(text.split())
        assert "a allows edit(long.txt) for this session" in flat
        assert "matches only long.txt" in flat
        for _ in range(20):  # the diff scrolls under the choices
            await pilot.press("pagedown")
        await pilot.pause()
        text = screen_text(app)
        assert "+LINE 79" in text and choices in text
        await pilot.press("y")
        await idle(app)
    assert (ws / "long.txt").read_text() == LONG_FILE.upper()


async def test_allow_for_session_on_touch_covers_only_that_rule(
    make_app: AppFactory, server: ScriptedServer, ws: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    server.add(
        openai_answer("", [bash_call("b1", "touch harmless")]),
        openai_answer("", [bash_call("b2", "touch harmless again")]),
        openai_answer("", [bash_call("b3", f"touch harmless; eval 'touch {outside}'")]),
        openai_answer("Stopped."),
    )
    app = make_app(server)
    async with app.run_test(size=(100, 32), notifications=True) as pilot:
        await engine_ready(app)
        await send(pilot, "run things", wait=False)
        await wait_for(lambda: type(app.screen).__name__ == "ApprovalModal")
        await pilot.pause()
        flat = " ".join(screen_text(app).split())
        assert "why: approval mode 'ask' gives exec tools like bash 'ask'" in flat
        assert "a allows bash(touch *) for this session" in flat
        assert "⚠ bash(touch *) matches any `touch` invocation" in flat
        await pilot.press("a")
        # b2 runs under the session rule; b3 adds what tau cannot read: the modal is back.
        await wait_for(
            lambda: "touch" in screen_text(app) and type(app.screen).__name__ == "ApprovalModal"
        )
        await pilot.pause()
        flat = " ".join(screen_text(app).split())
        assert "allow for session is not offered: tau cannot judge" in flat
        await pilot.press("a")  # not offered: nothing happens but a hint
        await wait_for(lambda: "can only be allowed once" in screen_text(app))
        assert type(app.screen).__name__ == "ApprovalModal"
        await pilot.press("n")
        await idle(app)
        statuses = [e.status for e in app.agent.transcript.entries if isinstance(e, ToolEntry)]
        assert statuses == ["ok", "ok", "denied"]
    assert not outside.exists()


async def test_always_allow_saves_the_rule_and_later_calls_run_unasked(
    make_app: AppFactory, server: ScriptedServer, ws: Path
) -> None:
    from tau_engine.safety.permission_store import read_rules, workspace_rules_path

    # trusted: saved allow rules in .tau/permissions.toml load only in a trusted workspace.
    server.add(
        openai_answer("", [bash_call("b1", "touch first")]),
        openai_answer("", [bash_call("b2", "touch second")]),
        openai_answer("Done."),
    )
    app = make_app(server, trusted=True)
    async with app.run_test(size=(100, 32)) as pilot:
        await engine_ready(app)
        await send(pilot, "touch things", wait=False)
        await wait_for(lambda: type(app.screen).__name__ == "ApprovalModal")
        await pilot.pause()
        assert "A saves it to .tau/permissions.toml" in " ".join(screen_text(app).split())
        await pilot.press("A")
        await idle(app)
        statuses = [e.status for e in app.agent.transcript.entries if isinstance(e, ToolEntry)]
        assert statuses == ["ok", "ok"]  # the second ran under the saved rule, unasked
        assert "saved allow rule bash(touch *) to .tau/permissions.toml:" in screen_text(app)
    rules = read_rules(workspace_rules_path(ws), "workspace")
    assert [(r.text, r.action, r.by) for r in rules] == [
        ("bash(touch *)", "allow", "approval prompt")
    ]
    assert (ws / "first").exists() and (ws / "second").exists()
