"""The provider interface every model client implements.

A provider turns a ``ProviderRequest`` into an async stream of normalized
events: ``TextChunk``/``ThinkingChunk`` as text arrives, ``ToolCallReady`` once a
call's arguments are complete and parsed, ``UsageReport`` (possibly several;
the last one of a call wins), and exactly one ``StreamEnd`` with the stop
reason. Failures raise ``ProviderError``; a stream that ends without its
final event raises ``ProviderError(kind="stream")``.

These are plain slotted dataclasses rather than pydantic models: they are the
hot path (one per streamed chunk) and never leave the engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tau_engine.conversation import Message, ToolCall, ToolSpec, Usage


@dataclass(slots=True)
class ProviderRequest:
    """One model call: everything the provider needs to build its wire request."""

    model: str  # the model id without the provider prefix
    system: str
    messages: list[Message]
    tools: list[ToolSpec] = field(default_factory=list)
    max_output_tokens: int | None = None
    temperature: float | None = None
    # Provider-specific options from config (OpenRouter routing, prompt caching...).
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class TextChunk:
    text: str


@dataclass(slots=True)
class ThinkingChunk:
    text: str
    signature: str | None = None


@dataclass(slots=True)
class ToolCallReady:
    call: ToolCall


@dataclass(slots=True)
class UsageReport:
    usage: Usage
    # Cost as reported by the provider itself (OpenRouter does), else None.
    cost_usd: float | None = None


@dataclass(slots=True)
class StreamEnd:
    """The call finished. ``stop_reason`` is normalized: ``end_turn``, ``tool_use``,
    ``max_tokens``, ``content_filter``, ``refusal`` or ``error``; ``raw_reason``
    keeps the provider's own word."""

    stop_reason: str
    raw_reason: str | None = None
    refusal: str | None = None
    # Provider-specific data that must be kept on the assistant message.
    extra: dict[str, Any] = field(default_factory=dict)


ProviderEvent = TextChunk | ThinkingChunk | ToolCallReady | UsageReport | StreamEnd


@runtime_checkable
class Provider(Protocol):
    """A model client. ``name`` is the provider prefix of model ids (``openai``)."""

    name: str

    def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        """Stream one model call. Raises ``ProviderError`` on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def coalesce(events: list[ProviderEvent]) -> list[ProviderEvent]:
    """Merge adjacent text (and unsigned thinking) chunks that arrived in the same
    network read. Nothing waits: these were all available at once, and one event
    per read instead of one per token keeps the whole pipeline (event log,
    renderers, stream-json) cheap when a server sends many tiny deltas."""
    if len(events) < 2:
        return events
    out: list[ProviderEvent] = []
    for event in events:
        last = out[-1] if out else None
        if type(event) is TextChunk and type(last) is TextChunk:
            out[-1] = TextChunk(last.text + event.text)
        elif (
            type(event) is ThinkingChunk
            and type(last) is ThinkingChunk
            and last.signature is None
            and event.signature is None
        ):
            out[-1] = ThinkingChunk(last.text + event.text)
        else:
            out.append(event)
    return out
