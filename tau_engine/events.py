"""The engine's typed event stream.

The agent loop emits these and nothing else reaches a front end: the Textual
app, the headless printer and the line REPL are three renderers of this one
stream, and the same events are persisted to ``.tau/tau.db`` as they happen,
so replay, live-watch and mission evidence read the very same log.

Every event carries ``v`` (schema version), ``seq`` (per-session, strictly
increasing), ``ts`` (unix seconds) and ``session_id``; the ``EventBus`` stamps
them. ``type`` is the event's name on the wire (stream-json, the event log).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from tau_engine.conversation import Usage

SCHEMA_VERSION = 1


class BaseEvent(BaseModel):
    """Fields every event has."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    type: str
    v: int = SCHEMA_VERSION
    seq: int = 0
    ts: float = 0.0
    session_id: str = ""


class SessionStarted(BaseEvent):
    type: Literal["session_started"] = "session_started"
    model: str
    workspace: str
    resumed: bool = False
    title: str = ""


class TurnStarted(BaseEvent):
    """A model turn begins: exactly one provider request (plus retries)."""

    type: Literal["turn_started"] = "turn_started"
    turn: int


class TextDelta(BaseEvent):
    type: Literal["text_delta"] = "text_delta"
    text: str


class ThinkingDelta(BaseEvent):
    type: Literal["thinking_delta"] = "thinking_delta"
    text: str


class ToolCallEvent(BaseEvent):
    type: Literal["tool_call"] = "tool_call"
    call_id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ApprovalNeeded(BaseEvent):
    """A tool call waits for the user's decision (the approver was asked)."""

    type: Literal["approval_needed"] = "approval_needed"
    call_id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""
    preview: str = ""  # the command, the diff or the URL, as the user should see it


class ToolOutputDelta(BaseEvent):
    """Output a running tool call printed (bash), coalesced: at most a few per second.

    ``skipped`` counts the characters left out before ``text`` when output came
    faster than it is announced; the call's ``tool_result`` has the output itself.
    """

    type: Literal["tool_output_delta"] = "tool_output_delta"
    call_id: str
    text: str
    skipped: int = 0


class ToolResultEvent(BaseEvent):
    type: Literal["tool_result"] = "tool_result"
    call_id: str
    name: str
    ok: bool
    output: str = ""
    duration_ms: float = 0.0
    denied: bool = False
    diff: str | None = None  # unified diff of the files the tool changed
    paths: list[str] = Field(default_factory=list)


class UsageEvent(BaseEvent):
    """Usage of one provider call, and the session's running totals."""

    type: Literal["usage"] = "usage"
    usage: Usage
    cost_usd: float | None = None
    total_usage: Usage = Field(default_factory=Usage)
    total_cost_usd: float | None = None
    context_tokens: int = 0
    context_window: int | None = None
    run_cost_usd: float | None = None  # this run (one prompt) so far
    cost_per_minute: float | None = None  # the run's burn rate, USD per minute


class TurnFinished(BaseEvent):
    type: Literal["turn_finished"] = "turn_finished"
    turn: int
    stop_reason: str


class Notice(BaseEvent):
    """Something the user should see that is not an error: a retry, a fallback, a compaction."""

    type: Literal["notice"] = "notice"
    kind: str
    message: str
    data: dict[str, Any] = Field(default_factory=dict)


class ErrorEvent(BaseEvent):
    type: Literal["error"] = "error"
    message: str
    kind: str = "error"
    fatal: bool = True


class SessionFinished(BaseEvent):
    type: Literal["session_finished"] = "session_finished"
    stop_reason: str  # end_turn | max_turns | interrupted | error | budget
    result: str = ""
    turns: int = 0
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = None
    duration_ms: float = 0.0


Event = Annotated[
    SessionStarted
    | TurnStarted
    | TextDelta
    | ThinkingDelta
    | ToolCallEvent
    | ApprovalNeeded
    | ToolOutputDelta
    | ToolResultEvent
    | UsageEvent
    | TurnFinished
    | Notice
    | ErrorEvent
    | SessionFinished,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

EventSink = Callable[[BaseEvent], None]
"""A front end's receiver. It must not block: the engine calls it inline."""


def parse_event(data: dict[str, Any] | str | bytes) -> BaseEvent:
    """Parse one persisted or stream-json event back into its typed model."""
    if isinstance(data, dict):
        return EVENT_ADAPTER.validate_python(data)
    return EVENT_ADAPTER.validate_json(data)


class EventBus:
    """Stamps events with session id, sequence number and time, then fans them out.

    Sinks are called in registration order; the persistence sink is normally
    first so that an event is durable before a renderer reacts to it. A filter
    (the engine's redaction funnel) sees each event before any sink does.
    """

    def __init__(self, session_id: str = "", start_seq: int = 0) -> None:
        self.session_id = session_id
        self._seq = start_seq
        self._sinks: list[EventSink] = []
        self._filter: EventSink | None = None

    def set_filter(self, event_filter: EventSink | None) -> None:
        """Run ``event_filter`` on every event, in place, before the sinks see it."""
        self._filter = event_filter

    @property
    def seq(self) -> int:
        return self._seq

    def rebind(self, session_id: str, start_seq: int) -> None:
        """Point the bus at another session, continuing that session's sequence."""
        self.session_id = session_id
        self._seq = start_seq

    def subscribe(self, sink: EventSink, *, first: bool = False) -> None:
        """Add a sink; ``first`` puts it ahead of the others (the persistence sink)."""
        if first:
            self._sinks.insert(0, sink)
        else:
            self._sinks.append(sink)

    def unsubscribe(self, sink: EventSink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    def emit(self, event: BaseEvent) -> BaseEvent:
        self._seq += 1
        # Written straight into the model's __dict__: these three fields are plain data
        # set once, and pydantic's validated __setattr__ costs ~6 µs per event at
        # thousands of text deltas per second.
        fields = event.__dict__
        fields["seq"] = self._seq
        fields["ts"] = time.time()
        fields["session_id"] = self.session_id
        if self._filter is not None:
            self._filter(event)
        for sink in self._sinks:
            sink(event)
        return event
