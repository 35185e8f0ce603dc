"""The one place the engine's world meets Textual's: events in, ``Message``s out.

``EngineBridge.sink`` is subscribed to ``engine.bus``. The engine calls it
inline for every event, so it never blocks and never renders: text deltas
(thousands a second at worst) are appended to a buffer and posted as one
``TextStreamed`` per frame interval; every other event first flushes that
buffer (to keep the order) and is posted as its own message. The network read
is therefore never paced by rendering.

``EngineBridge.approve`` is the ``Approver`` the engine is opened with: it posts
an ``ApprovalRequested`` carrying an ``asyncio.Future`` and waits for the app to
resolve it from the approval modal.

This module imports no engine model at run time (only for typing), so the app
can import it before the first frame without loading pydantic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.message_pump import MessagePump

if TYPE_CHECKING:
    from tau_engine.events import (
        ApprovalNeeded,
        BaseEvent,
        ErrorEvent,
        Notice,
        SessionFinished,
        SessionStarted,
        ToolCallEvent,
        ToolOutputDelta,
        ToolResultEvent,
        TurnFinished,
        TurnStarted,
        UsageEvent,
    )
    from tau_engine.safety.policy import ApprovalDecision, ApprovalRequest

FRAME_INTERVAL = 1 / 20


class EngineBridge:
    """Turns engine events into Textual messages posted to ``target``."""

    class TextStreamed(Message):
        """Answer (or thinking) text that arrived since the last frame, coalesced."""

        def __init__(self, text: str, thinking: bool = False) -> None:
            super().__init__()
            self.text = text
            self.thinking = thinking

    class SessionBegan(Message):
        """A run started in a session (``session_started``)."""

        def __init__(self, event: SessionStarted) -> None:
            super().__init__()
            self.event = event

    class TurnBegan(Message):
        """A model turn (one provider request) began."""

        def __init__(self, event: TurnStarted) -> None:
            super().__init__()
            self.event = event

    class ToolCalled(Message):
        """The model called a tool; it is about to run (or to ask)."""

        def __init__(self, event: ToolCallEvent) -> None:
            super().__init__()
            self.event = event

    class ApprovalAnnounced(Message):
        """A tool call waits for the user's decision (the modal follows)."""

        def __init__(self, event: ApprovalNeeded) -> None:
            super().__init__()
            self.event = event

    class ToolOutputStreamed(Message):
        """A running tool printed more output (already coalesced by the engine)."""

        def __init__(self, event: ToolOutputDelta) -> None:
            super().__init__()
            self.event = event

    class ToolFinished(Message):
        """A tool call finished, failed or was denied."""

        def __init__(self, event: ToolResultEvent) -> None:
            super().__init__()
            self.event = event

    class UsageUpdated(Message):
        """Token and cost totals changed. A newer one replaces a queued older one."""

        def __init__(self, event: UsageEvent) -> None:
            super().__init__()
            self.event = event

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, EngineBridge.UsageUpdated)

    class TurnEnded(Message):
        """A model turn ended."""

        def __init__(self, event: TurnFinished) -> None:
            super().__init__()
            self.event = event

    class NoticePosted(Message):
        """A notice: retry, fallback, compaction, interruption."""

        def __init__(self, event: Notice) -> None:
            super().__init__()
            self.event = event

    class ErrorPosted(Message):
        """The run hit an error (provider failure, budget, max turns)."""

        def __init__(self, event: ErrorEvent) -> None:
            super().__init__()
            self.event = event

    class RunFinished(Message):
        """The run of one prompt is over (``session_finished``)."""

        def __init__(self, event: SessionFinished) -> None:
            super().__init__()
            self.event = event

    class ApprovalRequested(Message):
        """The engine waits for a decision: resolve ``future`` with an ``ApprovalDecision``."""

        def __init__(self, request: ApprovalRequest,
                     future: asyncio.Future[ApprovalDecision]) -> None:
            super().__init__()
            self.request = request
            self.future = future

    def __init__(self, target: MessagePump, *, frame_interval: float = FRAME_INTERVAL) -> None:
        self.target = target
        self.frame_interval = frame_interval
        self._pending: list[str] = []
        self._pending_thinking = False
        self._flush_handle: asyncio.TimerHandle | None = None
        self.events_seen = 0
        self.chars_seen = 0

    # -- the sink --------------------------------------------------------------
    def sink(self, event: BaseEvent) -> None:
        """Receive one engine event. Called inline by the engine: never blocks."""
        self.events_seen += 1
        kind = event.type
        if kind == "text_delta" or kind == "thinking_delta":
            text: str = event.text  # type: ignore[attr-defined]
            self.chars_seen += len(text)
            thinking = kind == "thinking_delta"
            if self._pending and thinking != self._pending_thinking:
                self.flush()
            self._pending_thinking = thinking
            self._pending.append(text)
            if self._flush_handle is None:
                loop = asyncio.get_running_loop()
                self._flush_handle = loop.call_later(self.frame_interval, self.flush)
            return
        self.flush()
        message_type = _EVENT_MESSAGES.get(kind)
        if message_type is not None:
            self.target.post_message(message_type(event))

    def flush(self) -> None:
        """Post the buffered text now (at a frame tick, or before any other event)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            self.target.post_message(self.TextStreamed(text, self._pending_thinking))

    def close(self) -> None:
        """Flush and stop the frame timer (the engine is going away)."""
        self.flush()

    # -- the approver ------------------------------------------------------------
    async def approve(self, request: ApprovalRequest) -> ApprovalDecision:
        """Ask the user through the app; waits until the modal resolves the future."""
        self.flush()
        future: asyncio.Future[ApprovalDecision] = asyncio.get_running_loop().create_future()
        self.target.post_message(self.ApprovalRequested(request, future))
        return await future


_EVENT_MESSAGES: dict[str, Callable[[Any], Message]] = {
    "session_started": EngineBridge.SessionBegan,
    "turn_started": EngineBridge.TurnBegan,
    "tool_call": EngineBridge.ToolCalled,
    "approval_needed": EngineBridge.ApprovalAnnounced,
    "tool_output_delta": EngineBridge.ToolOutputStreamed,
    "tool_result": EngineBridge.ToolFinished,
    "usage": EngineBridge.UsageUpdated,
    "turn_finished": EngineBridge.TurnEnded,
    "notice": EngineBridge.NoticePosted,
    "error": EngineBridge.ErrorPosted,
    "session_finished": EngineBridge.RunFinished,
}
