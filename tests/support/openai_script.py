"""Builders of OpenAI chat-completions SSE bodies, as the real API sends them."""

from __future__ import annotations

import json
from typing import Any

from tests.support.scripted_server import ScriptedResponse

_BASE = {
    "id": "chatcmpl-test",
    "object": "chat.completion.chunk",
    "created": 1700000000,
    "model": "gpt-test",
    "system_fingerprint": "fp_test",
}


def _chunk(
    delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, Any] | None = None
) -> bytes:
    body: dict[str, Any] = dict(_BASE)
    body["choices"] = (
        []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    )
    if usage is not None:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def openai_chunks(
    text: str = "",
    tool_calls: list[dict[str, Any]] | None = None,
    *,
    chunk_size: int = 8,
    arg_fragment: int = 5,
    prompt_tokens: int = 10,
    completion_tokens: int | None = None,
    finish: str | None = None,
    done: bool = True,
    usage: bool = True,
    finish_chunk: bool = True,
) -> list[bytes]:
    """The SSE chunks of one streamed answer: text in ``chunk_size`` pieces, then tool
    calls (``{"id", "name", "arguments": dict|str}``) split into ``arg_fragment``-sized
    argument fragments, a finish chunk, a usage-only chunk and ``[DONE]``.
    ``finish_chunk=False`` leaves out the chunk carrying ``finish_reason``."""
    out = [_chunk({"role": "assistant", "content": ""})]
    for i in range(0, len(text), chunk_size):
        out.append(_chunk({"content": text[i : i + chunk_size]}))
    for index, call in enumerate(tool_calls or []):
        args = call["arguments"]
        raw = args if isinstance(args, str) else json.dumps(args)
        out.append(
            _chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["name"], "arguments": ""},
                        }
                    ]
                }
            )
        )
        for j in range(0, len(raw), arg_fragment):
            out.append(
                _chunk(
                    {
                        "tool_calls": [
                            {"index": index, "function": {"arguments": raw[j : j + arg_fragment]}}
                        ]
                    }
                )
            )
    reason = finish or ("tool_calls" if tool_calls else "stop")
    if finish_chunk:
        out.append(_chunk({}, finish=reason))
    if usage:
        completion = completion_tokens if completion_tokens is not None else max(1, len(text) // 4)
        out.append(
            _chunk(
                None,
                usage={
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion,
                    "total_tokens": prompt_tokens + completion,
                },
            )
        )
    if done:
        out.append(b"data: [DONE]\n\n")
    return out


def openai_answer(
    text: str = "", tool_calls: list[dict[str, Any]] | None = None, **kwargs: Any
) -> ScriptedResponse:
    """A whole scripted 200 response for one model turn."""
    delay = kwargs.pop("delay_s", 0.0)
    cut = kwargs.pop("cut", False)
    return ScriptedResponse(
        chunks=openai_chunks(text, tool_calls, **kwargs), delay_s=delay, cut=cut
    )
