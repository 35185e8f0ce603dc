"""Pilot tests of the prompt (completion, history) and of the slash commands."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tau_tui.widgets.completion import CompletionMenu
from tau_tui.widgets.entries import NoticeEntry, UserEntry
from tau_tui.widgets.prompt import PromptInput
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer
from tests.tui.conftest import SIZE, AppFactory, engine_ready, idle, screen_text, wait_for
from tests.tui.test_agent_turns import send


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.message for e in app.agent.transcript.entries if isinstance(e, NoticeEntry)]


async def test_slash_completion_completes_then_runs(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        prompt = app.query_one(PromptInput)
        menu = app.query_one(CompletionMenu)
        await pilot.press("/", "h", "e")
        assert menu.is_open
        assert [s.insert for s in menu.suggestions] == ["/help"]
        assert "show commands and keys" in screen_text(app)
        await pilot.press("tab")
        assert prompt.text == "/help" and not menu.is_open
        await pilot.press("enter")  # Enter on a complete command runs it
        await wait_for(lambda: any(m.startswith("commands:") for m in notices(app)))
        assert prompt.text == ""
        text = screen_text(app)
        assert "/model [ID]" in text and "/quit" in text


async def test_enter_on_a_partial_command_completes_it(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await pilot.press("/", "c", "o")
        menu = app.query_one(CompletionMenu)
        assert [s.insert for s in menu.suggestions] == ["/compact", "/cost"]
        await pilot.press("down", "enter")
        assert app.query_one(PromptInput).text == "/cost"
        await pilot.press("enter")
        await wait_for(lambda: any(m.startswith("tokens:") for m in notices(app)))


async def test_at_mention_completes_and_attaches_the_file(
    make_app: AppFactory, server: ScriptedServer, ws: Path
) -> None:
    (ws / "src").mkdir()
    (ws / "src" / "main.py").write_text("print('hi')\n")
    server.add(openai_answer("Seen it."))
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        prompt = app.query_one(PromptInput)
        menu = app.query_one(CompletionMenu)
        await pilot.press(*"look at @s")
        await wait_for(lambda: menu.is_open)
        # The folder whose name starts so comes first; "notes.txt" contains an "s".
        assert [s.insert for s in menu.suggestions] == ["@src/", "@notes.txt "]
        await pilot.press("tab")  # a folder: completion goes on inside it
        await wait_for(lambda: [s.label for s in menu.suggestions] == ["src/main.py"])
        await pilot.press("tab")
        assert prompt.text == "look at @src/main.py "
        await pilot.press("enter")
        await idle(app)
        sent = server.requests[0].json["messages"][-1]["content"]
        assert sent.startswith("look at @src/main.py")
        assert '<attached_file path="src/main.py">' in sent and "print('hi')" in sent
        user = next(e for e in app.agent.transcript.entries if isinstance(e, UserEntry))
        assert user.text == "look at @src/main.py " and user.attachments == ["src/main.py"]
        assert "↳ src/main.py" in screen_text(app)


async def test_history_is_recalled_and_persisted(make_app: AppFactory, ws: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "first prompt")
        await idle(app)
        await send(pilot, "second prompt")
        await idle(app)
        prompt = app.query_one(PromptInput)
        await pilot.press("up")
        assert prompt.text == "second prompt"
        await pilot.press("up")
        assert prompt.text == "first prompt"
        await pilot.press("down", "down")
        assert prompt.text == ""
    saved = (ws / ".tau" / "prompt_history").read_text()
    assert '"first prompt"' in saved and '"second prompt"' in saved
    again = make_app()
    async with again.run_test(size=SIZE) as pilot:
        await engine_ready(again)
        await wait_for(lambda: bool(again.agent.history.entries))
        await pilot.press("up")
        assert again.query_one(PromptInput).text == "second prompt"


async def test_shift_enter_and_ctrl_j_insert_newlines(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await pilot.press("a", "shift+enter", "b", "ctrl+j", "c")
        assert app.query_one(PromptInput).text == "a\nb\nc"
        assert not app.agent.transcript.entries or all(
            not isinstance(e, UserEntry) for e in app.agent.transcript.entries
        )


async def test_theme_command_switches_and_remembers(make_app: AppFactory, tmp_path: Path) -> None:
    import os

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "/theme tau-light")
        await wait_for(lambda: any("theme: tau-light" in m for m in notices(app)))
        assert app.theme == "tau-light"
    config = Path(os.environ["TAU_CONFIG_DIR"]) / "config.toml"
    assert tomllib.loads(config.read_text())["theme"] == "tau-light"


async def test_theme_picker_lists_bundled_themes(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "/theme")
        await wait_for(lambda: type(app.screen).__name__ == "ChoicePicker")
        await wait_for(lambda: "tau-high-contrast" in screen_text(app))
        text = screen_text(app)
        for name in ("tau-dark", "tau-light", "tau-high-contrast"):
            assert name in text
        await pilot.press(*"contrast")
        await pilot.press("enter")
        await wait_for(lambda: app.theme == "tau-high-contrast")


async def test_new_and_sessions_switch_between_sessions(
    make_app: AppFactory, server: ScriptedServer
) -> None:
    server.add(openai_answer("answer one"), openai_answer("answer two"))
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "first session prompt")
        await idle(app)
        first_id = app.agent.engine.session.id  # type: ignore[union-attr]
        await send(pilot, "/new")
        await wait_for(
            lambda: not app.agent.transcript.entries or "new session" in notices(app)[-1]
        )
        await send(pilot, "second session prompt")
        await idle(app)
        assert app.agent.engine.session.id != first_id  # type: ignore[union-attr]
        await send(pilot, "/sessions")
        await wait_for(lambda: type(app.screen).__name__ == "SessionPicker")
        text = screen_text(app)
        assert "first session prompt" in text and "second session prompt" in text
        await pilot.press("down", "enter")  # the list is newest first
        await wait_for(lambda: type(app.screen).__name__ == "AgentScreen")
        await wait_for(lambda: any("resumed" in m for m in notices(app)))
        assert app.agent.engine.session.id == first_id  # type: ignore[union-attr]
        users = [e.text for e in app.agent.transcript.entries if isinstance(e, UserEntry)]
        assert users == ["first session prompt"]
        assert "answer one" in screen_text(app)


async def test_fork_from_the_session_picker(make_app: AppFactory, server: ScriptedServer) -> None:
    server.add(openai_answer("forkable answer"))
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "original")
        await idle(app)
        original = app.agent.engine.session.id  # type: ignore[union-attr]
        await send(pilot, "/sessions")
        await wait_for(lambda: type(app.screen).__name__ == "SessionPicker")
        await pilot.press("f")
        await wait_for(lambda: any("forked" in m for m in notices(app)))
        assert app.agent.engine.session.id != original  # type: ignore[union-attr]
        assert "forkable answer" in screen_text(app)


async def test_model_and_approval_commands_update_the_status_bar(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        assert "offline/echo" in screen_text(app) and "│  ask" in screen_text(app)
        await send(pilot, "/approval full-auto")
        await wait_for(lambda: "full-auto" in screen_text(app))
        assert app.agent.engine.policy.mode.value == "full-auto"  # type: ignore[union-attr]
        await send(pilot, "/model nope/nothing")
        await wait_for(lambda: any("nope" in m for m in notices(app)))
        assert app.agent.engine.model_id == "offline/echo"  # type: ignore[union-attr]
        await send(pilot, "/model")
        await wait_for(lambda: type(app.screen).__name__ == "ChoicePicker")
        await pilot.press(*"anthropic/")
        await wait_for(lambda: "anthropic/claude" in screen_text(app))
        assert "openai/" not in screen_text(app)
        await pilot.press("escape")
        await wait_for(lambda: type(app.screen).__name__ == "AgentScreen")
        assert app.agent.engine.model_id == "offline/echo"  # type: ignore[union-attr]


async def test_export_writes_jsonl(make_app: AppFactory, ws: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "something to export")
        await idle(app)
        await send(pilot, "/export out.jsonl")
        await wait_for(lambda: any("exported" in m for m in notices(app)))
    lines = (ws / "out.jsonl").read_text().splitlines()
    assert any("something to export" in line for line in lines)


async def test_unknown_command(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "/frobnicate")
        await wait_for(lambda: any("unknown command /frobnicate" in m for m in notices(app)))


async def test_command_palette_reaches_slash_commands(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await pilot.press("ctrl+p")
        await wait_for(lambda: type(app.screen).__name__ == "CommandPalette")
        await pilot.press(*"/cost")
        await wait_for(lambda: "show the session's tokens and cost" in screen_text(app))
        await pilot.press("enter")
        await wait_for(lambda: any(m.startswith("tokens:") for m in notices(app)))


async def test_ctrl_c_twice_quits(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await engine_ready(app)
        await pilot.press("ctrl+c")
        assert app.is_running
        await wait_for(lambda: "Press Ctrl+C again to quit" in screen_text(app))
        await pilot.press("ctrl+c")
        await wait_for(lambda: not app.is_running)
    assert app.return_code == 0


async def test_compact_reports_through_a_notice(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "/compact")
        await wait_for(lambda: any("nothing to compact" in m for m in notices(app)))


async def test_clicking_a_suggestion_accepts_it(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await pilot.press("/", "u")
        menu = app.query_one(CompletionMenu)
        assert [s.insert for s in menu.suggestions] == ["/undo"]
        await pilot.click(CompletionMenu, offset=(3, 0))
        assert app.query_one(PromptInput).text == "/undo"
        assert app.query_one(PromptInput).has_focus


async def test_command_palette_offers_only_tau_commands(make_app: AppFactory) -> None:
    import os

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await pilot.press("ctrl+p")
        await wait_for(lambda: type(app.screen).__name__ == "CommandPalette")
        await pilot.press(*"screenshot")
        await pilot.pause(0.3)  # searches run in a worker: give it time to (not) find one
        assert "Save an SVG" not in screen_text(app) and "Screenshot" not in screen_text(app)
        await pilot.press(*(["backspace"] * len("screenshot")), *"theme")
        await wait_for(lambda: "switch theme (remembered)" in screen_text(app))
        assert "Change the current theme" not in screen_text(app)  # Textual's own entry
        await pilot.press("enter")
        # tau's /theme: its picker, and the choice is remembered.
        await wait_for(lambda: type(app.screen).__name__ == "ChoicePicker")
        await pilot.press(*"tau-light", "enter")
        await wait_for(lambda: any("theme: tau-light (remembered)" in m for m in notices(app)))
    config = Path(os.environ["TAU_CONFIG_DIR"]) / "config.toml"
    assert tomllib.loads(config.read_text())["theme"] == "tau-light"


async def test_mentions_that_are_not_attached_say_why(
    make_app: AppFactory, server: ScriptedServer, ws: Path
) -> None:
    (ws / "src").mkdir()
    (ws / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    server.add(openai_answer("Looked."))
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "compare @missing.py @src @logo.png @notes.txt", wait=False)
        await wait_for(lambda: "@logo.png: a binary" in screen_text(app))
        text = screen_text(app)
        assert "@missing.py: no such file in the workspace; sent as typed" in text
        assert "@src: a folder; not attached (mention the files in it)" in text
        assert "@logo.png: a binary file; not attached (the model sees its path)" in text
        user = next(e for e in app.agent.transcript.entries if isinstance(e, UserEntry))
        assert user.attachments == ["notes.txt"]


async def test_the_status_bar_keeps_model_mode_and_context_at_60_columns(
    make_app: AppFactory, server: ScriptedServer
) -> None:
    app = make_app(
        server,
        model="openai/gpt-5.2",
        approval="auto-edit",
        workspace_label="~/work/clients/acme-corp/platform-backend-service",
    )
    async with app.run_test(size=(60, 12)) as pilot:
        await engine_ready(app)
        await pilot.pause()
        bar = screen_text(app).splitlines()[-1]
        assert "openai/gpt-5.2" in bar and "auto-edit" in bar and "ctx 0%" in bar
    wide = make_app(
        server,
        model="openai/gpt-5.2",
        approval="auto-edit",
        workspace_label="~/work/clients/acme-corp/platform-backend-service",
    )
    async with wide.run_test(size=(84, 12)) as pilot:
        await engine_ready(wide)
        await pilot.pause()
        bar = screen_text(wide).splitlines()[-1]
        # The path is shortened to its last part before anything else goes.
        assert "platform-backend-service" in bar and "~/work" not in bar
        assert "openai/gpt-5.2" in bar and "auto-edit" in bar and "ctx 0%" in bar
