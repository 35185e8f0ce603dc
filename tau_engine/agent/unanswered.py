"""Answering tool calls that a history left without a result.

A process killed (``kill -9``, a closed terminal) while its tools ran leaves
the assistant's tool calls in the session with no result after them. Every
provider requires each call to be answered before the conversation goes on:
OpenAI-compatible servers reject such a history with a 400, Anthropic and
Gemini likewise. So when a history is loaded for a request, each unanswered
call gets a result saying it was interrupted, placed right after the results
its assistant message did get, in the provider-neutral form that every wire
format maps from.

The synthesized results exist only in the request view; the stored session is
not changed (a call may sit mid-history, where nothing can be appended).
"""

from __future__ import annotations

from tau_engine.conversation import Message

INTERRUPTED_RESULT = (
    "interrupted: tau stopped (the process was killed or its terminal closed) before this "
    "tool call returned a result; it may have run in part or not at all. Check its effects "
    "before relying on them."
)


def interrupted_result(call_id: str, name: str) -> Message:
    """The error result that stands in for a call that never got one."""
    return Message(
        role="tool",
        tool_call_id=call_id,
        name=name,
        content=INTERRUPTED_RESULT,
        is_error=True,
        meta={"interrupted": True, "synthesized": True},
    )


def answer_unanswered_calls(messages: list[Message]) -> list[Message]:
    """``messages`` with an interrupted result after every tool call that has none.

    A call counts as answered by a ``tool`` message with its id among the
    messages that directly follow its assistant message. Returns the same list
    object when nothing is missing, so the common case costs one pass and no copy.
    """
    out: list[Message] | None = None
    index = 0
    count = len(messages)
    while index < count:
        message = messages[index]
        if message.role != "assistant" or not message.tool_calls:
            if out is not None:
                out.append(message)
            index += 1
            continue
        answered: set[str | None] = set()
        end = index + 1
        while end < count and messages[end].role == "tool":
            answered.add(messages[end].tool_call_id)
            end += 1
        missing = [call for call in message.tool_calls if call.id not in answered]
        if missing and out is None:
            out = list(messages[:index])
        if out is not None:
            out.extend(messages[index:end])
            out.extend(interrupted_result(call.id, call.name) for call in missing)
        index = end
    return messages if out is None else out
