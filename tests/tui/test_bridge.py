"""The engine bridge: coalesced text, ordered events, approvals through a future."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.message import Message

from tau_engine.events import TextDelta, ThinkingDelta, ToolCallEvent, UsageEvent
from tau_engine.safety.policy import ApprovalDecision, ApprovalRequest
from tau_tui.bridge import EngineBridge


class Recorder:
    """Stands in for the screen: records what the bridge posts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def post_message(self, message: Message) -> bool:
        self.messages.append(message)
        return True


def make_bridge(interval: float = 0.02) -> tuple[EngineBridge, Recorder]:
    recorder = Recorder()
    return EngineBridge(recorder, frame_interval=interval), recorder  # type: ignore[arg-type]


async def test_thousands_of_deltas_become_a_few_messages_and_lose_nothing() -> None:
    bridge, recorder = make_bridge()
    pieces = [f"w{i} " for i in range(5000)]
    for piece in pieces:
        bridge.sink(TextDelta(text=piece))
    assert recorder.messages == []  # nothing is posted inline
    await asyncio.sleep(0.05)
    texts = [m.text for m in recorder.messages if isinstance(m, EngineBridge.TextStreamed)]
    assert len(texts) == 1
    assert "".join(texts) == "".join(pieces)


async def test_other_events_flush_pending_text_first() -> None:
    bridge, recorder = make_bridge(interval=10)
    bridge.sink(TextDelta(text="before the call"))
    bridge.sink(ToolCallEvent(call_id="c1", name="read", arguments={"path": "a"}))
    kinds = [type(m).__name__ for m in recorder.messages]
    assert kinds == ["TextStreamed", "ToolCalled"]
    assert recorder.messages[0].text == "before the call"  # type: ignore[attr-defined]


async def test_thinking_and_answer_text_are_kept_apart() -> None:
    bridge, recorder = make_bridge(interval=10)
    bridge.sink(ThinkingDelta(text="hmm "))
    bridge.sink(ThinkingDelta(text="ok"))
    bridge.sink(TextDelta(text="answer"))
    bridge.flush()
    streamed = [(m.text, m.thinking) for m in recorder.messages]  # type: ignore[attr-defined]
    assert streamed == [("hmm ok", True), ("answer", False)]


async def test_newer_usage_replaces_a_queued_one() -> None:
    from tau_engine.conversation import Usage

    older = EngineBridge.UsageUpdated(UsageEvent(usage=Usage()))
    newer = EngineBridge.UsageUpdated(UsageEvent(usage=Usage(input_tokens=5)))
    assert older.can_replace(newer)
    assert not older.can_replace(EngineBridge.TextStreamed("x"))


async def test_approve_waits_for_the_future() -> None:
    bridge, recorder = make_bridge()
    request = ApprovalRequest(
        call_id="c1", tool="bash", kind="exec", arguments={}, reason="why", preview="ls"
    )
    task: asyncio.Task[Any] = asyncio.ensure_future(bridge.approve(request))
    await asyncio.sleep(0)
    (asked,) = recorder.messages
    assert isinstance(asked, EngineBridge.ApprovalRequested) and asked.request is request
    assert not task.done()
    asked.future.set_result(ApprovalDecision.ALLOW_SESSION)
    assert await task is ApprovalDecision.ALLOW_SESSION
