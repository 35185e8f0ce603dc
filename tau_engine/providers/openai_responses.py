"""The OpenAI Responses API client (``POST {base_url}/responses``, streamed).

For OpenAI models that only speak this API. ``build_responses_body`` maps a
neutral ``ProviderRequest`` onto ``input`` items (messages, ``function_call``
and ``function_call_output``), ``ResponsesStreamParser`` turns the typed
``response.*`` events into ``ProviderEvent``s, and ``OpenAIResponsesProvider``
does the HTTP. Nothing is stored server side (``store: false``): every call
sends the whole conversation, as with the other providers.
"""

from __future__ import annotations

import json
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

MISSING_RESULT_TEXT = "No result was recorded for this tool call."
_INCOMPLETE_REASONS = {"max_output_tokens": "max_tokens", "content_filter": "content_filter"}
_THINKING_DELTAS = {"response.reasoning_summary_text.delta", "response.reasoning_text.delta"}


# -- request mapping ---------------------------------------------------------


def build_responses_body(request: ProviderRequest) -> dict[str, Any]:
    """The JSON body of one streamed Responses call."""
    system_parts = [request.system] if request.system else []
    system_parts += [m.content for m in request.messages if m.role == "system" and m.content]
    body: dict[str, Any] = {
        "model": request.model,
        "input": map_input(request.messages),
        "stream": True,
        "store": False,
    }
    if system_parts:
        body["instructions"] = "\n\n".join(system_parts)
    if request.tools:
        # strict defaults to true on this API, which would reject ordinary schemas.
        body["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": False,
            }
            for t in request.tools
        ]
    if request.max_output_tokens is not None:
        body["max_output_tokens"] = request.max_output_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    return body


def map_input(messages: list[Message]) -> list[dict[str, Any]]:
    """Map neutral messages onto Responses ``input`` items.

    Every ``function_call`` needs its ``function_call_output`` and vice versa:
    an unanswered call gets an error output before the conversation moves on,
    and a result with no matching call is sent as user text.
    """
    items: list[dict[str, Any]] = []
    unanswered: list[str] = []  # call ids of the last assistant message still without output
    open_calls: set[str] = set()
    stray: list[dict[str, Any]] = []  # results without a call, sent after the outputs

    def close_calls() -> None:
        nonlocal unanswered, stray
        items.extend(
            {"type": "function_call_output", "call_id": call_id, "output": MISSING_RESULT_TEXT}
            for call_id in unanswered
        )
        items.extend(stray)
        unanswered, stray = [], []

    for message in messages:
        if message.role == "system":
            continue  # folded into instructions
        if message.role == "assistant":
            close_calls()
            if message.content.strip():
                items.append({"role": "assistant", "content": message.content})
            for call in message.tool_calls:
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call.id,
                        "name": call.name,
                        "arguments": json.dumps(call.arguments),
                    }
                )
            open_calls = {tc.id for tc in message.tool_calls}
            unanswered = [tc.id for tc in message.tool_calls]
        elif message.role == "tool":
            call_id = message.tool_call_id or ""
            if call_id in unanswered:
                unanswered.remove(call_id)
                items.append(
                    {"type": "function_call_output", "call_id": call_id, "output": message.content}
                )
            elif message.content and call_id not in open_calls:
                label = message.name or call_id or "tool"
                stray.append({"role": "user", "content": f"[result of {label}]\n{message.content}"})
        elif message.content:
            close_calls()
            items.append({"role": "user", "content": message.content})
    if stray or (messages and messages[-1].role != "assistant"):
        close_calls()
    return items


# -- stream parsing ----------------------------------------------------------


@dataclass
class _PendingCall:
    call_id: str
    name: str
    parts: list[str] = field(default_factory=list)
    arguments: str | None = None  # the complete string, once a ``done`` event gave it


class ResponsesStreamParser:
    """Turns the ``response.*`` events of one stream into ``ProviderEvent``s.

    ``handle`` takes one event's JSON object and sets ``done`` on the terminal
    event (``response.completed`` or ``response.incomplete``); ``finish``
    raises if the stream ended before one.
    """

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.done = False
        self.output_seen = False
        self._pending: dict[str, _PendingCall] = {}  # by item id
        self._by_index: dict[int, str] = {}  # output_index -> item id
        self._emitted: set[str] = set()  # call ids already reported
        self._refusal: list[str] = []

    def handle(self, event: dict[str, Any]) -> list[ProviderEvent]:
        kind = event.get("type")
        if kind == "response.output_text.delta":
            text = str(event.get("delta", ""))
            if text:
                self.output_seen = True
                return [TextChunk(text)]
        elif kind in _THINKING_DELTAS:
            text = str(event.get("delta", ""))
            if text:
                self.output_seen = True
                return [ThinkingChunk(text)]
        elif kind == "response.refusal.delta":
            self.output_seen = True
            self._refusal.append(str(event.get("delta", "")))
        elif kind == "response.output_item.added":
            self._item_added(event)
        elif kind == "response.function_call_arguments.delta":
            pending = self._find(event)
            if pending is not None:
                pending.parts.append(str(event.get("delta", "")))
        elif kind == "response.function_call_arguments.done":
            pending = self._find(event)
            if pending is not None and isinstance(event.get("arguments"), str):
                pending.arguments = event["arguments"]
        elif kind == "response.output_item.done":
            return self._item_done(event)
        elif kind in ("response.completed", "response.incomplete"):
            return self._terminal(event.get("response") or {})
        elif kind in ("error", "response.failed"):
            raise classify_stream_error(event, self.provider, partial_output=self.output_seen)
        return []

    def complete(self, body: Any) -> list[ProviderEvent]:
        """The events of a whole ``response`` object (what a non-streamed call returns):
        its output items become the deltas the stream would have carried, then the
        terminal event closes it as ``response.completed`` would."""
        if isinstance(body, dict) and (
            body.get("type") == "error" or body.get("error") or body.get("status") == "failed"
        ):
            raise classify_stream_error(body, self.provider, partial_output=False)
        if not isinstance(body, dict) or not isinstance(body.get("output"), list):
            raise unknown_json(self.provider, "a Responses API response", body)
        events: list[ProviderEvent] = []
        for item in body["output"]:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "reasoning":
                for part in item.get("summary") or []:
                    if isinstance(part, dict):
                        events += self.handle(
                            {
                                "type": "response.reasoning_summary_text.delta",
                                "delta": part.get("text", ""),
                            }
                        )
            elif item.get("type") == "message":
                for part in item.get("content") or []:
                    if not isinstance(part, dict):
                        continue
                    if part.get("type") == "output_text":
                        events += self.handle(
                            {"type": "response.output_text.delta", "delta": part.get("text", "")}
                        )
                    elif part.get("type") == "refusal":
                        events += self.handle(
                            {"type": "response.refusal.delta", "delta": part.get("refusal", "")}
                        )
        return events + self.handle({"type": "response.completed", "response": body})

    def finish(self) -> None:
        """Raise if the stream ended before ``response.completed``/``response.incomplete``."""
        if not self.done:
            raise ProviderError(
                "the stream ended before response.completed",
                kind="stream",
                provider=self.provider,
                retryable=not self.output_seen,
                partial_output=self.output_seen,
            )

    def _item_added(self, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") != "function_call":
            return
        item_id = str(item.get("id") or item.get("call_id") or "")
        self._pending[item_id] = _PendingCall(
            call_id=str(item.get("call_id") or item_id), name=str(item.get("name", ""))
        )
        if isinstance(event.get("output_index"), int):
            self._by_index[event["output_index"]] = item_id

    def _find(self, event: dict[str, Any]) -> _PendingCall | None:
        item_id = event.get("item_id")
        if item_id is None and isinstance(event.get("output_index"), int):
            item_id = self._by_index.get(event["output_index"])
        return self._pending.get(str(item_id)) if item_id is not None else None

    def _item_done(self, event: dict[str, Any]) -> list[ProviderEvent]:
        item = event.get("item") or {}
        if item.get("type") != "function_call":
            return []
        item_id = str(item.get("id") or item.get("call_id") or "")
        pending = self._pending.pop(item_id, None)
        if pending is None:
            pending = _PendingCall(
                call_id=str(item.get("call_id") or item_id), name=str(item.get("name", ""))
            )
        raw = item.get("arguments")
        if not isinstance(raw, str):
            raw = pending.arguments if pending.arguments is not None else "".join(pending.parts)
        return self._ready(pending.call_id, str(item.get("name") or pending.name), raw)

    def _ready(self, call_id: str, name: str, raw: str) -> list[ProviderEvent]:
        if call_id in self._emitted:
            return []
        self._emitted.add(call_id)
        self.output_seen = True
        arguments, error = parse_tool_arguments(raw)
        return [
            ToolCallReady(
                ToolCall(id=call_id, name=name, arguments=arguments, arguments_error=error)
            )
        ]

    def _terminal(self, response: dict[str, Any]) -> list[ProviderEvent]:
        self.done = True
        events: list[ProviderEvent] = []
        # A call the stream never closed with output_item.done is still in the final output.
        for item in response.get("output") or []:
            if isinstance(item, dict) and item.get("type") == "function_call":
                events += self._ready(
                    str(item.get("call_id", "")),
                    str(item.get("name", "")),
                    str(item.get("arguments") or ""),
                )
        events.append(UsageReport(usage=_usage(response.get("usage") or {})))
        events.append(self._end(response))
        return events

    def _end(self, response: dict[str, Any]) -> StreamEnd:
        status = response.get("status")
        refusal = "".join(self._refusal) or None
        if status == "incomplete":
            reason = (response.get("incomplete_details") or {}).get("reason")
            stop = _INCOMPLETE_REASONS.get(str(reason), "max_tokens")
            if stop == "content_filter" and refusal is None:
                refusal = "OpenAI's content filter stopped the answer"
            return StreamEnd(stop, raw_reason=str(reason or status), refusal=refusal)
        if refusal is not None:
            return StreamEnd("refusal", raw_reason=str(status), refusal=refusal)
        stop = "tool_use" if self._emitted else "end_turn"
        return StreamEnd(stop, raw_reason=str(status) if status else None)


def _usage(usage: dict[str, Any]) -> Usage:
    input_details = usage.get("input_tokens_details") or {}
    output_details = usage.get("output_tokens_details") or {}
    return Usage(
        input_tokens=int(usage.get("input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
        cached_input_tokens=int(input_details.get("cached_tokens") or 0),
        reasoning_tokens=int(output_details.get("reasoning_tokens") or 0),
    )


# -- the client --------------------------------------------------------------


class OpenAIResponsesProvider(SSEProvider):
    """Streams OpenAI Responses API calls. Implements ``Provider``."""

    def __init__(
        self, *, name: str = "openai", base_url: str, api_key: str | None, **options: Any
    ) -> None:
        super().__init__(name=name, base_url=base_url, api_key=api_key, **options)
        self.url = f"{base_url.rstrip('/')}/responses"

    def auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._api_key}"}

    def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        """Stream one call; raises ``ProviderError`` on any failure."""
        return self.stream_parsed(
            self.url, build_responses_body(request), ResponsesStreamParser(self.name)
        )
