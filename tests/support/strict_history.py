"""A strict check of a Chat Completions history, as OpenAI applies it.

OpenAI answers 400 when an assistant message's ``tool_calls`` are not each
followed by a ``tool`` message with that id before the next non-tool message,
or when a ``tool`` message answers no preceding call. ``strict_openai`` wraps a
scripted server's queue so that such a history gets that 400, with the error
body the real API sends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.scripted_server import RecordedRequest, ScriptedResponse, ScriptedServer


def history_problem(messages: list[dict[str, Any]]) -> str | None:
    """What OpenAI would reject in ``messages``, or None when it is well formed."""
    index = 0
    while index < len(messages):
        message = messages[index]
        index += 1
        if message.get("role") == "tool":
            return (
                f"Invalid parameter: messages with role 'tool' must be a response to a "
                f"preceeding message with 'tool_calls' (messages.[{index - 1}])"
            )
        calls = [c["id"] for c in message.get("tool_calls") or []]
        if message.get("role") != "assistant" or not calls:
            continue
        answered = set()
        while index < len(messages) and messages[index].get("role") == "tool":
            call_id = messages[index].get("tool_call_id")
            if call_id not in calls:
                return (
                    f"Invalid parameter: messages with role 'tool' must be a response to "
                    f"a preceeding message with 'tool_calls' (messages.[{index}])"
                )
            answered.add(call_id)
            index += 1
        missing = [c for c in calls if c not in answered]
        if missing:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not "
                f"have response messages: {', '.join(missing)}"
            )
    return None


Responder = Callable[[RecordedRequest], ScriptedResponse | None]


def strict_openai(server: ScriptedServer, answer: Responder | None = None) -> list[str]:
    """Make ``server`` reject malformed histories with a 400, and answer the others with
    ``answer`` (else its queue); returns the list of rejections it sent."""
    rejected: list[str] = []

    def respond(request: RecordedRequest) -> ScriptedResponse | None:
        body = request.json or {}
        problem = history_problem(body.get("messages") or [])
        if problem is None:
            return answer(request) if answer is not None else None
        rejected.append(problem)
        return ScriptedResponse.json(
            400,
            {
                "error": {
                    "message": problem,
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": None,
                }
            },
        )

    server.responder = respond
    return rejected
