"""The bash tool card shows the command's output while it runs, and keeps it when the
call is interrupted (a real command through the engine, and a snapshot)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from tau_engine.events import Notice, RunFinished, ToolCallEvent, ToolOutputDelta
from tau_tui.widgets.entries import ToolEntry
from tau_tui.widgets.tool_card import ToolCard
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer
from tests.tui.conftest import SIZE, AppFactory, engine_ready, idle, screen_text, wait_for
from tests.tui.test_agent_turns import send

# Prints three lines (with a title-setting escape a card must not pass on), then
# waits for a file that never comes: only an interrupt ends it.
COMMAND = (
    "printf 'begin\\033]0;pwned\\007\\n'; for i in 1 2 3; do echo \"step $i\"; done; "
    "while [ ! -e never ]; do sleep 0.05; done"
)


async def test_running_bash_output_shows_live_and_stays_after_interrupt(
    make_app: AppFactory, server: ScriptedServer
) -> None:
    server.add(openai_answer("", [{"id": "b1", "name": "bash", "arguments": {"command": COMMAND}}]))
    app = make_app(server, approval="full-auto")
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "run the slow thing", wait=False)
        await wait_for(lambda: "step 3" in screen_text(app), timeout=30)
        card = app.agent.transcript.query_one(ToolCard)
        assert card.entry.status == "running" and app.agent.running
        text = screen_text(app)
        # The title escape is gone, the text around it kept.
        lines = [line.strip().removeprefix("│ ") for line in text.splitlines()]
        assert "begin" in lines and "step 1" in lines and "step 2" in lines
        await pilot.press("escape")
        await idle(app)
        entry = card.entry  # a fresh name: the status changed since it was last checked
        assert entry.status == "interrupted"
        text = screen_text(app)
        assert "interrupted" in text
        assert "step 1" in text and "step 3" in text
        stored = await app.agent.engine.history()  # type: ignore[union-attr]
        result = stored[-1].message
        assert result.role == "tool" and result.meta.get("interrupted") is True
        assert result.content.startswith("begin\x1b]0;pwned\x07\nstep 1")
        assert "step 3" in result.content


async def test_a_reloaded_interrupted_call_shows_what_it_printed(
    make_app: AppFactory, server: ScriptedServer
) -> None:
    server.add(openai_answer("", [{"id": "b1", "name": "bash", "arguments": {"command": COMMAND}}]))
    app = make_app(server, approval="full-auto")
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "run the slow thing", wait=False)
        await wait_for(lambda: "step 3" in screen_text(app), timeout=30)
        await pilot.press("escape")
        await idle(app)
        await app.agent.reload_transcript()
        await pilot.pause()
        (entry,) = [e for e in app.agent.transcript.entries if isinstance(e, ToolEntry)]
        assert entry.status == "interrupted"
        text = screen_text(app)
        assert "step 2" in text and "interrupted by the user before it finished" in text


def test_live_tool_output_snapshot(snap_compare: Any, make_app: AppFactory) -> None:
    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        await engine_ready(app)  # type: ignore[arg-type]
        sink = app.agent.bridge.sink  # type: ignore[attr-defined]
        sink(
            ToolCallEvent(
                call_id="c1", name="bash", arguments={"command": "pip install -r requirements.txt"}
            )
        )
        sink(
            ToolOutputDelta(
                call_id="c1", text="".join(f"Collecting package-{i}\n" for i in range(1, 6))
            )
        )
        sink(Notice(kind="interrupted", message="tool calls interrupted"))
        sink(RunFinished(run_id="r1", stop_reason="interrupted"))
        sink(ToolCallEvent(call_id="c2", name="bash", arguments={"command": "make test"}))
        sink(
            ToolOutputDelta(
                call_id="c2",
                text="".join(f"test_{i:02d} \x1b[32mPASSED\x1b[0m\n" for i in range(1, 10)),
            )
        )
        sink(ToolOutputDelta(call_id="c2", text="test_10 PA", skipped=2048))
        await wait_for(lambda: "test_10 PA" in screen_text(app))  # type: ignore[arg-type]
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


async def test_a_hostile_answer_cannot_drive_the_terminal(make_app: AppFactory) -> None:
    from tau_engine.events import ErrorEvent, TextDelta, ThinkingDelta, TurnStarted
    from tau_tui.widgets.messages import AssistantMessage

    app = make_app()
    async with app.run_test(size=SIZE):
        await engine_ready(app)
        sink = app.agent.bridge.sink
        sink(TurnStarted(turn=1))
        sink(ThinkingDelta(text="plan\x1b]0;thinking title\x07 it"))
        sink(TextDelta(text="hello \x1b]0;PWNED\x07there \x1b]52;c;cHduZWQ="))
        sink(TextDelta(text="\x07 end\x1b[2J"))
        app.agent.bridge.flush()
        sink(ErrorEvent(message="server said \x1b]0;boom\x07 no", kind="server"))
        await wait_for(lambda: "server said" in screen_text(app))
        answer = app.agent.transcript.query_one(AssistantMessage)
        assert answer.text == "hello there  end"
        text = screen_text(app)
        assert "server said  no" in text
        assert "\x1b" not in text and "\x07" not in text
