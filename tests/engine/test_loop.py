"""The agent loop on its own: a scripted in-memory provider, real tools, a memory sink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tau_engine.agent.loop import AgentLoop
from tau_engine.agent.loop_config import LoopConfig, MessageSink, StreamFactory
from tau_engine.agent.tool_runner import ToolPipeline
from tau_engine.conversation import Message, ToolCall, Usage
from tau_engine.errors import ProviderError
from tau_engine.events import (
    BaseEvent,
    ErrorEvent,
    EventBus,
    RunFinished,
    RunStarted,
    ToolResultEvent,
    UserMessage,
)
from tau_engine.providers.base import (
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    ToolCallReady,
    UsageReport,
)
from tau_engine.safety.layer import SafetyLayer
from tau_engine.safety.policy import ApprovalDecision, ApprovalMode, ApprovalRequest
from tau_engine.safety.redact import SecretRedactor
from tau_engine.safety.workspace import WorkspaceGuard
from tau_engine.tools.base import ToolContext
from tau_engine.tools.registry import default_tools


class ScriptedStream:
    """Each call answers with the next scripted turn (a list of provider events)."""

    def __init__(self, turns: list[list[ProviderEvent] | Exception]) -> None:
        self.turns = list(turns)
        self.requests: list[ProviderRequest] = []
        self.hold_after: int | None = None  # block (until cancelled) after N text chunks

    async def __call__(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        self.requests.append(request)
        turn = self.turns.pop(0)
        if isinstance(turn, Exception):
            raise turn
        sent = 0
        for event in turn:
            if self.hold_after is not None and isinstance(event, TextChunk):
                if sent == self.hold_after:
                    await asyncio.Event().wait()
                sent += 1
            yield event


def answer(text: str, calls: Sequence[ToolCall] = (), tokens: int = 10) -> list[ProviderEvent]:
    events: list[ProviderEvent] = [TextChunk(text[i : i + 4]) for i in range(0, len(text), 4)]
    events += [ToolCallReady(c) for c in calls]
    events.append(UsageReport(Usage(input_tokens=tokens, output_tokens=tokens)))
    events.append(StreamEnd("tool_use" if calls else "end_turn"))
    return events


def call(cid: str, name: str, **arguments: Any) -> ToolCall:
    return ToolCall(id=cid, name=name, arguments=arguments)


class MemorySink(MessageSink):
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.checkpoints: list[tuple[str, Path]] = []

    async def append(self, message: Message, **_: Any) -> str:
        self.messages.append(message)
        return f"m{len(self.messages)}"

    async def append_many(self, messages: Sequence[Message]) -> list[str]:
        return [await self.append(m) for m in messages]

    async def checkpoint(self, turn_message_id: str, path: Path) -> None:
        self.checkpoints.append((turn_message_id, path))


def make_pipeline(
    tmp_path: Path,
    bus: EventBus,
    *,
    mode: ApprovalMode,
    approver: Any,
    ctx: ToolContext | None = None,
    safety: str | None = None,
) -> ToolPipeline:
    """The pipeline the engine builds, on the real default profile (or ``safety``)."""
    ctx = ctx or ToolContext(workspace=tmp_path, guard=WorkspaceGuard(tmp_path))
    layer = SafetyLayer.open(tmp_path, mode=mode, safety=safety, state_dir=tmp_path / ".tau")
    tools = default_tools(bash_timeout_s=10, sandbox=layer.sandbox)
    return ToolPipeline(
        tools, ctx, bus, layer, approver, redaction=layer.redaction.with_secrets(ctx.redactor.pairs)
    )


def make_loop(
    tmp_path: Path,
    stream: StreamFactory,
    *,
    mode: ApprovalMode = ApprovalMode.AUTO_EDIT,
    approver: Any = None,
    max_turns: int = 10,
    redactor: SecretRedactor | None = None,
    safety: str | None = None,
    **config: Any,
) -> tuple[AgentLoop, list[BaseEvent], MemorySink]:
    bus = EventBus("s1")
    events: list[BaseEvent] = []
    bus.subscribe(events.append)
    sink = MemorySink()
    ctx = ToolContext(
        workspace=tmp_path, guard=WorkspaceGuard(tmp_path), redactor=redactor or SecretRedactor()
    )
    loop = AgentLoop(
        bus=bus,
        stream=stream,
        pipeline=make_pipeline(tmp_path, bus, mode=mode, approver=approver, ctx=ctx, safety=safety),
        sink=sink,
        system_prompt="sys",
        config=LoopConfig(model_id="test/model", max_turns=max_turns, **config),
        cost=lambda usage: usage.input_tokens * 0.001,
        history=[],
        session_id="s1",
    )
    return loop, events, sink


async def test_text_answer_emits_ordered_events(tmp_path: Path) -> None:
    loop, events, sink = make_loop(tmp_path, ScriptedStream([answer("hello world")]))
    result = await loop.run("hi")
    assert result.result == "hello world" and result.stop_reason == "end_turn"
    types = [e.type for e in events]
    assert types == [
        "run_started",
        "user_message",
        "turn_started",
        "text_delta",
        "text_delta",
        "text_delta",
        "usage",
        "turn_finished",
        "run_finished",
    ]
    run_ids = {e.run_id for e in events if isinstance(e, RunStarted | UserMessage | RunFinished)}
    assert run_ids == {result.run_id} and len(result.run_id) == 32
    prompt = next(e for e in events if isinstance(e, UserMessage))
    assert prompt.text == "hi" and prompt.message_id == "m1"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [m.role for m in sink.messages] == ["user", "assistant"]
    assert result.cost_usd == pytest.approx(0.01)


async def test_tool_round_trip_and_checkpoint_before_edit(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one\n")
    stream = ScriptedStream(
        [
            answer("", [call("c1", "edit", path="a.txt", old_string="one", new_string="two")]),
            answer("done"),
        ]
    )
    loop, events, sink = make_loop(tmp_path, stream)
    result = await loop.run("change it")
    assert (tmp_path / "a.txt").read_text() == "two\n"
    assert sink.checkpoints == [("m1", tmp_path / "a.txt")]
    tool_result = next(e for e in events if isinstance(e, ToolResultEvent))
    assert tool_result.ok and tool_result.diff and "+two" in tool_result.diff
    second = stream.requests[1].messages
    assert second[-1].role == "tool" and second[-1].tool_call_id == "c1"
    assert result.turns == 2 and result.tool_calls[0].ok


async def test_unknown_tool_and_bad_arguments_are_reported_to_the_model(tmp_path: Path) -> None:
    bad_json = ToolCall(id="c3", name="read", arguments={}, arguments_error="not JSON")
    stream = ScriptedStream(
        [
            answer("", [call("c1", "frobnicate"), call("c2", "read", nope=1), bad_json]),
            answer("sorry"),
        ]
    )
    loop, _, _ = make_loop(tmp_path, stream)
    result = await loop.run("go")
    results = [m for m in stream.requests[1].messages if m.role == "tool"]
    assert "unknown tool 'frobnicate'" in results[0].content and "read" in results[0].content
    assert "invalid arguments for read" in results[1].content
    assert "not JSON" in results[2].content
    assert all(m.is_error for m in results)
    assert result.stop_reason == "end_turn"


async def test_headless_ask_is_a_denial_the_model_sees(tmp_path: Path) -> None:
    stream = ScriptedStream([answer("", [call("c1", "bash", command="touch x")]), answer("ok")])
    loop, events, _ = make_loop(tmp_path, stream)
    await loop.run("go")
    assert not (tmp_path / "x").exists()
    denial = stream.requests[1].messages[-1]
    assert denial.is_error and "denied" in denial.content and "full-auto" in denial.content
    assert next(e for e in events if isinstance(e, ToolResultEvent)).denied


async def test_approver_allow_once_session_and_deny(tmp_path: Path) -> None:
    decisions = [ApprovalDecision.ALLOW_ONCE, ApprovalDecision.DENY, ApprovalDecision.ALLOW_SESSION]
    asked: list[ApprovalRequest] = []

    async def approver(request: ApprovalRequest) -> ApprovalDecision:
        asked.append(request)
        return decisions.pop(0)

    # cp asks in mode ask (the balanced profile lets echo run: it only reads).
    stream = ScriptedStream(
        [
            answer("", [call("c1", "bash", command="cp /dev/null one.txt")]),
            answer("", [call("c2", "bash", command="cp /dev/null two.txt")]),
            answer("", [call("c3", "bash", command="touch three.txt")]),
            answer("", [call("c4", "bash", command="touch four.txt")]),
            answer("done"),
        ]
    )
    loop, events, _ = make_loop(tmp_path, stream, mode=ApprovalMode.ASK, approver=approver)
    await loop.run("go")
    assert (tmp_path / "one.txt").exists() and not (tmp_path / "two.txt").exists()
    assert (tmp_path / "three.txt").exists() and (tmp_path / "four.txt").exists()
    assert len(asked) == 3  # the fourth ran without asking: `touch` allowed for the session
    assert asked[2].rule == "bash(touch *)" and asked[2].breadth == "matches any `touch` invocation"
    assert asked[0].preview == "cp /dev/null one.txt" and "ask" in asked[0].reason
    assert sum(1 for e in events if e.type == "approval_needed") == 3


async def test_read_only_mode_denies_edits(tmp_path: Path) -> None:
    stream = ScriptedStream(
        [answer("", [call("c1", "write", path="w.txt", content="x")]), answer("ok")]
    )
    loop, _, _ = make_loop(tmp_path, stream, mode=ApprovalMode.READ_ONLY)
    await loop.run("go")
    assert not (tmp_path / "w.txt").exists()
    assert "read-only" in stream.requests[1].messages[-1].content


async def test_consecutive_reads_run_concurrently(tmp_path: Path) -> None:
    for name in "abc":
        (tmp_path / f"{name}.txt").write_text(name)
    stream = ScriptedStream(
        [answer("", [call(f"c{n}", "read", path=f"{n}.txt") for n in "abc"]), answer("read all")]
    )
    loop, events, _ = make_loop(tmp_path, stream)
    await loop.run("go")
    order = [e.type for e in events if e.type in ("tool_call", "tool_result")]
    # All three calls are announced before any result: they ran as one batch.
    assert order == ["tool_call"] * 3 + ["tool_result"] * 3
    results = [m for m in stream.requests[1].messages if m.role == "tool"]
    assert [m.tool_call_id for m in results] == ["ca", "cb", "cc"]


async def test_max_turns_stops_with_error_event(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    stream = ScriptedStream([answer("", [call(f"c{i}", "read", path="a.txt")]) for i in range(3)])
    loop, events, _ = make_loop(tmp_path, stream, max_turns=2)
    result = await loop.run("go")
    assert result.stop_reason == "max_turns" and result.turns == 2
    assert any(isinstance(e, ErrorEvent) and "max-turns" in e.message for e in events)


async def test_provider_error_keeps_partial_text_marked_incomplete(tmp_path: Path) -> None:
    broken: list[ProviderEvent] = [TextChunk("half an ans")]

    async def stream(request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        for event in broken:
            yield event
        raise ProviderError("the stream broke", kind="stream")

    loop, events, sink = make_loop(tmp_path, stream)
    result = await loop.run("go")
    assert result.stop_reason == "error" and result.error_kind == "stream"
    assert sink.messages[-1].meta["incomplete"] is True
    assert sink.messages[-1].content == "half an ans"
    assert any(e.type == "error" for e in events)


async def test_cancel_mid_stream_keeps_partial_marked_interrupted(tmp_path: Path) -> None:
    stream = ScriptedStream([answer("abcdefgh" * 10)])
    stream.hold_after = 2
    loop, events, sink = make_loop(tmp_path, stream)
    task = asyncio.ensure_future(loop.run("go"))
    while sum(e.type == "text_delta" for e in events) < 2:
        await asyncio.sleep(0)
    task.cancel()
    result = await task
    assert result.stop_reason == "interrupted"
    assert sink.messages[-1].meta == {"interrupted": True}
    assert sink.messages[-1].content == "abcdefgh"
    assert events[-1].type == "run_finished"


async def test_token_budget_stops_the_run(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    stream = ScriptedStream(
        [answer("", [call("c1", "read", path="a.txt")], tokens=600), answer("never")]
    )
    loop, _, _ = make_loop(tmp_path, stream, max_tokens=1000)
    result = await loop.run("go")
    assert result.stop_reason == "budget" and len(stream.requests) == 1


async def test_write_tools_cannot_touch_the_session_store(tmp_path: Path) -> None:
    (tmp_path / ".tau").mkdir()
    (tmp_path / ".tau" / "tau.db").write_bytes(b"precious")
    stream = ScriptedStream(
        [
            answer(
                "",
                [
                    call("c1", "write", path=".tau/tau.db", content="gone"),
                    call(
                        "c2",
                        "edit_many",
                        patch="--- a/.tau/tau.db\n+++ b/.tau/tau.db\n"
                        "@@ -1 +1 @@\n-precious\n+gone\n",
                    ),
                ],
            ),
            answer("ok"),
        ]
    )
    loop, _, _ = make_loop(tmp_path, stream, mode=ApprovalMode.FULL_AUTO)
    await loop.run("go")
    assert (tmp_path / ".tau" / "tau.db").read_bytes() == b"precious"
    results = [m for m in stream.requests[1].messages if m.role == "tool"]
    assert all(m.is_error and "session state" in m.content for m in results)
