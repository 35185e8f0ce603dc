"""Which bridge message each engine event becomes: one ``match`` over the event union.

Loaded by ``EngineBridge.sink`` with the first event (the engine, and so
pydantic, exist by then), so importing the bridge before the first frame stays
cheap. Text and thinking deltas are buffered and coalesced per frame; every other
event is posted as its own message, after the text buffered before it. A new
event type fails ``mypy`` here until it is given its message.
"""

from __future__ import annotations

from typing import assert_never

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
    TextDelta,
    ThinkingDelta,
    ToolCallEvent,
    ToolOutputDelta,
    ToolResultEvent,
    TurnFinished,
    TurnStarted,
    UsageEvent,
    UserMessage,
)
from tau_tui.bridge import EngineBridge


def route_event(bridge: EngineBridge, event: Event) -> None:
    """Buffer ``event``'s text, or post its message through ``bridge``."""
    match event:
        case TextDelta(text=text):
            bridge.buffer_text(text, thinking=False)
        case ThinkingDelta(text=text):
            bridge.buffer_text(text, thinking=True)
        case ToolOutputDelta():
            bridge.post(EngineBridge.ToolOutputStreamed(event))
        case UsageEvent():
            bridge.post(EngineBridge.UsageUpdated(event))
        case ToolCallEvent():
            bridge.post(EngineBridge.ToolCalled(event))
        case ToolResultEvent():
            bridge.post(EngineBridge.ToolFinished(event))
        case TurnStarted():
            bridge.post(EngineBridge.TurnBegan(event))
        case TurnFinished():
            bridge.post(EngineBridge.TurnEnded(event))
        case ApprovalNeeded():
            bridge.post(EngineBridge.ApprovalAnnounced(event))
        case Notice():
            bridge.post(EngineBridge.NoticePosted(event))
        case ErrorEvent():
            bridge.post(EngineBridge.ErrorPosted(event))
        case RunStarted():
            bridge.post(EngineBridge.RunBegan(event))
        case UserMessage():
            bridge.post(EngineBridge.PromptSent(event))
        case RunFinished():
            bridge.post(EngineBridge.RunFinished(event))
        case SessionStarted():
            bridge.post(EngineBridge.SessionBegan(event))
        case SessionFinished():
            bridge.post(EngineBridge.SessionEnded(event))
        case MissionPhaseEvent():
            bridge.post(EngineBridge.MissionPhaseChanged(event))
        case _:
            assert_never(event)
