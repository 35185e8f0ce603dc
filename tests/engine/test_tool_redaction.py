"""The tool runner redacts the user's keys from every result, diff and approval preview
before the event is announced, the message stored or the next request built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tau_engine.agent.loop import AgentLoop
from tau_engine.agent.loop_config import LoopConfig
from tau_engine.events import ApprovalNeeded, BaseEvent, EventBus, ToolResultEvent
from tau_engine.safety.policy import ApprovalDecision, ApprovalMode
from tau_engine.safety.redact import SecretRedactor
from tau_engine.safety.workspace import WorkspaceGuard
from tau_engine.tools.base import ToolContext
from tests.engine.test_loop import MemorySink, ScriptedStream, answer, call, make_pipeline

KEY = "sk-ant-api03-hardcoded-in-settings-0123456789"


async def test_results_diffs_and_previews_carry_no_key(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text(f'DEBUG = False\nKEY = "{KEY}"\nPORT = 1\n')
    stream = ScriptedStream(
        [
            answer(
                "",
                [
                    call("c1", "read", path="settings.py"),
                    call(
                        "c2",
                        "edit",
                        path="settings.py",
                        old_string="DEBUG = False",
                        new_string="DEBUG = True",
                    ),
                ],
            ),
            answer("done"),
        ]
    )
    bus = EventBus("s1")
    events: list[BaseEvent] = []
    bus.subscribe(events.append)
    sink = MemorySink()
    previews: list[str] = []

    async def approver(request: Any) -> ApprovalDecision:
        previews.append(request.preview)
        return ApprovalDecision.ALLOW_ONCE

    ctx = ToolContext(
        workspace=tmp_path,
        guard=WorkspaceGuard(tmp_path),
        redactor=SecretRedactor({"ANTHROPIC_API_KEY": KEY}),
    )
    loop = AgentLoop(
        bus=bus,
        stream=stream,
        sink=sink,
        system_prompt="sys",
        pipeline=make_pipeline(tmp_path, bus, mode=ApprovalMode.ASK, approver=approver, ctx=ctx),
        config=LoopConfig(model_id="test/model"),
        cost=lambda usage: None,
        history=[],
        session_id="s1",
    )
    await loop.run("turn on debug")
    assert (tmp_path / "settings.py").read_text().startswith("DEBUG = True")
    shown = [e.output + (e.diff or "") for e in events if isinstance(e, ToolResultEvent)]
    shown += [e.preview for e in events if isinstance(e, ApprovalNeeded)] + previews
    stored = [m.content + str(m.meta) for m in sink.messages]
    sent = [m.content for r in stream.requests for m in r.messages]
    for text in (*shown, *stored, *sent):
        assert KEY not in text
    assert any("[REDACTED:ANTHROPIC_API_KEY]" in text for text in shown)
    diffs = [e.diff for e in events if isinstance(e, ToolResultEvent) and e.diff]
    assert diffs and "[REDACTED:ANTHROPIC_API_KEY]" in diffs[0]
