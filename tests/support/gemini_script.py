"""Builders of Gemini ``streamGenerateContent?alt=sse`` bodies, as the real API sends them.

Gemini frames its events with CRLF, sends ``functionCall`` parts whole (no call
ids), repeats a growing ``usageMetadata`` on every chunk, and has no terminal
event: the last chunk carries ``finishReason``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.scripted_server import ScriptedResponse


def gemini_chunk(
    parts: list[dict[str, Any]],
    *,
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
    crlf: bool = True,
    model: str = "gemini-test",
) -> bytes:
    """One ``data:`` event holding a GenerateContentResponse with these parts."""
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {
        "candidates": [candidate],
        "modelVersion": model,
        "responseId": "resp-test",
    }
    if usage is not None:
        body["usageMetadata"] = usage
    end = b"\r\n\r\n" if crlf else b"\n\n"
    return b"data: " + json.dumps(body).encode() + end


def gemini_error_chunk(
    code: int = 500, status: str = "INTERNAL", message: str = "An internal error has occurred."
) -> bytes:
    """An error object arriving inside a 200 stream."""
    body = {"error": {"code": code, "message": message, "status": status}}
    return b"data: " + json.dumps(body).encode() + b"\r\n\r\n"


def gemini_chunks(
    text: str = "",
    tool_calls: list[dict[str, Any]] | None = None,
    *,
    thought: str | None = None,
    chunk_size: int = 8,
    prompt_tokens: int = 10,
    candidates_tokens: int | None = None,
    thoughts_tokens: int | None = None,
    cached_tokens: int | None = None,
    finish: str | None = "STOP",
    crlf: bool = True,
) -> list[bytes]:
    """The SSE chunks of one streamed answer: an optional thought summary, text in
    ``chunk_size`` pieces, then one chunk per tool call (``{"name", "arguments": dict,
    "thought_signature"?: str}``); the last chunk carries ``finish`` (None: no
    finishReason at all, a truncated stream) and the final usage."""
    candidates = candidates_tokens if candidates_tokens is not None else max(1, len(text) // 4)
    partial = {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens}
    final: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt_tokens + candidates + (thoughts_tokens or 0),
    }
    if thoughts_tokens is not None:
        final["thoughtsTokenCount"] = thoughts_tokens
    if cached_tokens is not None:
        final["cachedContentTokenCount"] = cached_tokens
    groups: list[list[dict[str, Any]]] = []
    if thought:
        groups.append([{"text": thought, "thought": True}])
    groups += [[{"text": text[i : i + chunk_size]}] for i in range(0, len(text), chunk_size)]
    for call in tool_calls or []:
        part: dict[str, Any] = {
            "functionCall": {"name": call["name"], "args": call.get("arguments", {})}
        }
        if call.get("thought_signature"):
            part["thoughtSignature"] = call["thought_signature"]
        groups.append([part])
    if not groups:
        groups.append([{"text": ""}])
    out = [gemini_chunk(parts, usage=partial, crlf=crlf) for parts in groups[:-1]]
    out.append(gemini_chunk(groups[-1], finish=finish, usage=final, crlf=crlf))
    return out


def gemini_answer(
    text: str = "", tool_calls: list[dict[str, Any]] | None = None, **kwargs: Any
) -> ScriptedResponse:
    """A whole scripted 200 response for one model turn."""
    delay = kwargs.pop("delay_s", 0.0)
    cut = kwargs.pop("cut", False)
    return ScriptedResponse(
        chunks=gemini_chunks(text, tool_calls, **kwargs), delay_s=delay, cut=cut
    )
