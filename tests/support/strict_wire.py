"""Strict request checks: what the strictest real servers refuse, per wire format.

Each ``*_problems(body)`` returns the reasons a real server would reject a request
body (empty when it would accept it); ``strict_responder`` turns one into a
``ScriptedServer.responder`` that answers a rejected request the way that server
does (a 400, or llama-cpp-python's 500) and lets an accepted one through to the
queued answers. The rules, and whose they are:

OpenAI-compatible chat completions
  * ``content`` is a string on every message: llama-cpp-python concatenates it
    into its chat template and answers ``null`` with a 500; vLLM and SGLang reject
    a message without the key.
  * An assistant message has text or tool calls (Mistral: "must have either
    content or tool_calls"); text is never whitespace only (gateways that
    translate to Anthropic: "text content blocks must contain non-whitespace text").
  * A user message has text (the same gateways: "all messages must have non-empty
    content").
  * One system message, first (llama.cpp's Jinja templates raise otherwise).
  * Tool calls have a non-empty ``id``, ``type: function``, a name, and JSON-object
    ``arguments`` in a string; every call is answered by a ``tool`` message right
    after its assistant message, and every ``tool`` message answers an open call
    (OpenAI: "An assistant message with 'tool_calls' must be followed by tool
    messages responding to each 'tool_call_id'", "messages with role 'tool' must
    be a response to a preceding message with 'tool_calls'").

Anthropic Messages
  * Roles alternate user/assistant and the first is user; no empty content list;
    text blocks are never empty or whitespace only.
  * ``tool_use`` ids match ``^[a-zA-Z0-9_-]+$`` and are unique; every ``tool_use``
    is answered by a ``tool_result`` at the start of the very next user message,
    and every ``tool_result`` answers a ``tool_use`` of the message before.
  * ``thinking`` blocks carry their ``signature``.

Gemini ``generateContent``
  * Roles are ``user`` and ``model``; every content has parts; a part holds exactly
    one of text/functionCall/functionResponse and text is not empty.
  * "The number of function response parts is equal to the number of function call
    parts of the function call turn", right after it, names matching; and "function
    call turn comes immediately after a user turn or after a function response turn".

Responses API
  * Every ``function_call`` is answered by a ``function_call_output`` ("No tool
    output found for function call ..."), every output answers an earlier call ("No
    tool call found for function call output ..."); message items have text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tests.support.scripted_server import RecordedRequest, ScriptedResponse

Check = Callable[[dict[str, Any]], list[str]]


def strict_responder(
    check: Check, *, status: int = 400
) -> Callable[[RecordedRequest], ScriptedResponse | None]:
    """A responder that rejects what ``check`` finds wrong and passes the rest on."""

    def respond(request: RecordedRequest) -> ScriptedResponse | None:
        problems = check(request.json or {})
        if not problems:
            return None
        code = 500 if any(p.startswith("500:") for p in problems) else status
        return ScriptedResponse.json(
            code,
            {
                "error": {
                    "message": "; ".join(p.removeprefix("500:") for p in problems),
                    "type": "invalid_request_error" if code == 400 else "server_error",
                }
            },
        )

    return respond


# -- OpenAI chat completions ------------------------------------------------------------------


def openai_chat_problems(body: dict[str, Any]) -> list[str]:
    """Why the strictest OpenAI-compatible servers would refuse ``body``."""
    problems: list[str] = []
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return ["messages must be a non-empty list"]
    open_calls: list[str] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        where = f"messages[{i}] ({role})"
        if "content" not in message:
            problems.append(f"{where}: content is required")
        content = message.get("content")
        if content is None and "content" in message:
            problems.append(f'500:{where}: can only concatenate str (not "NoneType") to str')
            content = ""
        if not isinstance(content, str):
            problems.append(f"{where}: content must be a string")
            content = ""
        if open_calls and role != "tool":
            problems.append(
                f"{where}: an assistant message with 'tool_calls' must be "
                f"followed by tool messages responding to each 'tool_call_id' "
                f"(missing: {', '.join(open_calls)})"
            )
            open_calls = []
        if role == "system":
            if i != 0:
                problems.append(f"{where}: System message must be at the beginning")
        elif role == "user":
            if not content.strip():
                problems.append(f"{where}: all messages must have non-empty content")
        elif role == "assistant":
            calls = message.get("tool_calls")
            if content and not content.strip():
                problems.append(f"{where}: text content blocks must contain non-whitespace text")
            if not calls and not content.strip():
                problems.append(
                    f"{where}: Assistant message must have either content or "
                    "tool_calls, but not none"
                )
            for call in calls or []:
                problems += _chat_call_problems(where, call)
                if isinstance(call.get("id"), str) and call["id"]:
                    open_calls.append(call["id"])
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in open_calls:
                problems.append(
                    f"{where}: messages with role 'tool' must be a response to a "
                    f"preceding message with 'tool_calls' ({call_id!r})"
                )
            else:
                open_calls.remove(call_id)
        else:
            problems.append(f"{where}: unknown role")
    if open_calls:
        problems.append(
            f"the last assistant message's tool calls have no response: {', '.join(open_calls)}"
        )
    return problems


def _chat_call_problems(where: str, call: Any) -> list[str]:
    if not isinstance(call, dict):
        return [f"{where}: a tool call must be an object"]
    problems = []
    if not isinstance(call.get("id"), str) or not call["id"]:
        problems.append(f"500:{where}: tool call id must be a non-empty string")
    if call.get("type") != "function":
        problems.append(f"{where}: tool call type must be 'function'")
    function = call.get("function") or {}
    if not function.get("name"):
        problems.append(f"{where}: tool call has no function name")
    arguments = function.get("arguments")
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        problems.append(f"{where}: function.arguments must be a JSON object in a string")
    return problems


# -- Anthropic Messages -------------------------------------------------------------------------

_TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")


def anthropic_problems(body: dict[str, Any]) -> list[str]:
    """Why the Messages API would refuse ``body``."""
    problems: list[str] = []
    messages = body.get("messages") or []
    if not messages or messages[0].get("role") != "user":
        problems.append("messages: the first message must use the user role")
    seen_ids: set[str] = set()
    previous_calls: list[str] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        where = f"messages.{i}"
        if role not in ("user", "assistant"):
            problems.append(f"{where}: role must be user or assistant")
        if i and messages[i - 1].get("role") == role:
            problems.append(f"{where}: roles must alternate between user and assistant")
        blocks = message.get("content")
        if isinstance(blocks, str):
            blocks = [{"type": "text", "text": blocks}]
        if not blocks:
            problems.append(f"{where}: all messages must have non-empty content")
            blocks = []
        results = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        if role == "user":
            leading = [
                b.get("tool_use_id")
                for b in blocks[: len(previous_calls)]
                if b.get("type") == "tool_result"
            ]
            if previous_calls and sorted(leading) != sorted(previous_calls):
                problems.append(
                    f"{where}: tool_use ids were found without tool_result blocks "
                    f"immediately after: {previous_calls}"
                )
            for result in results:
                if result not in previous_calls:
                    problems.append(
                        f"{where}: unexpected tool_use_id found in tool_result blocks: {result}"
                    )
            previous_calls = []
        elif previous_calls:
            problems.append(
                f"{where}: tool_use ids were found without tool_result blocks "
                f"immediately after: {previous_calls}"
            )
            previous_calls = []
        for block in blocks:
            problems += _anthropic_block_problems(where, role, block, seen_ids)
        if role == "assistant":
            previous_calls = [b["id"] for b in blocks if b.get("type") == "tool_use"]
    if previous_calls:
        problems.append(f"tool_use ids were found without tool_result blocks: {previous_calls}")
    return problems


def _anthropic_block_problems(
    where: str, role: str | None, block: dict[str, Any], seen_ids: set[str]
) -> list[str]:
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        if not isinstance(text, str) or not text.strip():
            return [f"{where}: text content blocks must contain non-whitespace text"]
    elif kind == "tool_use":
        call_id = str(block.get("id", ""))
        problems = []
        if role != "assistant":
            problems.append(f"{where}: tool_use blocks belong to assistant messages")
        if not _TOOL_ID.match(call_id):
            problems.append(
                f"{where}: tool_use.id: String should match pattern "
                f"'^[a-zA-Z0-9_-]+$' ({call_id!r})"
            )
        if call_id in seen_ids:
            problems.append(f"{where}: tool_use ids must be unique ({call_id})")
        seen_ids.add(call_id)
        if not isinstance(block.get("input"), dict):
            problems.append(f"{where}: tool_use.input must be an object")
        return problems
    elif kind == "tool_result":
        if role != "user":
            return [f"{where}: tool_result blocks belong to user messages"]
    elif kind == "thinking":
        if not block.get("signature"):
            return [f"{where}: thinking.signature: Field required"]
    elif kind != "redacted_thinking":
        return [f"{where}: unknown content block type {kind!r}"]
    return []


# -- Gemini -----------------------------------------------------------------------------------

_PART_FIELDS = ("text", "functionCall", "functionResponse")


def gemini_problems(body: dict[str, Any]) -> list[str]:
    """Why ``generateContent`` would refuse ``body``."""
    problems: list[str] = []
    contents = body.get("contents") or []
    if not contents:
        return ["contents is not specified"]
    pending: list[str] = []  # names of the last model turn's function calls
    for i, content in enumerate(contents):
        role = content.get("role")
        where = f"contents[{i}]"
        parts = content.get("parts") or []
        if role not in ("user", "model"):
            problems.append(f"{where}: role must be user or model")
        if not parts:
            problems.append(f"{where}: contents.parts must not be empty")
        for part in parts:
            present = [f for f in _PART_FIELDS if f in part]
            if len(present) != 1:
                problems.append(f"{where}: a part holds exactly one kind of data: {present}")
            if "text" in part and not part["text"]:
                problems.append(
                    f"{where}: Unable to submit request because it has an empty text parameter"
                )
        calls = [p["functionCall"]["name"] for p in parts if "functionCall" in p]
        responses = [p["functionResponse"]["name"] for p in parts if "functionResponse" in p]
        if pending:
            if role != "user" or sorted(responses) != sorted(pending):
                problems.append(
                    f"{where}: Please ensure that the number of function response "
                    "parts is equal to the number of function call parts of the "
                    "function call turn"
                )
            pending = []
        elif responses:
            problems.append(f"{where}: a function response with no function call turn before")
        if calls:
            before = contents[i - 1] if i else None
            if role != "model" or before is None or before.get("role") != "user":
                problems.append(
                    f"{where}: Please ensure that function call turn comes "
                    "immediately after a user turn or after a function response "
                    "turn"
                )
            pending = calls
    if pending:
        problems.append("the last function call turn has no function responses")
    return problems


# -- Responses API ----------------------------------------------------------------------------


def responses_problems(body: dict[str, Any]) -> list[str]:
    """Why the Responses API would refuse ``body`` (sent with ``store: false``)."""
    problems: list[str] = []
    calls: set[str] = set()
    answered: set[str] = set()
    for i, item in enumerate(body.get("input") or []):
        where = f"input[{i}]"
        kind = item.get("type", "message")
        if kind == "function_call":
            calls.add(str(item.get("call_id")))
            try:
                json.loads(item.get("arguments") or "")
            except ValueError:
                problems.append(f"{where}: arguments must be JSON")
        elif kind == "function_call_output":
            call_id = str(item.get("call_id"))
            if call_id not in calls:
                problems.append(
                    f"{where}: No tool call found for function call output with call_id {call_id}"
                )
            answered.add(call_id)
        elif kind == "message":
            if item.get("role") not in ("user", "assistant", "system", "developer"):
                problems.append(f"{where}: unknown role")
            content = item.get("content")
            if not content or (isinstance(content, str) and not content.strip()):
                problems.append(f"{where}: message content must not be empty")
    for call_id in sorted(calls - answered):
        problems.append(f"No tool output found for function call {call_id}")
    return problems
