"""How engine events show in the transcript (synthetic events through the real bridge)."""

from __future__ import annotations

from tau_engine.events import (
    ErrorEvent,
    Notice,
    RunFinished,
    TextDelta,
    ThinkingDelta,
    ToolCallEvent,
    TurnStarted,
)
from tau_tui.widgets.entries import AssistantEntry, ToolEntry
from tests.tui.conftest import SIZE, AppFactory, engine_ready, screen_text, wait_for


async def test_thinking_then_answer_then_error(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE):
        await engine_ready(app)
        sink = app.agent.bridge.sink
        sink(TurnStarted(turn=1))
        sink(ThinkingDelta(text="pondering the "))
        sink(ThinkingDelta(text="question carefully"))
        app.agent.bridge.flush()
        await wait_for(lambda: "✻ pondering the question carefully" in screen_text(app))
        sink(TextDelta(text="The answer starts"))
        app.agent.bridge.flush()
        await wait_for(lambda: "✻ thought for 4 words" in screen_text(app))
        sink(ErrorEvent(message="openai 529 overloaded: try later", kind="overloaded"))
        sink(Notice(kind="fallback", message="falling back to anthropic/claude"))
        await wait_for(lambda: "falling back to anthropic/claude" in screen_text(app))
        text = screen_text(app)
        assert "⚠ the answer was cut off" in text
        assert "✗ openai 529 overloaded: try later" in text
        answer = next(e for e in app.agent.transcript.entries if isinstance(e, AssistantEntry))
        assert answer.incomplete and not answer.streaming


async def test_interrupted_tool_calls_are_marked(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE):
        await engine_ready(app)
        sink = app.agent.bridge.sink
        sink(ToolCallEvent(call_id="c1", name="bash", arguments={"command": "sleep 100"}))
        sink(Notice(kind="interrupted", message="tool calls interrupted"))
        sink(RunFinished(run_id="r1", stop_reason="interrupted"))
        await wait_for(lambda: "■ bash  sleep 100  interrupted" in screen_text(app))
        (tool,) = [e for e in app.agent.transcript.entries if isinstance(e, ToolEntry)]
        assert tool.status == "interrupted"
