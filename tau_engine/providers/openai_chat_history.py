"""How a conversation goes out on the Chat Completions wire.

Kept apart from the client (``openai_chat``) because it is where servers differ
most: the history must be in the shape the strictest OpenAI-compatible servers
accept (llama-cpp-python, vLLM, llama.cpp's templates, Mistral, gateways that
translate to Anthropic; see docs/providers.md and tests/support/strict_wire.py).
"""

from __future__ import annotations

import json
from typing import Any

from tau_engine.providers.base import ProviderRequest

# Sent for a tool call the conversation has no result for (a crash mid-call): every
# OpenAI-compatible server rejects a tool call that is not answered before the next turn.
MISSING_RESULT_TEXT = "No result was recorded for this tool call."


def chat_messages(request: ProviderRequest) -> list[dict[str, Any]]:
    """Map the system prompt and the conversation onto Chat Completions messages, in
    the shape the strictest OpenAI-compatible servers accept (docs/providers.md):

    * one system message, first: system messages from the history are folded into it
      (llama.cpp's chat templates reject a system message anywhere else);
    * beside tool calls with no text, ``content`` is ``""``: llama-cpp-python answers
      ``null`` with a 500, and vLLM rejects a message without ``content``;
      whitespace-only text counts as none;
    * an assistant message with neither text nor tool calls is left out (Mistral and
      others reject it), and so is a user message with no text;
    * every tool call is answered, right after its message, before anything else: a
      call with no result gets an error result, and a result whose call is not open
      is sent as user text (OpenAI rejects both shapes).
    """
    system = [request.system] if request.system.strip() else []
    system += [m.content for m in request.messages if m.role == "system" and m.content.strip()]
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": "\n\n".join(system)})
    unanswered: list[str] = []  # call ids of the last assistant message still without result
    stray: list[str] = []  # results without an open call, sent as user text after the results

    def close_calls() -> None:
        nonlocal unanswered, stray
        out.extend(
            {"role": "tool", "tool_call_id": call_id, "content": MISSING_RESULT_TEXT}
            for call_id in unanswered
        )
        if stray:
            out.append({"role": "user", "content": "\n\n".join(stray)})
        unanswered, stray = [], []

    for message in request.messages:
        if message.role == "tool":
            call_id = message.tool_call_id or ""
            if call_id in unanswered:
                unanswered.remove(call_id)
                out.append({"role": "tool", "tool_call_id": call_id, "content": message.content})
            elif message.content.strip():
                label = message.name or call_id or "tool"
                if unanswered:
                    stray.append(f"[result of {label}]\n{message.content}")
                else:
                    out.append(
                        {"role": "user", "content": f"[result of {label}]\n{message.content}"}
                    )
            continue
        if message.role == "system":
            continue  # folded into the first message
        text = message.content if message.content.strip() else ""
        if message.role == "assistant":
            if not text and not message.tool_calls:
                continue  # an interrupted turn can leave an empty answer
            close_calls()
            wire: dict[str, Any] = {"role": "assistant", "content": text}
            if message.tool_calls:
                wire["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                    }
                    for call in message.tool_calls
                ]
                unanswered = [call.id for call in message.tool_calls]
            out.append(wire)
        elif text:
            close_calls()
            out.append({"role": message.role, "content": message.content})
    close_calls()
    return out
