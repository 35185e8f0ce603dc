"""The Anthropic Messages API client (``POST {base_url}/v1/messages``, streamed).

Three parts, each testable alone: ``build_messages_body`` maps a neutral
``ProviderRequest`` onto Anthropic's wire shape, ``AnthropicStreamParser`` turns
the stream's JSON events into normalized ``ProviderEvent``s, and
``AnthropicProvider`` does the HTTP.

Usage is normalized so that ``input_tokens`` counts the whole prompt, as
OpenAI and Gemini report it: Anthropic's own ``input_tokens`` excludes cache
reads and writes, so those are added back (and also reported on their own as
``cached_input_tokens`` / ``cache_write_tokens``).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from tau_engine.conversation import Message, ToolCall, Usage
from tau_engine.errors import ProviderError
from tau_engine.providers.answer_body import unknown_json
from tau_engine.providers.base import (
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    ThinkingChunk,
    ToolCallReady,
    UsageReport,
)
from tau_engine.providers.http import (
    classify_stream_error,
)
from tau_engine.providers.openai_chat import parse_tool_arguments
from tau_engine.providers.sse_client import SSEProvider

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 8192
THINKING_EXTRA_KEY = "anthropic_thinking"

_EPHEMERAL = {"type": "ephemeral"}
_STOP_REASONS = {
    "end_turn": "end_turn",
    "stop_sequence": "end_turn",
    "pause_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "max_tokens",
    "refusal": "refusal",
}
# Sent for a tool_use the conversation has no result for: Anthropic rejects a
# tool_use that is not answered in the very next user message.
MISSING_RESULT_TEXT = "No result was recorded for this tool call."


# -- request mapping ---------------------------------------------------------


def build_messages_body(request: ProviderRequest) -> dict[str, Any]:
    """The JSON body of one streamed Messages call."""
    caching = bool(request.options.get("prompt_caching"))
    system_parts = [request.system] if request.system else []
    system_parts += [m.content for m in request.messages if m.role == "system" and m.content]
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_output_tokens or DEFAULT_MAX_TOKENS,
        "messages": map_messages(request.messages),
        "stream": True,
    }
    if system_parts:
        system_text = "\n\n".join(system_parts)
        if caching:
            body["system"] = [{"type": "text", "text": system_text, "cache_control": _EPHEMERAL}]
        else:
            body["system"] = system_text
    if request.tools:
        tools: list[dict[str, Any]] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in request.tools
        ]
        if caching:
            tools[-1]["cache_control"] = _EPHEMERAL
        body["tools"] = tools
    budget = request.options.get("thinking_budget")
    if isinstance(budget, int) and budget > 0:
        # Extended thinking: the budget must leave room for the answer, and Anthropic
        # refuses a temperature other than the default alongside it.
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        body["max_tokens"] = max(body["max_tokens"], budget + 1024)
    elif request.temperature is not None:
        body["temperature"] = request.temperature
    return body


def map_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Map neutral messages onto alternating user/assistant Anthropic messages.

    Tool results become ``tool_result`` blocks at the head of the user message
    that follows the assistant's ``tool_use`` blocks (consecutive ``tool``
    messages merge into that one message). A result whose call is not in the
    preceding assistant message is sent as plain text, and a call with no
    result gets an error result, because Anthropic rejects both.
    """
    out: list[dict[str, Any]] = []
    open_calls: list[str] = []  # tool_use ids of the last assistant message
    results: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []

    def flush_user() -> None:
        nonlocal results, others, open_calls
        if not results and not others:
            return
        answered = {r["tool_use_id"] for r in results}
        missing = [
            {
                "type": "tool_result",
                "tool_use_id": call_id,
                "content": MISSING_RESULT_TEXT,
                "is_error": True,
            }
            for call_id in open_calls
            if call_id not in answered
        ]
        out.append({"role": "user", "content": results + missing + others})
        results, others, open_calls = [], [], []

    for message in messages:
        if message.role == "system":
            continue  # folded into the top-level system prompt
        if message.role == "assistant":
            blocks = _assistant_blocks(message)
            if not blocks:
                continue  # an empty answer: as if it was never there
            flush_user()
            if out and out[-1]["role"] == "assistant":
                out[-1]["content"].extend(blocks)
            else:
                out.append({"role": "assistant", "content": blocks})
                open_calls = []
            open_calls += [tool_use_id(tc.id) for tc in message.tool_calls]
        elif message.role == "tool":
            call_id = tool_use_id(message.tool_call_id or "")
            if call_id in open_calls and all(r["tool_use_id"] != call_id for r in results):
                results.append(_tool_result_block(call_id, message))
            elif message.content.strip():
                label = message.name or message.tool_call_id or "tool"
                others.append({"type": "text", "text": f"[result of {label}]\n{message.content}"})
        elif message.content.strip():
            others.append({"type": "text", "text": message.content})
    flush_user()
    return out


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    # Thinking blocks go back first and unchanged: their signatures are checked.
    thinking = message.extra.get(THINKING_EXTRA_KEY)
    if isinstance(thinking, list):
        blocks.extend(b for b in thinking if isinstance(b, dict))
    if message.content.strip():
        # Anthropic rejects a text block with nothing but whitespace ("\n\n" before a call).
        blocks.append({"type": "text", "text": message.content})
    blocks.extend(
        {"type": "tool_use", "id": tool_use_id(tc.id), "name": tc.name, "input": tc.arguments}
        for tc in message.tool_calls
    )
    return blocks


_TOOL_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


def tool_use_id(call_id: str) -> str:
    """``call_id`` as Anthropic accepts it (``^[a-zA-Z0-9_-]+$``): calls made by another
    provider may carry others (Kimi's ``functions.read:0``), or none."""
    return _TOOL_ID_CHARS.sub("_", call_id) or "call"


def _tool_result_block(call_id: str, message: Message) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id}
    if message.content:
        block["content"] = message.content
    if message.is_error:
        block["is_error"] = True
    return block


# -- stream parsing ----------------------------------------------------------


@dataclass
class _Block:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    parts: list[str] = field(default_factory=list)
    signature: str | None = None


class AnthropicStreamParser:
    """Turns the decoded events of one Messages stream into ``ProviderEvent``s.

    ``handle`` takes one event's JSON object; ``finish`` is called at end of
    stream and raises if ``message_stop`` never came. ``output_seen`` turns true
    once anything was yielded (text, thinking, a tool call): a failure after
    that is reported as partial and not retryable.
    """

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.model: str | None = None
        self.done = False
        self.output_seen = False
        self._blocks: dict[int, _Block] = {}
        self._thinking: list[dict[str, Any]] = []
        self._raw_input = 0
        self._usage = Usage()
        self._stop_reason: str | None = None
        self._tool_calls = 0

    def handle(self, event: dict[str, Any]) -> list[ProviderEvent]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self.model = message.get("model")
            self._update_usage(message.get("usage") or {})
        elif kind == "content_block_start":
            return self._block_start(int(event.get("index", 0)), event.get("content_block") or {})
        elif kind == "content_block_delta":
            return self._block_delta(int(event.get("index", 0)), event.get("delta") or {})
        elif kind == "content_block_stop":
            return self._block_stop(int(event.get("index", 0)))
        elif kind == "message_delta":
            delta = event.get("delta") or {}
            if delta.get("stop_reason"):
                self._stop_reason = delta["stop_reason"]
            self._update_usage(event.get("usage") or {})
        elif kind == "message_stop":
            self.done = True
            return [UsageReport(usage=self._usage.model_copy()), self._end()]
        elif kind == "error":
            raise classify_stream_error(event, self.provider, partial_output=self.output_seen)
        # "ping" and event types added later are ignored.
        return []

    def complete(self, body: Any) -> list[ProviderEvent]:
        """The events of a whole Messages answer (``{"type": "message", "content":
        [...], "stop_reason", "usage"}``), replayed as the stream would have sent it so
        thinking signatures, tool inputs and usage go through the same code."""
        if isinstance(body, dict) and (body.get("type") == "error" or "error" in body):
            raise classify_stream_error(body, self.provider, partial_output=False)
        if not isinstance(body, dict) or not isinstance(body.get("content"), list):
            raise unknown_json(self.provider, "an Anthropic Messages answer", body)
        events: list[ProviderEvent] = []
        for event in _message_as_stream(body):
            events.extend(self.handle(event))
        return events

    def finish(self) -> None:
        """Raise if the stream ended before its ``message_stop`` event."""
        if not self.done:
            raise ProviderError(
                "the stream ended before message_stop",
                kind="stream",
                provider=self.provider,
                retryable=not self.output_seen,
                partial_output=self.output_seen,
            )

    def _update_usage(self, usage: dict[str, Any]) -> None:
        # message_delta repeats the counts cumulatively; take the newest of each.
        u = self._usage
        if usage.get("input_tokens") is not None:
            self._raw_input = int(usage["input_tokens"])
        if usage.get("cache_read_input_tokens") is not None:
            u.cached_input_tokens = int(usage["cache_read_input_tokens"])
        if usage.get("cache_creation_input_tokens") is not None:
            u.cache_write_tokens = int(usage["cache_creation_input_tokens"])
        if usage.get("output_tokens") is not None:
            u.output_tokens = int(usage["output_tokens"])
        u.input_tokens = self._raw_input + u.cached_input_tokens + u.cache_write_tokens

    def _block_start(self, index: int, block: dict[str, Any]) -> list[ProviderEvent]:
        kind = str(block.get("type", ""))
        state = _Block(kind=kind, data=block)
        self._blocks[index] = state
        if kind == "text" and block.get("text"):
            self.output_seen = True
            return [TextChunk(block["text"])]
        if kind == "thinking":
            state.signature = block.get("signature") or None
            if block.get("thinking"):
                self.output_seen = True
                state.parts.append(block["thinking"])
                return [ThinkingChunk(block["thinking"])]
        return []

    def _block_delta(self, index: int, delta: dict[str, Any]) -> list[ProviderEvent]:
        state = self._blocks.get(index)
        if state is None:
            raise ProviderError(
                f"content_block_delta for unknown block {index}",
                kind="stream",
                provider=self.provider,
                retryable=not self.output_seen,
                partial_output=self.output_seen,
            )
        kind = delta.get("type")
        if kind == "text_delta":
            text = str(delta.get("text", ""))
            if text:
                self.output_seen = True
                return [TextChunk(text)]
        elif kind == "input_json_delta":
            state.parts.append(str(delta.get("partial_json", "")))
        elif kind == "thinking_delta":
            text = str(delta.get("thinking", ""))
            if text:
                self.output_seen = True
                state.parts.append(text)
                return [ThinkingChunk(text)]
        elif kind == "signature_delta":
            state.signature = (state.signature or "") + str(delta.get("signature", ""))
        return []

    def _block_stop(self, index: int) -> list[ProviderEvent]:
        state = self._blocks.pop(index, None)
        if state is None:
            return []
        if state.kind == "tool_use":
            self.output_seen = True
            self._tool_calls += 1
            arguments, error = parse_tool_arguments("".join(state.parts))
            call = ToolCall(
                id=str(state.data.get("id", "")),
                name=str(state.data.get("name", "")),
                arguments=arguments,
                arguments_error=error,
            )
            return [ToolCallReady(call)]
        if state.kind == "thinking":
            self._thinking.append(
                {
                    "type": "thinking",
                    "thinking": "".join(state.parts),
                    "signature": state.signature or "",
                }
            )
        elif state.kind == "redacted_thinking":
            self._thinking.append(dict(state.data))
        return []

    def _end(self) -> StreamEnd:
        raw = self._stop_reason
        reason = _STOP_REASONS.get(raw or "", "tool_use" if self._tool_calls else "end_turn")
        extra: dict[str, Any] = {THINKING_EXTRA_KEY: self._thinking} if self._thinking else {}
        return StreamEnd(stop_reason=reason, raw_reason=raw, extra=extra)


def _message_as_stream(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream events that carry the same answer as a whole ``message`` object."""
    raw_usage = message.get("usage")
    usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    start = {k: v for k, v in message.items() if k not in ("content", "stop_reason")}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": {**start, "content": []}}]
    for index, block in enumerate(message["content"]):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        head: dict[str, Any] = dict(block)
        deltas: list[dict[str, Any]] = []
        if kind == "text":
            head["text"] = ""
            deltas.append({"type": "text_delta", "text": str(block.get("text", ""))})
        elif kind == "thinking":
            head.update(thinking="", signature="")
            deltas.append({"type": "thinking_delta", "thinking": str(block.get("thinking", ""))})
            deltas.append(
                {"type": "signature_delta", "signature": str(block.get("signature") or "")}
            )
        elif kind == "tool_use":
            head["input"] = {}
            deltas.append(
                {"type": "input_json_delta", "partial_json": json.dumps(block.get("input") or {})}
            )
        events.append({"type": "content_block_start", "index": index, "content_block": head})
        events.extend(
            {"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas
        )
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message.get("stop_reason")},
            "usage": {"output_tokens": usage.get("output_tokens")},
        }
    )
    events.append({"type": "message_stop"})
    return events


# -- the client --------------------------------------------------------------


class AnthropicProvider(SSEProvider):
    """Streams Anthropic Messages calls. Implements ``tau_engine.providers.base.Provider``."""

    def __init__(
        self, *, name: str = "anthropic", base_url: str, api_key: str | None, **options: Any
    ) -> None:
        super().__init__(name=name, base_url=base_url, api_key=api_key, **options)
        root = base_url.rstrip("/")
        # Accept a base that already ends in /v1, as users often paste one.
        self.url = f"{root}/messages" if root.endswith("/v1") else f"{root}/v1/messages"

    def auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self._api_key or ""}

    def headers(self) -> dict[str, str]:
        """The request headers (the key included when one is set)."""
        return {"anthropic-version": ANTHROPIC_VERSION, **super().headers()}

    def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        """Stream one call; raises ``ProviderError`` on any failure."""
        return self.stream_parsed(
            self.url, build_messages_body(request), AnthropicStreamParser(self.name)
        )
