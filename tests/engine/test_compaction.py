"""Compaction planning and the request view over a session's stored history."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from tau_engine.agent.compaction import (
    compaction_message,
    estimate_tokens,
    plan_compaction,
    request_view,
    summarize,
)
from tau_engine.conversation import Message, StoredMessage, Usage
from tau_engine.errors import ProviderError
from tau_engine.providers.base import (
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    UsageReport,
)


def stored(messages: list[Message]) -> list[StoredMessage]:
    out, parent = [], None
    for i, m in enumerate(messages):
        out.append(
            StoredMessage(
                id=f"m{i}", session_id="s", parent_id=parent, created_at=time.time(), message=m
            )
        )
        parent = f"m{i}"
    return out


def convo(turns: int) -> list[Message]:
    out = []
    for i in range(turns):
        out += [Message(role="user", content=f"q{i}"), Message(role="assistant", content=f"a{i}")]
    return out


def test_estimate_grows_with_content() -> None:
    small = estimate_tokens("sys", convo(1))
    big = estimate_tokens("sys", convo(50))
    assert big > small * 20


def test_plan_keeps_recent_turns_and_pinned_messages() -> None:
    messages = convo(5)
    messages[0].meta["pinned"] = True
    plan = plan_compaction(stored(messages), keep_recent_turns=2)
    assert plan is not None
    assert plan.keep_from == "m6"  # the user message of the 4th turn
    assert [m.content for m in plan.summarize] == ["a0", "q1", "a1", "q2", "a2"]
    assert plan_compaction(stored(convo(1)), keep_recent_turns=2) is None


def test_request_view_after_compaction_and_nothing_lost() -> None:
    messages = convo(4)
    history = stored(messages)
    plan = plan_compaction(history, keep_recent_turns=1)
    assert plan is not None
    summary = compaction_message("SUMMARY", keep_from=plan.keep_from, before_tokens=99)
    history = stored([*messages, summary, Message(role="assistant", content="later")])
    view = request_view(history)
    assert [m.content.split("\n")[-1] for m in view] == ["q3", "a3", "later"]
    assert view[0].content.startswith("[Summary of the earlier conversation")
    assert "SUMMARY" in view[0].content and view[0].role == "user"
    # A second compaction summarizes the first summary together with what followed.
    history2 = stored(
        [
            *messages,
            summary,
            Message(role="assistant", content="later"),
            Message(role="user", content="q4"),
            Message(role="assistant", content="a4"),
        ]
    )
    plan2 = plan_compaction(history2, keep_recent_turns=1)
    assert plan2 is not None and plan2.summarize[0].meta.get("compaction")
    assert plan2.keep_from == history2[-2].id


def test_request_view_without_compaction_is_the_history() -> None:
    messages = convo(2)
    assert request_view(stored(messages)) == messages


async def test_summarize_calls_the_model_without_tools() -> None:
    seen: list[ProviderRequest] = []

    async def stream(request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        seen.append(request)
        yield TextChunk("- did things")
        yield UsageReport(Usage(input_tokens=50, output_tokens=5))
        yield StreamEnd("end_turn")

    text, usage, cost = await summarize(stream, model="m", system="sys", messages=convo(2))
    assert text == "- did things" and usage.input_tokens == 50 and cost is None
    assert seen[0].tools == [] and "q1" in seen[0].messages[0].content

    async def empty(request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        yield StreamEnd("end_turn")

    with pytest.raises(ProviderError, match="no summary"):
        await summarize(empty, model="m", system="sys", messages=convo(2))
