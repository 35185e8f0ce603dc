"""Plain helpers the provider tests share: streaming a provider into an ``Outcome``,
building requests, the recorded wire corpus, and the tool specs requests carry."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tau_engine.conversation import Message, ToolCall, ToolSpec, Usage
from tau_engine.errors import ProviderError
from tau_engine.providers.base import (
    Provider,
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    ThinkingChunk,
    ToolCallReady,
    UsageReport,
)

WIRE = Path(__file__).resolve().parents[1] / "fixtures" / "wire"
"""The recorded provider bodies; ``expected.json`` says what each one holds."""

READ = ToolSpec(
    "read_file",
    "Read a file",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)
BASH = ToolSpec(
    "bash", "Run a command", {"type": "object", "properties": {"command": {"type": "string"}}}
)


@cache
def wire_expected() -> dict[str, Any]:
    """``expected.json`` of the wire corpus: per file, what its bytes say."""
    loaded: dict[str, Any] = json.loads((WIRE / "expected.json").read_text(encoding="utf-8"))
    return loaded


def split(body: bytes, size: int) -> list[bytes]:
    """``body`` in pieces of ``size`` bytes (the last may be shorter), as network reads."""
    return [body[i : i + size] for i in range(0, len(body), size)]


def request_maker(
    model: str, *, system: str = "Be brief.", prompt: str = "hi"
) -> Callable[..., ProviderRequest]:
    """A builder of requests to ``model``: ``build(messages=None, **fields)``, where the
    messages default to one user ``prompt`` and ``fields`` may override model and system."""

    def build(messages: list[Message] | None = None, **fields: Any) -> ProviderRequest:
        fields.setdefault("model", model)
        fields.setdefault("system", system)
        return ProviderRequest(
            messages=messages or [Message(role="user", content=prompt)], **fields
        )

    return build


@dataclass
class Outcome:
    """Everything one provider call produced, sorted by kind, each in arrival order."""

    events: list[ProviderEvent] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    reports: list[UsageReport] = field(default_factory=list)
    end: StreamEnd | None = None
    error: ProviderError | None = None

    @property
    def usage(self) -> Usage | None:
        """The usage of the last report: a later report replaces an earlier one."""
        return self.reports[-1].usage if self.reports else None

    def add(self, event: ProviderEvent) -> None:
        """Record one event; a second ``StreamEnd`` fails the test."""
        self.events.append(event)
        if isinstance(event, TextChunk):
            self.text.append(event.text)
        elif isinstance(event, ThinkingChunk):
            self.thinking.append(event.text)
        elif isinstance(event, ToolCallReady):
            self.calls.append(event.call)
        elif isinstance(event, UsageReport):
            self.reports.append(event)
        else:
            assert self.end is None, "two StreamEnd events"
            self.end = event


async def stream_outcome(
    provider: Provider, request: ProviderRequest, *, keep_error: bool = False
) -> Outcome:
    """Stream one call to its end and close the provider. A ``ProviderError`` is raised,
    or with ``keep_error`` stored in the outcome next to what arrived before it."""
    out = Outcome()
    try:
        async for event in provider.stream(request):
            out.add(event)
    except ProviderError as exc:
        if not keep_error:
            raise
        out.error = exc
    finally:
        await provider.aclose()
    return out


async def stream_events(provider: Provider, request: ProviderRequest) -> list[ProviderEvent]:
    """The events of one call, in order; the provider is closed afterwards."""
    return (await stream_outcome(provider, request)).events


def text_of(events: list[ProviderEvent]) -> str:
    """All streamed answer text, joined."""
    return "".join(e.text for e in events if isinstance(e, TextChunk))


def calls_of(events: list[ProviderEvent]) -> list[ToolCall]:
    """The tool calls, in order."""
    return [e.call for e in events if isinstance(e, ToolCallReady)]


def end_of(events: list[ProviderEvent]) -> StreamEnd:
    """The one ``StreamEnd``, which must be the last event."""
    assert isinstance(events[-1], StreamEnd)
    assert sum(isinstance(e, StreamEnd) for e in events) == 1
    return events[-1]
