"""The Anthropic client: request mapping, headers, caching, and stream handling over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tau_engine.conversation import Message, ToolCall, Usage
from tau_engine.errors import ProviderError
from tau_engine.providers.anthropic import (
    DEFAULT_MAX_TOKENS,
    MISSING_RESULT_TEXT,
    AnthropicProvider,
    build_messages_body,
)
from tau_engine.providers.base import ProviderRequest, TextChunk
from tests.support.anthropic_script import (
    anthropic_answer,
    anthropic_chunks,
    anthropic_error_event,
)
from tests.support.provider_run import BASH, READ, Outcome, request_maker, split, stream_outcome
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

request = request_maker("claude-test")


async def run(
    server: ScriptedServer,
    *responses: ScriptedResponse,
    req: ProviderRequest | None = None,
    **provider_kwargs: Any,
) -> Outcome:
    server.add(*responses)
    provider = AnthropicProvider(
        base_url=provider_kwargs.pop("base_url", server.url),
        api_key="sk-ant-test",
        **provider_kwargs,
    )
    return await stream_outcome(provider, req or request())


# -- request mapping -----------------------------------------------------------


def conversation() -> list[Message]:
    return [
        Message(role="user", content="Fix the bug"),
        Message(
            role="assistant",
            content="Looking.",
            tool_calls=[
                ToolCall(id="toolu_1", name="read_file", arguments={"path": "a.py"}),
                ToolCall(id="toolu_2", name="bash", arguments={"command": "pytest"}),
            ],
        ),
        Message(role="tool", tool_call_id="toolu_1", name="read_file", content="x = 1"),
        Message(
            role="tool", tool_call_id="toolu_2", name="bash", content="1 failed", is_error=True
        ),
        Message(role="assistant", content="Fixed."),
        Message(role="user", content="Thanks"),
    ]


def test_tool_results_merge_into_one_user_message_after_the_tool_use() -> None:
    body = build_messages_body(request(conversation(), tools=[READ, BASH]))
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Fix the bug"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Looking."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "read_file",
                    "input": {"path": "a.py"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "bash",
                    "input": {"command": "pytest"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "x = 1"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": "1 failed",
                    "is_error": True,
                },
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Fixed."}]},
        {"role": "user", "content": [{"type": "text", "text": "Thanks"}]},
    ]
    assert body["system"] == "Be brief."
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS
    assert body["stream"] is True
    assert body["tools"] == [
        {"name": "read_file", "description": "Read a file", "input_schema": READ.parameters},
        {"name": "bash", "description": "Run a command", "input_schema": BASH.parameters},
    ]
    assert "cache_control" not in json.dumps(body)


def test_results_go_first_and_unanswered_calls_get_an_error_result() -> None:
    messages = [
        Message(role="user", content="go"),
        Message(
            role="assistant",
            tool_calls=[ToolCall(id="t1", name="bash"), ToolCall(id="t2", name="bash")],
        ),
        Message(role="user", content="stop, do it differently"),  # interrupted: no results
        Message(role="tool", tool_call_id="t2", content="done"),
        Message(role="tool", tool_call_id="t_unknown", name="bash", content="stray"),
    ]
    last = build_messages_body(request(messages))["messages"][-1]
    assert last == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "t2", "content": "done"},
            {
                "type": "tool_result",
                "tool_use_id": "t1",
                "content": MISSING_RESULT_TEXT,
                "is_error": True,
            },
            {"type": "text", "text": "stop, do it differently"},
            {"type": "text", "text": "[result of bash]\nstray"},
        ],
    }


def test_thinking_blocks_go_back_first_with_their_signature() -> None:
    thinking = [
        {"type": "thinking", "thinking": "hmm", "signature": "sig=="},
        {"type": "redacted_thinking", "data": "opaque"},
    ]
    messages = [
        Message(role="user", content="q"),
        Message(
            role="assistant",
            content="a",
            extra={"anthropic_thinking": thinking},
            tool_calls=[ToolCall(id="t1", name="bash", arguments={})],
        ),
        Message(role="tool", tool_call_id="t1", content=""),
    ]
    body = build_messages_body(request(messages))
    assert body["messages"][1]["content"] == [
        *thinking,
        {"type": "text", "text": "a"},
        {"type": "tool_use", "id": "t1", "name": "bash", "input": {}},
    ]
    # An empty result carries no content block (Anthropic rejects empty text).
    assert body["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "t1"}]


def test_prompt_caching_marks_the_system_prompt_and_the_last_tool() -> None:
    body = build_messages_body(
        request(
            tools=[READ, BASH],
            options={"prompt_caching": True},
            max_output_tokens=1000,
            temperature=0.2,
        )
    )
    assert body["system"] == [
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}
    ]
    assert "cache_control" not in body["tools"][0]
    assert body["tools"][1]["cache_control"] == {"type": "ephemeral"}
    assert (body["max_tokens"], body["temperature"]) == (1000, 0.2)


def test_system_messages_fold_into_the_system_prompt() -> None:
    messages = [
        Message(role="system", content="Summary of earlier turns."),
        Message(role="user", content="go on"),
    ]
    body = build_messages_body(request(messages))
    assert body["system"] == "Be brief.\n\nSummary of earlier turns."
    assert [m["role"] for m in body["messages"]] == ["user"]


async def test_request_goes_to_v1_messages_with_anthropic_headers(server: ScriptedServer) -> None:
    await run(server, anthropic_answer("ok"), extra_headers={"x-team": "tau"})
    await run(server, anthropic_answer("ok"), base_url=server.url + "/v1/")
    first, second = server.requests
    assert first.path == second.path == "/v1/messages"
    assert first.headers["x-api-key"] == "sk-ant-test"
    assert first.headers["anthropic-version"] == "2023-06-01"
    assert first.headers["content-type"] == "application/json"
    assert first.headers["x-team"] == "tau"
    assert "authorization" not in first.headers
    assert first.json["model"] == "claude-test"


# -- streaming -----------------------------------------------------------------


async def test_text_streams_in_pieces_with_usage_and_stop_reason(server: ScriptedServer) -> None:
    text = "Hello there, this is a streamed answer."
    out = await run(
        server,
        anthropic_answer(
            text, chunk_size=5, input_tokens=100, output_tokens=12, cache_read=40, cache_write=7
        ),
    )
    assert "".join(out.text) == text
    assert len(out.text) == 8
    # input_tokens counts the whole prompt: Anthropic's own figure excludes cache traffic.
    assert out.usage == Usage(
        input_tokens=147, output_tokens=12, cached_input_tokens=40, cache_write_tokens=7
    )
    assert out.end is not None
    assert (out.end.stop_reason, out.end.raw_reason) == ("end_turn", "end_turn")


async def test_fragmented_parallel_tool_calls_arrive_whole(server: ScriptedServer) -> None:
    calls = [
        {"id": "toolu_a", "name": "read_file", "arguments": {"path": "src/ä.py"}},
        {"id": "toolu_b", "name": "bash", "arguments": {"command": "ls -la", "n": [1, 2]}},
    ]
    body = b"".join(anthropic_chunks("Let me look.", calls, arg_fragment=1))
    out = await run(server, ScriptedResponse(chunks=split(body, 3)))
    assert [(c.id, c.name, c.arguments) for c in out.calls] == [
        ("toolu_a", "read_file", {"path": "src/ä.py"}),
        ("toolu_b", "bash", {"command": "ls -la", "n": [1, 2]}),
    ]
    assert out.end is not None and out.end.stop_reason == "tool_use"


async def test_invalid_tool_arguments_set_arguments_error(server: ScriptedServer) -> None:
    calls = [{"id": "toolu_x", "name": "bash", "arguments": '{"command": "ls"'}]
    out = await run(server, anthropic_answer("", calls))
    (call,) = out.calls
    assert call.arguments == {}
    assert call.arguments_error is not None and "JSON" in call.arguments_error


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("stop_sequence", "end_turn"), ("max_tokens", "max_tokens"), ("refusal", "refusal")],
)
async def test_stop_reasons_are_normalized(
    server: ScriptedServer, raw: str, normalized: str
) -> None:
    out = await run(server, anthropic_answer("partial", stop_reason=raw))
    assert out.end is not None
    assert (out.end.stop_reason, out.end.raw_reason) == (normalized, raw)


async def test_thinking_streams_and_comes_back_in_stream_end(server: ScriptedServer) -> None:
    out = await run(
        server,
        anthropic_answer("Answer.", thinking="Let me think it over.", signature="EqQBCkYIBxgC"),
    )
    assert "".join(out.thinking) == "Let me think it over."
    assert "".join(out.text) == "Answer."
    assert out.end is not None
    blocks = out.end.extra["anthropic_thinking"]
    assert blocks == [
        {"type": "thinking", "thinking": "Let me think it over.", "signature": "EqQBCkYIBxgC"}
    ]
    # Stored on the assistant message, the block goes back on the next request unchanged.
    follow_up = build_messages_body(
        request(
            [
                Message(role="user", content="q"),
                Message(role="assistant", content="Answer.", extra=dict(out.end.extra)),
                Message(role="user", content="and?"),
            ]
        )
    )
    assert follow_up["messages"][1]["content"][0] == blocks[0]


async def test_stream_cut_mid_answer_is_a_stream_error_after_partial_output(
    server: ScriptedServer,
) -> None:
    chunks = anthropic_chunks("This answer never finishes properly.", chunk_size=4)
    server.add(ScriptedResponse(chunks=chunks[:6], cut=True))
    provider = AnthropicProvider(base_url=server.url, api_key="k")
    seen: list[str] = []
    with pytest.raises(ProviderError) as caught:
        async for event in provider.stream(request()):
            if isinstance(event, TextChunk):
                seen.append(event.text)
    await provider.aclose()
    assert seen  # what arrived was yielded before the failure
    error = caught.value
    assert (error.kind, error.partial_output, error.retryable) == ("stream", True, False)


async def test_stream_without_message_stop_is_a_stream_error(server: ScriptedServer) -> None:
    with pytest.raises(ProviderError) as caught:
        await run(server, anthropic_answer("almost", message_stop=False))
    assert caught.value.kind == "stream"
    assert "message_stop" in caught.value.message


async def test_mid_stream_error_is_retryable_only_before_any_output(server: ScriptedServer) -> None:
    head = anthropic_chunks("Some text", chunk_size=3)[:1]  # message_start only
    with pytest.raises(ProviderError) as before:
        await run(server, ScriptedResponse(chunks=[*head, anthropic_error_event()]))
    started = anthropic_chunks("Some text", chunk_size=3)[:5]  # text already streamed
    with pytest.raises(ProviderError) as after:
        await run(server, ScriptedResponse(chunks=[*started, anthropic_error_event()]))
    assert (before.value.kind, before.value.retryable, before.value.partial_output) == (
        "overloaded",
        True,
        False,
    )
    assert (after.value.kind, after.value.retryable, after.value.partial_output) == (
        "overloaded",
        False,
        True,
    )


async def test_api_error_event_is_a_server_error(server: ScriptedServer) -> None:
    with pytest.raises(ProviderError) as caught:
        await run(
            server,
            ScriptedResponse(chunks=[anthropic_error_event("api_error", "Internal server error")]),
        )
    assert (caught.value.kind, caught.value.retryable) == ("server", True)


def paused_after_first_text(text: str) -> ScriptedResponse:
    """The first text chunk at once, then 5 s between chunks: a client that waited for
    the rest before yielding, or when closed, would take a minute."""
    chunks = anthropic_chunks(text, chunk_size=5)
    return ScriptedResponse(chunks=[b"".join(chunks[:4]), *chunks[4:]], delay_s=5.0)


async def test_closing_the_stream_stops_at_once(server: ScriptedServer) -> None:
    server.add(paused_after_first_text("first then a long pause"))
    provider = AnthropicProvider(base_url=server.url, api_key="k")
    stream = provider.stream(request())
    try:
        async with asyncio.timeout(10):
            while not isinstance(event := await anext(stream), TextChunk):
                pass
        assert event.text == "first"
        async with asyncio.timeout(1.5):
            await stream.aclose()  # type: ignore[attr-defined]
    finally:
        await provider.aclose()


async def test_cancelling_the_consumer_cancels_the_request(server: ScriptedServer) -> None:
    server.add(paused_after_first_text("slow " * 20))
    provider = AnthropicProvider(base_url=server.url, api_key="k")
    got_text = asyncio.Event()

    async def consume() -> None:
        async for event in provider.stream(request()):
            if isinstance(event, TextChunk):
                got_text.set()

    task = asyncio.create_task(consume())
    try:
        async with asyncio.timeout(10):
            await got_text.wait()
        task.cancel()
        async with asyncio.timeout(1.5):
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        await provider.aclose()


def test_thinking_budget_enables_extended_thinking() -> None:
    from tau_engine.providers.anthropic import build_messages_body
    from tau_engine.providers.base import ProviderRequest

    base = dict(
        model="claude-sonnet-4-5",
        system="s",
        messages=[Message(role="user", content="hi")],
        temperature=0.3,
    )
    plain = build_messages_body(ProviderRequest(**base))  # type: ignore[arg-type]
    assert "thinking" not in plain and plain["temperature"] == 0.3
    thinking = build_messages_body(ProviderRequest(**base, options={"thinking_budget": 16_000}))  # type: ignore[arg-type]
    assert thinking["thinking"] == {"type": "enabled", "budget_tokens": 16_000}
    assert thinking["max_tokens"] > 16_000 and "temperature" not in thinking
