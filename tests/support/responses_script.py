"""Builders of OpenAI Responses API SSE bodies, as the real API streams them."""

from __future__ import annotations

import json
from typing import Any

from tests.support.scripted_server import ScriptedResponse

_RESPONSE = {
    "id": "resp_test",
    "object": "response",
    "created_at": 1700000000,
    "model": "gpt-test",
    "error": None,
    "incomplete_details": None,
}


def _event(body: dict[str, Any]) -> bytes:
    return (
        b"event: " + str(body["type"]).encode() + b"\ndata: " + json.dumps(body).encode() + b"\n\n"
    )


def _response(status: str, **fields: Any) -> dict[str, Any]:
    return {**_RESPONSE, "status": status, "output": [], "usage": None, **fields}


def responses_error_events(
    code: str = "server_error", message: str = "The server had an error."
) -> list[bytes]:
    """An in-stream ``error`` event and the ``response.failed`` that follows it."""
    error = {"type": code, "code": code, "message": message, "param": None}
    return [
        _event({"type": "error", "error": error}),
        _event(
            {
                "type": "response.failed",
                "response": _response("failed", error={"code": code, "message": message}),
            }
        ),
    ]


def responses_chunks(
    text: str = "",
    tool_calls: list[dict[str, Any]] | None = None,
    *,
    chunk_size: int = 8,
    arg_fragment: int = 5,
    input_tokens: int = 10,
    output_tokens: int | None = None,
    cached_tokens: int = 0,
    reasoning_tokens: int = 0,
    incomplete_reason: str | None = None,
    completed: bool = True,
) -> list[bytes]:
    """The SSE events of one streamed answer: created, a message item with text in
    ``chunk_size`` deltas, one function_call item per call (``{"id", "name", "arguments":
    dict|str}``) with ``arg_fragment``-sized argument deltas, then ``response.completed``
    (``response.incomplete`` when ``incomplete_reason`` is set; neither when
    ``completed=False``)."""
    out = [_event({"type": "response.created", "response": _response("in_progress")})]
    output: list[dict[str, Any]] = []
    index = 0
    if text:
        item_id = "msg_test"
        out.append(
            _event(
                {
                    "type": "response.output_item.added",
                    "output_index": index,
                    "item": {
                        "type": "message",
                        "id": item_id,
                        "status": "in_progress",
                        "role": "assistant",
                        "content": [],
                    },
                }
            )
        )
        for i in range(0, len(text), chunk_size):
            out.append(
                _event(
                    {
                        "type": "response.output_text.delta",
                        "item_id": item_id,
                        "output_index": index,
                        "content_index": 0,
                        "delta": text[i : i + chunk_size],
                    }
                )
            )
        item = {
            "type": "message",
            "id": item_id,
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
        out.append(
            _event(
                {
                    "type": "response.output_text.done",
                    "item_id": item_id,
                    "output_index": index,
                    "content_index": 0,
                    "text": text,
                }
            )
        )
        out.append(
            _event({"type": "response.output_item.done", "output_index": index, "item": item})
        )
        output.append(item)
        index += 1
    for n, call in enumerate(tool_calls or []):
        args = call["arguments"]
        raw = args if isinstance(args, str) else json.dumps(args)
        item_id = f"fc_test_{n}"
        out.append(
            _event(
                {
                    "type": "response.output_item.added",
                    "output_index": index,
                    "item": {
                        "type": "function_call",
                        "id": item_id,
                        "call_id": call["id"],
                        "name": call["name"],
                        "arguments": "",
                        "status": "in_progress",
                    },
                }
            )
        )
        for j in range(0, len(raw), arg_fragment):
            out.append(
                _event(
                    {
                        "type": "response.function_call_arguments.delta",
                        "item_id": item_id,
                        "output_index": index,
                        "delta": raw[j : j + arg_fragment],
                    }
                )
            )
        out.append(
            _event(
                {
                    "type": "response.function_call_arguments.done",
                    "item_id": item_id,
                    "output_index": index,
                    "arguments": raw,
                }
            )
        )
        item = {
            "type": "function_call",
            "id": item_id,
            "call_id": call["id"],
            "name": call["name"],
            "arguments": raw,
            "status": "completed",
        }
        out.append(
            _event({"type": "response.output_item.done", "output_index": index, "item": item})
        )
        output.append(item)
        index += 1
    produced = output_tokens if output_tokens is not None else max(1, len(text) // 4)
    usage = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached_tokens},
        "output_tokens": produced,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + produced,
    }
    if not completed:
        return out
    if incomplete_reason is not None:
        out.append(
            _event(
                {
                    "type": "response.incomplete",
                    "response": _response(
                        "incomplete",
                        output=output,
                        usage=usage,
                        incomplete_details={"reason": incomplete_reason},
                    ),
                }
            )
        )
    else:
        out.append(
            _event(
                {
                    "type": "response.completed",
                    "response": _response("completed", output=output, usage=usage),
                }
            )
        )
    return out


def responses_answer(
    text: str = "", tool_calls: list[dict[str, Any]] | None = None, **kwargs: Any
) -> ScriptedResponse:
    """A whole scripted 200 response for one model turn."""
    delay = kwargs.pop("delay_s", 0.0)
    cut = kwargs.pop("cut", False)
    return ScriptedResponse(
        chunks=responses_chunks(text, tool_calls, **kwargs), delay_s=delay, cut=cut
    )
