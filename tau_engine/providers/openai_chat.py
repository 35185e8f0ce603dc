"""The OpenAI Chat Completions wire format, and every server that copies it.

OpenAI, DeepSeek, xAI, Mistral, Ollama, OpenRouter and any custom
``/chat/completions`` endpoint share this client; their small differences
(which max-tokens field, whether ``stream_options`` is accepted, OpenRouter's
routing and attribution extras) are data in ``_DIALECTS`` and ``_OPTION_*``
rather than branches in the stream parser.

The stream is parsed as it arrives: text is yielded chunk by chunk, tool-call
fragments are assembled by ``index`` and released once the stream has
finished, and the usage-only final chunk becomes a ``UsageReport``. A server
that answers with one whole ``chat.completion`` instead is read through the
same code (its message as one delta). The history's wire shape is
``openai_chat_history``'s job.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from tau_engine.conversation import ToolCall, Usage
from tau_engine.errors import ProviderError
from tau_engine.providers.answer_body import BodyHead, content_type, unknown_json
from tau_engine.providers.base import (
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    ThinkingChunk,
    ToolCallReady,
    UsageReport,
    coalesce,
)
from tau_engine.providers.http import classify_stream_error, raise_for_status
from tau_engine.providers.openai_chat_history import chat_messages
from tau_engine.providers.sse import aiter_sse_batches
from tau_engine.providers.sse_client import SSEProvider
from tau_engine.providers.transport_failures import transport_error


@dataclass(frozen=True, slots=True)
class _Dialect:
    """What a given OpenAI-compatible server accepts."""

    max_tokens_field: str = "max_tokens"
    stream_usage_option: bool = True  # send stream_options.include_usage


# OpenAI deprecated max_tokens (reasoning models reject it); the copies still use it.
# Mistral reports usage on its last chunk by itself and rejects unknown fields.
_DIALECTS: dict[str, _Dialect] = {
    "openai": _Dialect(max_tokens_field="max_completion_tokens"),
    "mistral": _Dialect(stream_usage_option=False),
}
_DEFAULT_DIALECT = _Dialect()

# request.options keys that become headers (OpenRouter's app attribution).
_OPTION_HEADERS: dict[str, str] = {"site_url": "HTTP-Referer", "site_name": "X-Title"}
# request.options keys that fill OpenRouter's ``provider`` routing object.
_OPTION_ROUTING: dict[str, str] = {
    "provider_order": "order",
    "provider_allow": "only",
    "provider_deny": "ignore",
}
# request.options keys copied into the body as they are.
_OPTION_BODY_FIELDS = ("reasoning_effort", "top_p", "seed", "user")

# How long to wait for the end of the body after [DONE] before giving up on reuse.
_DRAIN_TIMEOUT_S = 1.0

_FINISH_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "eos": "end_turn",
    "end_turn": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "max_tokens": "max_tokens",
    "content_filter": "content_filter",
}


def chat_body(request: ProviderRequest, dialect_name: str) -> dict[str, Any]:
    """The JSON body of a streaming ``/chat/completions`` request."""
    dialect = _DIALECTS.get(dialect_name, _DEFAULT_DIALECT)
    options = request.options
    body: dict[str, Any] = {
        "model": request.model,
        "messages": chat_messages(request),
        "stream": True,
    }
    if options.get("include_usage", dialect.stream_usage_option):
        body["stream_options"] = {"include_usage": True}
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            }
            for tool in request.tools
        ]
    if request.max_output_tokens is not None:
        field_name = str(options.get("max_tokens_field", dialect.max_tokens_field))
        body[field_name] = request.max_output_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    for key in _OPTION_BODY_FIELDS:
        if options.get(key) is not None:
            body[key] = options[key]
    routing = {wire: options[key] for key, wire in _OPTION_ROUTING.items() if options.get(key)}
    if routing:
        body["provider"] = routing
    extra_body = options.get("extra_body")
    if isinstance(extra_body, dict):
        body.update(extra_body)
    return body


@dataclass(slots=True)
class _PartialCall:
    """A tool call being assembled from its streamed fragments."""

    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _StreamState:
    """Everything learned from the stream so far, besides what was already yielded."""

    output_sent: bool = False
    done: bool = False
    finish_reason: str | None = None
    refusal: list[str] = field(default_factory=list)
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    usage: UsageReport | None = None
    error: ProviderError | None = None  # an in-stream error, raised once its chunk is out


class OpenAIChatProvider(SSEProvider):
    """A streaming client of ``{base_url}/chat/completions``.

    ``name`` is the provider prefix of model ids and picks the dialect;
    ``key_hint`` names where the key comes from, for auth error messages.
    A ``client`` passed in is shared and left open by ``aclose``. The client,
    its construction and closing come from ``SSEProvider``; the stream loop is
    this module's own (chunks carry state across events: tool-call fragments).
    """

    def __init__(self, *, name: str, base_url: str, api_key: str | None, **options: Any) -> None:
        super().__init__(name=name, base_url=base_url, api_key=api_key, **options)
        self.base_url = base_url.rstrip("/")

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def request_headers(self, request: ProviderRequest) -> dict[str, str]:
        """Request headers: auth, SSE accept, configured extras, OpenRouter attribution."""
        headers = self.headers()
        for key, header in _OPTION_HEADERS.items():
            value = request.options.get(key)
            if value:
                headers[header] = str(value)
        return headers

    async def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        """Stream one call; see ``tau_engine.providers.base`` for the event contract."""
        state = _StreamState()
        body = chat_body(request, self.name)
        try:
            # ``async with`` closes the connection at once if the consumer is cancelled.
            async with self._client.stream(
                "POST", self.url, json=body, headers=self.request_headers(request)
            ) as response:
                await raise_for_status(
                    response, self.name, key_hint=self._key_hint, key_sent=bool(self._api_key)
                )
                head = BodyHead()
                chunks = head.record(response.aiter_bytes())
                async for batch in aiter_sse_batches(chunks):
                    head.event_seen()
                    events: list[ProviderEvent] = []
                    for sse in batch:
                        if sse.data == "[DONE]":
                            state.done = True
                            break
                        events.extend(self._chunk_events(sse.data, state))
                        if state.error is not None:
                            break
                    for event in coalesce(events):
                        yield event
                    if state.error is not None:
                        raise state.error
                    if state.done:
                        break
                if state.done:
                    await _drain(chunks)
                else:
                    # No event at all: a whole answer without SSE framing, or a page.
                    whole = head.whole_answer(self.name, content_type(response))
                    if whole is not None:
                        for event in coalesce(self._completion_events(whole, state)):
                            yield event
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.name, partial_output=state.output_sent) from exc
        for event in self._final_events(state):
            yield event

    def _completion_events(self, whole: Any, state: _StreamState) -> list[ProviderEvent]:
        """The events of a whole ``chat.completion`` (the non-streaming shape): its
        message is read as one delta carrying everything, so the rest is shared."""
        if isinstance(whole, dict) and whole.get("error"):
            raise classify_stream_error(whole, self.name, partial_output=False)
        choices = whole.get("choices") if isinstance(whole, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise unknown_json(self.name, "a chat completion", whole)
        choice = choices[0]
        message = choice.get("message") or choice.get("delta") or {}
        delta = dict(message) if isinstance(message, dict) else {}
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            delta["tool_calls"] = [
                {**c, "index": i} for i, c in enumerate(calls) if isinstance(c, dict)
            ]
        elif isinstance(delta.get("function_call"), dict):
            delta["tool_calls"] = [{"index": 0, "function": delta["function_call"]}]
        chunk = {
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": choice.get("finish_reason") or "stop"}
            ]
        }
        if isinstance(whole.get("usage"), dict):
            chunk["usage"] = whole["usage"]
        state.done = True
        return self._chunk_events(json.dumps(chunk), state)

    def _chunk_events(self, data: str, state: _StreamState) -> list[ProviderEvent]:
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise ProviderError(
                f"the provider sent an event that is not JSON: {data[:120]!r}",
                kind="stream",
                provider=self.name,
                partial_output=state.output_sent,
            ) from exc
        if not isinstance(chunk, dict):
            return []
        events: list[ProviderEvent] = []
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            state.usage = _usage_report(usage)
        if chunk.get("error"):
            # OpenRouter reports upstream failures inside a 200 stream, sometimes with the
            # usage of what was billed: report that usage, then fail.
            state.error = classify_stream_error(chunk, self.name, partial_output=state.output_sent)
            return [state.usage] if state.usage is not None else []
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                events.extend(_delta_events(delta, state))
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason:
                state.finish_reason = reason
        if events:
            state.output_sent = True
        return events

    def _final_events(self, state: _StreamState) -> list[ProviderEvent]:
        if state.finish_reason is None and not state.done:
            raise ProviderError(
                "the stream ended before the answer finished (no finish reason, no [DONE])",
                kind="stream",
                provider=self.name,
                retryable=not state.output_sent,
                partial_output=state.output_sent,
            )
        if state.finish_reason == "error":
            raise ProviderError(
                "the provider ended the answer with an error and no details",
                kind="server",
                provider=self.name,
                retryable=not state.output_sent,
                partial_output=state.output_sent,
            )
        events: list[ProviderEvent] = [
            ToolCallReady(_finish_call(index, partial))
            for index, partial in sorted(state.calls.items())
        ]
        if state.usage is not None:
            events.append(state.usage)
        refusal = "".join(state.refusal) or None
        raw = state.finish_reason
        if refusal is not None:
            stop = "refusal"
        elif state.calls and raw in (None, "stop"):
            # Some servers (Ollama) say "stop" even when the answer is tool calls.
            stop = "tool_use"
        else:
            stop = _FINISH_REASONS.get(raw or "stop", "end_turn")
        events.append(StreamEnd(stop_reason=stop, raw_reason=raw, refusal=refusal))
        return events


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Read what follows ``[DONE]`` (normally just the end of the body) so the
    connection goes back to the pool instead of being closed; never wait long."""
    try:
        async with asyncio.timeout(_DRAIN_TIMEOUT_S):
            async for _ in chunks:
                pass
    except (TimeoutError, httpx.HTTPError):
        pass  # the answer is complete; the connection is just not reused


def _delta_events(delta: dict[str, Any], state: _StreamState) -> list[ProviderEvent]:
    events: list[ProviderEvent] = []
    # DeepSeek says reasoning_content, OpenRouter says reasoning; never both for one delta.
    for key in ("reasoning_content", "reasoning"):
        thinking = delta.get(key)
        if isinstance(thinking, str) and thinking:
            events.append(ThinkingChunk(thinking))
            break
    content = delta.get("content")
    if isinstance(content, str) and content:
        events.append(TextChunk(content))
    refusal = delta.get("refusal")
    if isinstance(refusal, str) and refusal:
        state.refusal.append(refusal)
    fragments = delta.get("tool_calls")
    if isinstance(fragments, list):
        for position, fragment in enumerate(fragments):
            if isinstance(fragment, dict):
                _add_fragment(state.calls, position, fragment)
    return events


def _add_fragment(calls: dict[int, _PartialCall], position: int, fragment: dict[str, Any]) -> None:
    """Merge one tool-call fragment; ``id`` and ``name`` come only with a call's first one."""
    index = fragment.get("index")
    call_id = fragment.get("id")
    if not isinstance(index, int):
        # Servers that omit the index send each call whole; tell them apart by id.
        known = [i for i, c in calls.items() if call_id and c.id == call_id]
        index = known[0] if known else (len(calls) if call_id or not calls else position)
    partial = calls.setdefault(index, _PartialCall())
    if isinstance(call_id, str) and call_id and not partial.id:
        partial.id = call_id
    function = fragment.get("function")
    if isinstance(function, dict):
        name = function.get("name")
        if isinstance(name, str) and name and not partial.name:
            partial.name = name
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            partial.arguments.append(arguments)
        elif isinstance(arguments, dict):
            partial.arguments.append(json.dumps(arguments))


def _finish_call(index: int, partial: _PartialCall) -> ToolCall:
    raw = "".join(partial.arguments)
    call_id = partial.id or f"call_{uuid.uuid4().hex[:24]}"
    arguments, error = parse_tool_arguments(raw)
    if not partial.name:
        error = error or f"tool call #{index} came without a tool name"
    return ToolCall(id=call_id, name=partial.name, arguments=arguments, arguments_error=error)


def parse_tool_arguments(raw: str) -> tuple[dict[str, Any], str | None]:
    """Parse a tool call's JSON arguments: ``({...}, None)`` or ``({}, "what is wrong")``."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        snippet = raw if len(raw) <= 200 else raw[:200] + "…"
        return {}, f"the tool arguments are not valid JSON ({exc}): {snippet}"
    except RecursionError:
        return {}, "the tool arguments are nested too deeply to parse"
    if not isinstance(value, dict):
        return {}, f"the tool arguments must be a JSON object, not {type(value).__name__}"
    return value, None


def _usage_report(usage: dict[str, Any]) -> UsageReport:
    prompt_details = usage.get("prompt_tokens_details")
    completion_details = usage.get("completion_tokens_details")
    prompt_details = prompt_details if isinstance(prompt_details, dict) else {}
    completion_details = completion_details if isinstance(completion_details, dict) else {}
    cached = _int(prompt_details.get("cached_tokens")) or _int(usage.get("prompt_cache_hit_tokens"))
    cost = usage.get("cost")
    return UsageReport(
        usage=Usage(
            input_tokens=_int(usage.get("prompt_tokens")),
            output_tokens=_int(usage.get("completion_tokens")),
            cached_input_tokens=cached,
            cache_write_tokens=_int(prompt_details.get("cache_write_tokens")),
            reasoning_tokens=_int(completion_details.get("reasoning_tokens")),
        ),
        cost_usd=float(cost)
        if isinstance(cost, int | float) and not isinstance(cost, bool)
        else None,
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
