"""The engine's typed event stream (schema v2; ``docs/events.md`` is its reference).

The agent loop emits these and nothing else reaches a front end: the Textual
app, the headless renderers and the line REPL render this one stream, and the
same events are persisted to ``.tau/tau.db`` as they happen, so replay,
live-watch, jobs and mission evidence read the very same log.

Every event carries ``v`` (schema version), ``seq`` (per session, strictly
increasing), ``ts`` (unix seconds) and ``session_id``; the ``EventBus`` stamps
them. ``type`` is the event's name on the wire (stream-json, the event log).
An event emitted while no session is bound (the notices of opening the engine,
a mission's phases) has ``session_id`` "" and ``seq`` 0: it is in no session's log.

The unit of work is a *run*: one prompt, from ``run_started`` to ``run_finished``
(same ``run_id``). ``session_started`` and ``session_finished`` bracket the time an
engine works in a session. Logs written under v1 are read through
``EventReader`` (with ``events_v1.py``): ``parse_event`` upgrades them too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from tau_engine.conversation import Usage
from tau_engine.event_kinds import (
    NOTICE_DATA,
    MissionOutcome,
    MissionPhase,
    NoticeData,
    NoticeKind,
)
from tau_engine.events_v1 import V1Upgrade, is_v1

SCHEMA_VERSION = 2


class BaseEvent(BaseModel):
    """Fields every event has."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    type: str
    v: int = SCHEMA_VERSION
    seq: int = 0
    ts: float = 0.0
    session_id: str = ""


# -- sessions and runs ----------------------------------------------------------------------


class SessionStarted(BaseEvent):
    """An engine starts working in a session: a new one (``resumed`` false), or one it
    continues (resumed, continued, forked). Emitted before the session's first run here."""

    type: Literal["session_started"] = "session_started"
    model: str
    workspace: str
    resumed: bool = False
    title: str = ""


class SessionFinished(BaseEvent):
    """The engine leaves the session: it closes (``closed``) or switches to another
    (``switched``: ``/new``, ``/resume``, a fork). A killed process emits none."""

    type: Literal["session_finished"] = "session_finished"
    reason: Literal["closed", "switched"]
    runs: int = 0  # the runs since this session's ``session_started``
    usage: Usage = Field(default_factory=Usage)  # the session's totals
    cost_usd: float | None = None


class RunStarted(BaseEvent):
    """One prompt's run begins."""

    type: Literal["run_started"] = "run_started"
    run_id: str
    model: str


class UserMessage(BaseEvent):
    """The prompt as the model gets it: ``text`` has the ``@mentioned`` files attached
    (and is redacted); ``typed`` is the prompt as the user typed it, when that differs."""

    type: Literal["user_message"] = "user_message"
    run_id: str
    message_id: str  # the stored message
    text: str
    typed: str | None = None
    attachments: list[str] = Field(default_factory=list)  # workspace paths attached
    mention_notes: list[str] = Field(default_factory=list)  # mentions not attached whole


class RunFinished(BaseEvent):
    """The run is over. Every ``run_started`` is followed by one, unless the process died."""

    type: Literal["run_finished"] = "run_finished"
    run_id: str
    stop_reason: str  # end_turn | max_tokens | max_turns | interrupted | error | budget
    result: str = ""
    turns: int = 0
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = None
    duration_ms: float = 0.0


# -- turns ------------------------------------------------------------------------------------


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
    """The model called a tool. ``label`` is the one-line summary of what the call acts
    on (``path=src/x.py``, ``command=make test``), the same in every front end."""

    type: Literal["tool_call"] = "tool_call"
    call_id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    label: str = ""


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


# -- notices, errors, missions --------------------------------------------------------------


class Notice(BaseEvent):
    """Something the user should see that is not an error: a retry, a fallback, a
    compaction. ``kind`` is one of ``NoticeKind``; the kinds listed in ``NOTICE_DATA``
    carry that typed ``data``, every other kind none."""

    type: Literal["notice"] = "notice"
    kind: NoticeKind
    message: str
    data: NoticeData | None = None

    @model_validator(mode="before")
    @classmethod
    def _typed_data(cls, values: Any) -> Any:
        """Read ``data`` as the kind's model (a dict from the log, or the model itself)."""
        if not isinstance(values, dict):
            return values
        data = values.get("data")
        if data is None:
            return values
        try:
            kind = NoticeKind(str(values.get("kind")))
        except ValueError:
            return values  # the field's own validation names the bad kind
        model = NOTICE_DATA.get(kind)
        if model is None:
            if data == {}:
                return {**values, "data": None}
            raise ValueError(f"a {values.get('kind')} notice carries no data")
        if not isinstance(data, model):
            values = {
                **values,
                "data": model.model_validate(
                    data.model_dump() if isinstance(data, BaseModel) else data
                ),
            }
        return values


class ErrorEvent(BaseEvent):
    type: Literal["error"] = "error"
    message: str
    kind: str = "error"  # the provider error's kind, budget, max_turns or error
    fatal: bool = True


class MissionPhaseEvent(BaseEvent):
    """A mission's phase started or finished (``tau_engine/missions/runner.py``).

    ``attempt`` is the edit attempt the phase belongs to (``edit``, ``green``);
    ``outcome`` and ``reason`` (a blocked or failed code) are set on the phase that
    concluded the mission; ``note`` is the phase's one-line result."""

    type: Literal["mission_phase"] = "mission_phase"
    mission_id: str
    phase: MissionPhase
    status: Literal["started", "finished", "resumed"]
    attempt: int | None = None
    outcome: MissionOutcome | None = None
    reason: str | None = None
    note: str = ""


Event = (
    SessionStarted
    | RunStarted
    | UserMessage
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
    | RunFinished
    | SessionFinished
    | MissionPhaseEvent
)
"""Every event of schema v2: sinks take this union and render it with ``match``."""

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Annotated[Event, Field(discriminator="type")])

EventSink = Callable[[Event], None]
"""A front end's receiver. It must not block: the engine calls it inline."""

AnyEvent = TypeVar("AnyEvent", bound=Event)


class EventReader:
    """Reads one session's log in ``seq`` order: v2 events as they are, v1 events
    upgraded (``events_v1.py``). A parsed event always says ``v: 2``.

    A reader remembers the v1 run it is in, so the ``run_finished`` of a v1 run gets
    the id of its ``run_started``; one that starts in the middle of a log is made with
    ``after``."""

    def __init__(self, *, v1_run_id: str = "") -> None:
        self._v1 = V1Upgrade(v1_run_id)

    @classmethod
    def after(cls, boundary: dict[str, Any] | str | bytes | None) -> EventReader:
        """A reader for the events after ``boundary``: the last event before them of the
        types in ``events_v1.RUN_BOUNDARY_TYPES`` (None when there is none)."""
        raw = boundary if boundary is None or isinstance(boundary, dict) else json.loads(boundary)
        reader = cls()
        reader._v1 = V1Upgrade.after(raw if isinstance(raw, dict) else None)
        return reader

    def read(self, data: dict[str, Any] | str | bytes) -> Event:
        """The typed event of one stored or stream-json event (``ValidationError`` or
        ``ValueError`` if it is not one)."""
        if isinstance(data, dict):
            raw = data
        else:
            try:
                event = EVENT_ADAPTER.validate_json(data)
            except ValidationError as exc:
                try:
                    raw = json.loads(data)
                except ValueError:
                    raise exc from None
                if not isinstance(raw, dict):
                    raise
            else:
                if event.v == SCHEMA_VERSION:
                    return event
                raw = json.loads(data)
        if is_v1(raw):
            return EVENT_ADAPTER.validate_python(self._v1.upgrade(raw, SCHEMA_VERSION))
        return EVENT_ADAPTER.validate_python(raw)


def parse_event(data: dict[str, Any] | str | bytes) -> Event:
    """Parse one persisted or stream-json event back into its typed model; an event
    written under v1 is upgraded (``EventReader`` reads a whole log)."""
    return EventReader().read(data)


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
        """Point the bus at another session, continuing that session's sequence
        (``""``: no session; events are then numbered 0)."""
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

    def emit(self, event: AnyEvent) -> AnyEvent:
        # Written straight into the model's __dict__: these three fields are plain data
        # set once, and pydantic's validated __setattr__ costs ~6 µs per event at
        # thousands of text deltas per second.
        fields = event.__dict__
        if self.session_id:
            self._seq += 1
            fields["seq"] = self._seq
            fields["session_id"] = self.session_id
        fields["ts"] = time.time()
        if self._filter is not None:
            self._filter(event)
        for sink in self._sinks:
            sink(event)
        return event
