"""Context compaction: keep a long session inside the model's context window.

When a request would pass ``compaction_threshold`` of the context window (or
the provider answers with a context-length error, or the user asks with
``/compact``), the older turns are summarized by the model into one
*compaction message*, and later requests send that summary plus the turns
after it instead of the whole history.

What survives verbatim: the system prompt (it is never part of the history),
identity and guidance files (they live in the system prompt), any message
marked ``meta["pinned"]`` (a mission's task and verifier), and the last
``keep_recent_turns`` user turns with everything after them.

Nothing is lost: the compaction message is appended to the session's DAG like
any other message (``meta["compaction"]`` holds the id of the first message
kept verbatim), and the messages it stands for stay in the store; only the
*request view* (``request_view``) skips them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from tau_engine.agent.unanswered import answer_unanswered_calls
from tau_engine.conversation import Message, StoredMessage, ToolSpec, Usage
from tau_engine.errors import ProviderError
from tau_engine.providers.base import (
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    UsageReport,
)

# Roughly four characters per token across the providers' tokenizers; used to decide
# *when* to compact, and to count a call whose server reports no usage (marked estimated).
CHARS_PER_TOKEN = 4
_SUMMARY_PROMPT = """Summarize the conversation so far for your own later use: it will replace
the older messages, which you will no longer see. Keep every fact needed to continue the work:
the user's goals and constraints, decisions made and why, files read or changed (with paths)
and what changed in them, commands run and their outcomes, errors met, and what remains to do.
Be concise and concrete; use short bullet points. Do not call tools."""


def estimate_tokens(system: str, messages: list[Message], tools: Sequence[ToolSpec] = ()) -> int:
    """A cheap upper-leaning estimate of a request's prompt size in tokens (the tool
    schemas count when given: they are sent with every request)."""
    chars = len(system)
    for m in messages:
        chars += len(m.content) + 16
        for call in m.tool_calls:
            chars += len(call.name) + len(json.dumps(call.arguments)) + 16
    for tool in tools:
        chars += len(tool.name) + len(tool.description) + len(json.dumps(tool.parameters))
    return chars // CHARS_PER_TOKEN + 1


def estimate_call_usage(request: ProviderRequest, answer: Message) -> Usage:
    """The usage of a call whose server reported none, by the same estimate: the whole
    prompt in, the answer (thinking included) out, marked ``estimated``."""
    return Usage(
        input_tokens=estimate_tokens(request.system, request.messages, request.tools),
        output_tokens=estimate_tokens("", [answer]),
        estimated=True,
    )


def request_view(history: list[StoredMessage]) -> list[Message]:
    """The messages a request sends: after the last compaction, its summary first, then
    the messages it kept verbatim, then everything that came after it. A tool call left
    without a result (the process died while it ran) gets an interrupted result."""
    return answer_unanswered_calls(_compacted_view(history))


def _compacted_view(history: list[StoredMessage]) -> list[Message]:
    last = _last_compaction(history)
    if last is None:
        return [m.message for m in history]
    summary = history[last]
    keep_from = summary.message.meta.get("keep_from")
    kept: list[Message] = []
    if keep_from:
        ids = [m.id for m in history[:last]]
        if keep_from in ids:
            kept = [m.message for m in history[ids.index(keep_from) : last]]
    pinned = [
        m.message for m in history[:last] if m.message.meta.get("pinned") and m.message not in kept
    ]
    head = summary.message
    if kept and kept[0].role == "user":
        # Keep roles alternating (some providers reject two user messages in a row):
        # the summary rides in front of the first kept user message.
        head = kept[0].model_copy(update={"content": f"{head.content}\n\n---\n\n{kept[0].content}"})
        kept = kept[1:]
    return [*pinned, head, *kept, *(m.message for m in history[last + 1 :])]


@dataclass
class CompactionPlan:
    """Which messages a compaction summarizes, and the first one it keeps verbatim."""

    summarize: list[Message]
    keep_from: str


def _last_compaction(history: list[StoredMessage]) -> int | None:
    for index in range(len(history) - 1, -1, -1):
        if history[index].message.meta.get("compaction"):
            return index
    return None


def plan_compaction(history: list[StoredMessage], keep_recent_turns: int) -> CompactionPlan | None:
    """Plan over what the current request view holds: the previous summary (if any) and
    the messages after it are summarized, except the last ``keep_recent_turns`` user
    turns and pinned messages. None when there is nothing older to summarize."""
    last = _last_compaction(history)
    if last is None:
        previous: list[Message] = []
        candidates = history
    else:
        summary = history[last]
        keep_from = summary.message.meta.get("keep_from")
        ids = [m.id for m in history[:last]]
        kept = history[ids.index(keep_from) : last] if keep_from in ids else []
        previous = [summary.message]
        candidates = [*kept, *history[last + 1 :]]
    starts = [i for i, m in enumerate(candidates) if m.message.role == "user"]
    if len(starts) < 2:
        return None
    cut = starts[-min(keep_recent_turns, len(starts) - 1)]
    older = [m.message for m in candidates[:cut] if not m.message.meta.get("pinned")]
    if not older:
        return None
    return CompactionPlan(summarize=[*previous, *older], keep_from=candidates[cut].id)


StreamFn = Callable[[ProviderRequest], AsyncIterator[ProviderEvent]]


async def summarize(
    stream: StreamFn,
    *,
    model: str,
    system: str,
    messages: list[Message],
    max_output_tokens: int | None = None,
) -> tuple[str, Usage, float | None]:
    """Ask the model for a summary of ``messages``. Returns (summary, usage, provider cost)."""
    transcript = _render(messages)
    request = ProviderRequest(
        model=model,
        system=system,
        messages=[Message(role="user", content=f"{transcript}\n\n{_SUMMARY_PROMPT}")],
        tools=[],
        max_output_tokens=max_output_tokens,
    )
    parts: list[str] = []
    usage = Usage()
    cost: float | None = None
    ended = False
    async for event in stream(request):
        if isinstance(event, TextChunk):
            parts.append(event.text)
        elif isinstance(event, UsageReport):
            usage, cost = event.usage, event.cost_usd
        elif isinstance(event, StreamEnd):
            ended = True
    text = "".join(parts).strip()
    if not ended or not text:
        raise ProviderError("the model returned no summary", kind="compaction")
    if not usage.reported:
        usage = estimate_call_usage(request, Message(role="assistant", content=text))
    return text, usage, cost


def _render(messages: list[Message]) -> str:
    """The older conversation as plain text: summarizing must not need tool schemas."""
    lines = ["<conversation>"]
    for m in messages:
        if m.role == "tool":
            status = "error" if m.is_error else "result"
            body = m.content if len(m.content) <= 4000 else m.content[:4000] + " [...]"
            lines.append(f"[tool {m.name} {status}]\n{body}")
            continue
        text = m.content
        for call in m.tool_calls:
            text += f"\n[calls {call.name} {json.dumps(call.arguments)[:500]}]"
        lines.append(f"[{m.role}]\n{text}")
    lines.append("</conversation>")
    return "\n\n".join(lines)


def compaction_message(summary: str, *, keep_from: str | None, before_tokens: int) -> Message:
    """The message that stands for the summarized turns in later requests."""
    return Message(
        role="user",
        content=f"[Summary of the earlier conversation, written when it was compacted]\n\n"
        f"{summary}",
        meta={"compaction": True, "keep_from": keep_from, "before_tokens": before_tokens},
    )
