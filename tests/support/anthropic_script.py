"""Builders of Anthropic Messages SSE bodies, in the shape the real API streams them."""

from __future__ import annotations

import json
from typing import Any

from tests.support.scripted_server import ScriptedResponse


def _event(name: str, body: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + json.dumps(body).encode() + b"\n\n"


def anthropic_error_event(
    error_type: str = "overloaded_error", message: str = "Overloaded"
) -> bytes:
    """An in-stream ``error`` event, as sent instead of the rest of the answer."""
    return _event("error", {"type": "error", "error": {"type": error_type, "message": message}})


def anthropic_chunks(
    text: str = "",
    tool_calls: list[dict[str, Any]] | None = None,
    *,
    thinking: str | None = None,
    signature: str = "sig-test",
    chunk_size: int = 8,
    arg_fragment: int = 5,
    input_tokens: int = 10,
    output_tokens: int | None = None,
    cache_read: int = 0,
    cache_write: int = 0,
    stop_reason: str | None = None,
    model: str = "claude-test",
    message_stop: bool = True,
) -> list[bytes]:
    """The SSE chunks of one streamed answer: an optional thinking block, a text block in
    ``chunk_size`` pieces, then one tool_use block per call (``{"id", "name", "arguments":
    dict|str}``) with ``arg_fragment``-sized ``input_json_delta``s, message_delta and
    message_stop (left out with ``message_stop=False``)."""
    usage = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "output_tokens": 1,
    }
    out = [
        _event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_test",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": usage,
                },
            },
        )
    ]
    index = 0
    if thinking is not None:
        out.append(
            _event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "thinking", "thinking": ""},
                },
            )
        )
        for i in range(0, len(thinking), chunk_size):
            out.append(
                _event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {
                            "type": "thinking_delta",
                            "thinking": thinking[i : i + chunk_size],
                        },
                    },
                )
            )
        out.append(
            _event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "signature_delta", "signature": signature},
                },
            )
        )
        out.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    if text:
        out.append(
            _event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
        )
        out.append(_event("ping", {"type": "ping"}))
        for i in range(0, len(text), chunk_size):
            out.append(
                _event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": text[i : i + chunk_size]},
                    },
                )
            )
        out.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    for call in tool_calls or []:
        args = call["arguments"]
        raw = args if isinstance(args, str) else json.dumps(args)
        out.append(
            _event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": call["id"],
                        "name": call["name"],
                        "input": {},
                    },
                },
            )
        )
        out.append(
            _event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": ""},
                },
            )
        )
        for j in range(0, len(raw), arg_fragment):
            out.append(
                _event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {
                            "type": "input_json_delta",
                            "partial_json": raw[j : j + arg_fragment],
                        },
                    },
                )
            )
        out.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    reason = stop_reason or ("tool_use" if tool_calls else "end_turn")
    produced = output_tokens if output_tokens is not None else max(1, len(text) // 4)
    out.append(
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": None},
                "usage": {"output_tokens": produced},
            },
        )
    )
    if message_stop:
        out.append(_event("message_stop", {"type": "message_stop"}))
    return out


def anthropic_answer(
    text: str = "", tool_calls: list[dict[str, Any]] | None = None, **kwargs: Any
) -> ScriptedResponse:
    """A whole scripted 200 response for one model turn."""
    delay = kwargs.pop("delay_s", 0.0)
    cut = kwargs.pop("cut", False)
    return ScriptedResponse(
        chunks=anthropic_chunks(text, tool_calls, **kwargs), delay_s=delay, cut=cut
    )
