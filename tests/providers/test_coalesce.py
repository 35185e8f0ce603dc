"""Merging what arrived in one network read: fewer events, the same text, same order."""

from __future__ import annotations

from collections.abc import AsyncIterator

from tau_engine.conversation import ToolCall, Usage
from tau_engine.providers.base import (
    ProviderEvent,
    StreamEnd,
    TextChunk,
    ThinkingChunk,
    ToolCallReady,
    UsageReport,
    coalesce,
)
from tau_engine.providers.sse import aiter_sse_batches


def test_adjacent_text_merges_and_other_events_keep_their_place() -> None:
    call = ToolCallReady(ToolCall(id="c", name="read"))
    events: list[ProviderEvent] = [
        ThinkingChunk("a"),
        ThinkingChunk("b"),
        TextChunk("x"),
        TextChunk("y"),
        call,
        TextChunk("z"),
        UsageReport(Usage()),
        StreamEnd("end_turn"),
    ]
    merged = coalesce(events)
    assert merged == [
        ThinkingChunk("ab"),
        TextChunk("xy"),
        call,
        TextChunk("z"),
        UsageReport(Usage()),
        StreamEnd("end_turn"),
    ]


def test_signed_thinking_is_never_merged() -> None:
    events: list[ProviderEvent] = [ThinkingChunk("a", signature="s1"), ThinkingChunk("b")]
    assert coalesce(events) == events


async def test_batches_follow_network_reads() -> None:
    async def reads() -> AsyncIterator[bytes]:
        yield b"data: 1\n\ndata: 2\n\ndata: 3"
        yield b"\n\n"
        yield b"data: 4"

    batches = [[e.data for e in batch] async for batch in aiter_sse_batches(reads())]
    assert batches == [["1", "2"], ["3"], ["4"]]
