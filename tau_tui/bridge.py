"""The one place the engine's world meets Textual's: events in, ``Message``s out.

``EngineBridge.sink`` is subscribed to ``engine.bus``. The engine calls it
inline for every event, so it never blocks and never renders: text deltas
(thousands a second at worst) are appended to a buffer and posted as one
``TextStreamed`` per frame interval; every other event first flushes that
buffer (to keep the order) and is posted as its own message. The network read
is therefore never paced by rendering. Which message each event becomes is
decided in ``sink`` by a ``match`` over the whole event union.

The messages are dataclasses carrying the event they announce. ``EngineBridge.approve``
is the ``Approver`` the engine is opened with: it posts an ``ApprovalRequested``
carrying an ``asyncio.Future`` and waits for the app to resolve it from the
approval modal.

This module imports no engine model at run time (only for typing), so the app
can import it before the first frame without loading pydantic.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, assert_never

from textual.message import Message
from textual.message_pump import MessagePump

if TYPE_CHECKING:
    from tau_engine.events import (
        ApprovalNeeded,
        ErrorEvent,
        Event,
        MissionPhaseEvent,
        Notice,
        RunFinished,
        RunStarted,
        SessionFinished,
        SessionStarted,
        ToolCallEvent,
        ToolOutputDelta,
        ToolResultEvent,
        TurnFinished,
        TurnStarted,
        UsageEvent,
        UserMessage,
    )
    from tau_engine.safety.policy import ApprovalDecision, ApprovalRequest

FRAME_INTERVAL = 1 / 20


class EngineBridge:
    """Turns engine events into Textual messages posted to ``target``."""

    @dataclass
    class TextStreamed(Message):
        """Answer (or thinking) text that arrived since the last frame, coalesced."""

        text: str
        thinking: bool = False

    @dataclass
    class SessionBegan(Message):
        """The engine starts working in a session (``session_started``)."""

        event: SessionStarted

    @dataclass
    class SessionEnded(Message):
        """The engine leaves the session (``session_finished``)."""

        event: SessionFinished

    @dataclass
    class RunBegan(Message):
        """A prompt's run begins (``run_started``)."""

        event: RunStarted

    @dataclass
    class PromptSent(Message):
        """The prompt as the model gets it, mentions attached (``user_message``)."""

        event: UserMessage

    @dataclass
    class TurnBegan(Message):
        """A model turn (one provider request) began."""

        event: TurnStarted

    @dataclass
    class ToolCalled(Message):
        """The model called a tool; it is about to run (or to ask)."""

        event: ToolCallEvent

    @dataclass
    class ApprovalAnnounced(Message):
        """A tool call waits for the user's decision (the modal follows)."""

        event: ApprovalNeeded

    @dataclass
    class ToolOutputStreamed(Message):
        """A running tool printed more output (already coalesced by the engine)."""

        event: ToolOutputDelta

    @dataclass
    class ToolFinished(Message):
        """A tool call finished, failed or was denied."""

        event: ToolResultEvent

    @dataclass
    class UsageUpdated(Message):
        """Token and cost totals changed. A newer one replaces a queued older one."""

        event: UsageEvent

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, EngineBridge.UsageUpdated)

    @dataclass
    class TurnEnded(Message):
        """A model turn ended."""

        event: TurnFinished

    @dataclass
    class NoticePosted(Message):
        """A notice: retry, fallback, compaction, interruption."""

        event: Notice

    @dataclass
    class ErrorPosted(Message):
        """The run hit an error (provider failure, budget, max turns)."""

        event: ErrorEvent

    @dataclass
    class RunFinished(Message):
        """The run of one prompt is over (``run_finished``)."""

        event: RunFinished

    @dataclass
    class MissionPhaseChanged(Message):
        """A mission's phase started or finished (``mission_phase``)."""

        event: MissionPhaseEvent

    @dataclass
    class ApprovalRequested(Message):
        """The engine waits for a decision: resolve ``future`` with an ``ApprovalDecision``."""

        request: ApprovalRequest
        future: asyncio.Future[ApprovalDecision]

    def __init__(self, target: MessagePump, *, frame_interval: float = FRAME_INTERVAL) -> None:
        self.target = target
        self.frame_interval = frame_interval
        self._pending: list[str] = []
        self._pending_thinking = False
        self._flush_handle: asyncio.TimerHandle | None = None
        self.events_seen = 0
        self.chars_seen = 0

    # -- the sink --------------------------------------------------------------
    def sink(self, event: Event) -> None:
        """Receive one engine event. Called inline by the engine: never blocks.

        Text and thinking deltas are buffered and coalesced per frame; every other event
        is posted as its own message, after the text buffered before it. The ``match``
        covers the whole union: a new event type fails ``mypy`` here until it is given
        its message."""
        # Imported here: the app loads this module before its first frame, without
        # pydantic; by the first event the engine has loaded it (a dict lookup from then).
        from tau_engine import events as ev

        self.events_seen += 1
        match event:
            case ev.TextDelta(text=text):
                self.buffer_text(text, thinking=False)
            case ev.ThinkingDelta(text=text):
                self.buffer_text(text, thinking=True)
            case ev.ToolOutputDelta():
                self.post(self.ToolOutputStreamed(event))
            case ev.UsageEvent():
                self.post(self.UsageUpdated(event))
            case ev.ToolCallEvent():
                self.post(self.ToolCalled(event))
            case ev.ToolResultEvent():
                self.post(self.ToolFinished(event))
            case ev.TurnStarted():
                self.post(self.TurnBegan(event))
            case ev.TurnFinished():
                self.post(self.TurnEnded(event))
            case ev.ApprovalNeeded():
                self.post(self.ApprovalAnnounced(event))
            case ev.Notice():
                self.post(self.NoticePosted(event))
            case ev.ErrorEvent():
                self.post(self.ErrorPosted(event))
            case ev.RunStarted():
                self.post(self.RunBegan(event))
            case ev.UserMessage():
                self.post(self.PromptSent(event))
            case ev.RunFinished():
                self.post(self.RunFinished(event))
            case ev.SessionStarted():
                self.post(self.SessionBegan(event))
            case ev.SessionFinished():
                self.post(self.SessionEnded(event))
            case ev.MissionPhaseEvent():
                self.post(self.MissionPhaseChanged(event))
            case _:
                assert_never(event)

    def buffer_text(self, text: str, thinking: bool) -> None:
        """Keep streamed text for the next frame (a switch between thinking and answer
        text posts what was kept first)."""
        self.chars_seen += len(text)
        if self._pending and thinking != self._pending_thinking:
            self.flush()
        self._pending_thinking = thinking
        self._pending.append(text)
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(self.frame_interval, self.flush)

    def post(self, message: Message) -> None:
        """Post an event's message, after the text buffered before it."""
        self.flush()
        self.target.post_message(message)

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
