"""OpenAIChatProvider against the loopback scripted server: reading the stream (text,
tool calls and their arguments, thinking, finish reasons, connection reuse)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tau_engine.providers.base import (
    ProviderEvent,
    TextChunk,
    ThinkingChunk,
    UsageReport,
)
from tau_engine.providers.openai_chat import parse_tool_arguments
from tests.providers.openai_chat_support import (
    collect,
    make_provider,
    simple_request,
)
from tests.support.openai_script import _chunk, openai_answer, openai_chunks
from tests.support.provider_run import calls_of, end_of, text_of
from tests.support.scripted_server import ScriptedResponse, ScriptedServer


@pytest.fixture
def scripted_server(server: ScriptedServer) -> ScriptedServer:
    """The module's shared ``server``, under the name these tests use."""
    return server


# --- streaming ----------------------------------------------------------------------


async def test_text_is_yielded_as_it_arrives(scripted_server: ScriptedServer) -> None:
    text = "one two three four"
    scripted_server.add(ScriptedResponse(chunks=openai_chunks(text, chunk_size=5), delay_s=0.05))
    provider = make_provider(scripted_server)
    arrivals: list[float] = []
    events: list[ProviderEvent] = []
    try:
        async for event in provider.stream(simple_request()):
            events.append(event)
            if isinstance(event, TextChunk):
                arrivals.append(time.monotonic())
    finally:
        await provider.aclose()
    assert [e.text for e in events if isinstance(e, TextChunk)] == [
        "one t",
        "wo th",
        "ree f",
        "our",
    ]
    # Each chunk is handed on when it lands, not when the answer is complete.
    assert arrivals[-1] - arrivals[0] >= 0.1
    assert end_of(events).stop_reason == "end_turn"
    [usage] = [e for e in events if isinstance(e, UsageReport)]
    assert (usage.usage.input_tokens, usage.usage.output_tokens) == (10, 4)


async def test_tool_call_arguments_split_into_one_byte_fragments(
    scripted_server: ScriptedServer,
) -> None:
    args = {"path": "src/é.py", "limit": 20, "nested": {"a": [1, 2]}}
    scripted_server.add(
        openai_answer(
            "Reading.", [{"id": "call_a", "name": "read", "arguments": args}], arg_fragment=1
        )
    )
    events = await collect(make_provider(scripted_server))
    assert text_of(events) == "Reading."
    [call] = calls_of(events)
    assert (call.id, call.name, call.arguments, call.arguments_error) == (
        "call_a",
        "read",
        args,
        None,
    )
    assert end_of(events).stop_reason == "tool_use"
    # Tool calls are released only once the stream is complete, after all text.
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("ToolCallReady") > max(i for i, k in enumerate(kinds) if k == "TextChunk")


async def test_parallel_calls_with_interleaved_fragments(scripted_server: ScriptedServer) -> None:
    def frag(index: int, args: str, call_id: str | None = None, name: str | None = None) -> bytes:
        piece: dict[str, Any] = {"index": index, "function": {"arguments": args}}
        if call_id:
            piece.update(id=call_id, type="function")
            piece["function"]["name"] = name
        return _chunk({"tool_calls": [piece]})

    chunks = [
        frag(0, "", "call_0", "read"),
        frag(1, "", "call_1", "grep"),
        frag(0, '{"pa'),
        frag(1, '{"pattern"'),
        frag(0, 'th": "a"}'),
        frag(1, ': "x"}'),
        frag(2, "", "call_2", "ls"),
        _chunk({}, finish="tool_calls"),
        b"data: [DONE]\n\n",
    ]
    scripted_server.add(ScriptedResponse(chunks=chunks))
    events = await collect(make_provider(scripted_server))
    assert [(c.id, c.name, c.arguments, c.arguments_error) for c in calls_of(events)] == [
        ("call_0", "read", {"path": "a"}, None),
        ("call_1", "grep", {"pattern": "x"}, None),
        ("call_2", "ls", {}, None),  # empty arguments are an empty object
    ]


async def test_invalid_tool_arguments_are_reported_on_the_call(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.add(
        openai_answer(
            "",
            [
                {"id": "call_bad", "name": "read", "arguments": '{"path": "a.py"'},
                {"id": "call_list", "name": "read", "arguments": "[1, 2]"},
            ],
        )
    )
    events = await collect(make_provider(scripted_server))
    bad, listed = calls_of(events)
    assert bad.arguments == {} and bad.arguments_error is not None
    assert "not valid JSON" in bad.arguments_error and '{"path": "a.py"' in bad.arguments_error
    assert listed.arguments == {}
    assert listed.arguments_error == "the tool arguments must be a JSON object, not list"


def test_parse_tool_arguments() -> None:
    assert parse_tool_arguments("") == ({}, None)
    assert parse_tool_arguments("  ") == ({}, None)
    assert parse_tool_arguments('{"a": 1}') == ({"a": 1}, None)
    assert parse_tool_arguments("nope")[1] is not None


async def test_reasoning_content_becomes_thinking(scripted_server: ScriptedServer) -> None:
    scripted_server.add(
        ScriptedResponse(
            chunks=[
                _chunk({"role": "assistant", "content": None, "reasoning_content": "Let me "}),
                _chunk({"reasoning_content": "think."}),
                _chunk({"content": "Answer."}),
                _chunk({}, finish="stop"),
                _chunk(
                    None,
                    usage={
                        "prompt_tokens": 5,
                        "completion_tokens": 7,
                        "prompt_cache_hit_tokens": 3,
                        "completion_tokens_details": {"reasoning_tokens": 4},
                    },
                ),
                b"data: [DONE]\n\n",
            ]
        )
    )
    events = await collect(make_provider(scripted_server, "deepseek"))
    assert "".join(e.text for e in events if isinstance(e, ThinkingChunk)) == "Let me think."
    assert text_of(events) == "Answer."
    [usage] = [e.usage for e in events if isinstance(e, UsageReport)]
    assert (
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_input_tokens,
        usage.reasoning_tokens,
    ) == (5, 7, 3, 4)


@pytest.mark.parametrize(
    ("finish", "stop"),
    [("length", "max_tokens"), ("content_filter", "content_filter"), ("something_new", "end_turn")],
)
async def test_finish_reasons(scripted_server: ScriptedServer, finish: str, stop: str) -> None:
    scripted_server.add(openai_answer("partial", finish=finish))
    end = end_of(await collect(make_provider(scripted_server)))
    assert (end.stop_reason, end.raw_reason) == (stop, finish)


async def test_tool_calls_with_finish_stop_still_mean_tool_use(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.add(
        openai_answer("", [{"id": "c", "name": "read", "arguments": {}}], finish="stop")
    )
    assert end_of(await collect(make_provider(scripted_server, "ollama"))).stop_reason == "tool_use"


async def test_done_without_finish_reason_and_finish_without_done_both_end(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.add(openai_answer("a", finish_chunk=False), openai_answer("b", done=False))
    assert end_of(await collect(make_provider(scripted_server))).stop_reason == "end_turn"
    assert end_of(await collect(make_provider(scripted_server))).stop_reason == "end_turn"


async def test_connection_is_reused_after_done(scripted_server: ScriptedServer) -> None:
    # The scripted server serves each connection on its own, uniquely named thread.
    threads: list[str] = []

    def note_thread(_: object) -> None:
        threads.append(threading.current_thread().name)

    scripted_server.responder = note_thread  # type: ignore[assignment]
    scripted_server.add(openai_answer("one"), openai_answer("two"))
    provider = make_provider(scripted_server)
    try:
        first = [e async for e in provider.stream(simple_request())]
        second = [e async for e in provider.stream(simple_request())]
    finally:
        scripted_server.responder = None
        await provider.aclose()
    assert (text_of(first), text_of(second)) == ("one", "two")
    assert len(threads) == 2 and threads[0] == threads[1]
