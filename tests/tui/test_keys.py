"""Keys and commands users bring from other agents: Ctrl+C, Ctrl+D, /exit, /resume,
Shift+Tab, /clear."""

from __future__ import annotations

from tau_tui.widgets.entries import AssistantEntry, NoticeEntry, UserEntry
from tau_tui.widgets.prompt import PromptInput
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer
from tests.tui.conftest import SIZE, AppFactory, engine_ready, idle, screen_text, wait_for
from tests.tui.test_agent_turns import send
from tests.tui.test_prompt_and_commands import notices


async def test_first_ctrl_c_interrupts_the_turn_and_the_second_quits(
    make_app: AppFactory, server: ScriptedServer
) -> None:
    server.add(openai_answer("a slow answer " * 80, chunk_size=8, delay_s=0.05))
    app = make_app(server)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await engine_ready(app)
        await send(pilot, "go slowly", wait=False)
        await wait_for(lambda: "a slow answer" in screen_text(app))
        await pilot.press("ctrl+c")
        await idle(app)
        assert app.is_running
        answer = next(e for e in app.agent.transcript.entries if isinstance(e, AssistantEntry))
        assert answer.interrupted and len(answer.text) < len("a slow answer " * 80)
        await wait_for(lambda: "Press Ctrl+C again to quit" in screen_text(app))
        await pilot.press("ctrl+c")
        await wait_for(lambda: not app.is_running)
    assert app.return_code == 0


async def test_ctrl_d_on_an_empty_prompt_quits(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await pilot.press("a", "b", "left", "left", "ctrl+d")  # not empty: deletes "a"
        assert app.is_running and app.query_one(PromptInput).text == "b"
        await pilot.press("ctrl+d")
        assert app.query_one(PromptInput).text == ""
        await pilot.press("ctrl+d")
        await wait_for(lambda: not app.is_running)
    assert app.return_code == 0


async def test_exit_quits(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "/exit")
        await wait_for(lambda: not app.is_running)
    assert app.return_code == 0


async def test_resume_opens_the_session_picker_or_resumes_an_id(
    make_app: AppFactory, server: ScriptedServer
) -> None:
    server.add(openai_answer("answer one"))
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "first session prompt")
        await idle(app)
        first = app.agent.engine.session.id  # type: ignore[union-attr]
        await send(pilot, "/new")
        await wait_for(lambda: app.agent.engine.session is None)  # type: ignore[union-attr]
        await send(pilot, "/resume")
        await wait_for(lambda: type(app.screen).__name__ == "SessionPicker")
        # The picker is the screen before its first paint: wait for it, under load too.
        await wait_for(lambda: "first session prompt" in screen_text(app))
        await pilot.press("enter")
        await wait_for(lambda: app.agent.engine.session is not None)  # type: ignore[union-attr]
        assert app.agent.engine.session.id == first  # type: ignore[union-attr]
        await send(pilot, "/new")
        await wait_for(lambda: app.agent.engine.session is None)  # type: ignore[union-attr]
        await send(pilot, f"/resume {first[:8]}")
        await wait_for(lambda: any(f"resumed session {first[:8]}" in m for m in notices(app)))
        assert "answer one" in screen_text(app)


async def test_shift_tab_cycles_approval_modes_and_keeps_the_prompt_focused(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await engine_ready(app)
        prompt = app.query_one(PromptInput)
        engine = app.agent.engine
        assert engine is not None and engine.policy.mode.value == "ask"
        seen = []
        for _ in range(4):
            await pilot.press("shift+tab")
            seen.append(engine.policy.mode.value)
            assert prompt.has_focus
            await wait_for(lambda: f"│  {engine.policy.mode.value}" in screen_text(app))
        assert seen == ["auto-edit", "full-auto", "read-only", "ask"]
        assert "approval mode: ask" in screen_text(app)  # the notification says which


async def test_clear_starts_a_fresh_context_and_says_so(
    make_app: AppFactory, server: ScriptedServer
) -> None:
    server.add(openai_answer("noted"), openai_answer("fresh answer"))
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "remember the word banana")
        await idle(app)
        first = app.agent.engine.session.id  # type: ignore[union-attr]
        await send(pilot, "/clear")
        await wait_for(lambda: any("context cleared" in m for m in notices(app)))
        entries = app.agent.transcript.entries
        assert len(entries) == 1 and isinstance(entries[0], NoticeEntry)
        assert f"/resume {first[:8]}" in entries[0].message
        # The status bar counts the new (empty) session, not the old one.
        await wait_for(lambda: "↑0 ↓0" in screen_text(app).splitlines()[-1])
        await send(pilot, "what was the word?")
        await idle(app)
        # The model got a fresh context: only the new prompt, nothing of the old session.
        sent = [m for m in server.requests[1].json["messages"] if m["role"] == "user"]
        assert [m["content"] for m in sent] == ["what was the word?"]
        assert app.agent.engine.session.id != first  # type: ignore[union-attr]
        assert [e.text for e in app.agent.transcript.entries if isinstance(e, UserEntry)] == [
            "what was the word?"
        ]
