"""The OpenAI Responses client: input mapping, and stream handling over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tau_engine.conversation import Message, ToolCall, Usage
from tau_engine.errors import ProviderError
from tau_engine.providers.base import ProviderRequest, TextChunk
from tau_engine.providers.openai_responses import (
    MISSING_RESULT_TEXT,
    OpenAIResponsesProvider,
    build_responses_body,
)
from tests.support.provider_run import BASH, Outcome, request_maker, split, stream_outcome
from tests.support.responses_script import (
    responses_answer,
    responses_chunks,
    responses_error_events,
)
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

request = request_maker("gpt-test")


def event(body: dict[str, Any]) -> bytes:
    return f"event: {body['type']}\ndata: {json.dumps(body)}\n\n".encode()


async def run(
    server: ScriptedServer,
    *responses: ScriptedResponse,
    req: ProviderRequest | None = None,
    **provider_kwargs: Any,
) -> Outcome:
    server.add(*responses)
    provider = OpenAIResponsesProvider(
        base_url=server.url + "/v1", api_key="sk-test", **provider_kwargs
    )
    return await stream_outcome(provider, req or request())


# -- request mapping -----------------------------------------------------------


def test_conversation_maps_to_input_items() -> None:
    messages = [
        Message(role="user", content="Run the tests"),
        Message(
            role="assistant",
            content="Running.",
            tool_calls=[
                ToolCall(id="call_1", name="bash", arguments={"command": "pytest"}),
                ToolCall(id="call_2", name="bash", arguments={"command": "ruff check"}),
            ],
        ),
        Message(role="tool", tool_call_id="call_1", name="bash", content="3 passed"),
        Message(role="tool", tool_call_id="call_2", name="bash", content="error", is_error=True),
        Message(role="assistant", content="All good."),
        Message(role="user", content="Thanks"),
    ]
    body = build_responses_body(request(messages, tools=[BASH], max_output_tokens=256))
    assert body["input"] == [
        {"role": "user", "content": "Run the tests"},
        {"role": "assistant", "content": "Running."},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "bash",
            "arguments": '{"command": "pytest"}',
        },
        {
            "type": "function_call",
            "call_id": "call_2",
            "name": "bash",
            "arguments": '{"command": "ruff check"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "3 passed"},
        {"type": "function_call_output", "call_id": "call_2", "output": "error"},
        {"role": "assistant", "content": "All good."},
        {"role": "user", "content": "Thanks"},
    ]
    assert body["instructions"] == "Be brief."
    assert (body["model"], body["stream"], body["store"]) == ("gpt-test", True, False)
    assert body["max_output_tokens"] == 256
    assert "temperature" not in body  # reasoning models reject it unless asked for
    assert body["tools"] == [
        {
            "type": "function",
            "name": "bash",
            "description": "Run a command",
            "parameters": BASH.parameters,
            "strict": False,
        }
    ]


def test_every_call_gets_an_output_and_stray_outputs_become_text() -> None:
    messages = [
        Message(role="user", content="go"),
        Message(
            role="assistant",
            tool_calls=[ToolCall(id="c1", name="bash"), ToolCall(id="c2", name="bash")],
        ),
        Message(role="tool", tool_call_id="c1", content="ok"),
        Message(role="tool", tool_call_id="nope", name="bash", content="stray"),
    ]
    assert build_responses_body(request(messages))["input"][3:] == [
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        {"type": "function_call_output", "call_id": "c2", "output": MISSING_RESULT_TEXT},
        {"role": "user", "content": "[result of bash]\nstray"},
    ]


async def test_request_goes_to_responses_with_a_bearer_key(server: ScriptedServer) -> None:
    await run(server, responses_answer("ok"), extra_headers={"OpenAI-Organization": "org-1"})
    (sent,) = server.requests
    assert sent.path == "/v1/responses"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.headers["openai-organization"] == "org-1"
    assert sent.json["input"] == [{"role": "user", "content": "hi"}]


# -- streaming -----------------------------------------------------------------


async def test_text_streams_delta_by_delta_with_usage(server: ScriptedServer) -> None:
    out = await run(
        server,
        responses_answer(
            "Streaming from the Responses API.",
            chunk_size=4,
            input_tokens=300,
            output_tokens=40,
            cached_tokens=256,
            reasoning_tokens=30,
        ),
    )
    assert "".join(out.text) == "Streaming from the Responses API."
    assert len(out.text) == 9
    assert out.usage == Usage(
        input_tokens=300, output_tokens=40, cached_input_tokens=256, reasoning_tokens=30
    )
    assert out.end is not None
    assert (out.end.stop_reason, out.end.raw_reason) == ("end_turn", "completed")


async def test_fragmented_parallel_calls_arrive_whole(server: ScriptedServer) -> None:
    calls = [
        {"id": "call_a", "name": "bash", "arguments": {"command": "echo 'héllo'"}},
        {"id": "call_b", "name": "read_file", "arguments": {"path": "x", "lines": [1, 9]}},
    ]
    body = b"".join(responses_chunks("Two calls.", calls, arg_fragment=1))
    out = await run(server, ScriptedResponse(chunks=split(body, 5)))
    assert [(c.id, c.name, c.arguments) for c in out.calls] == [
        ("call_a", "bash", {"command": "echo 'héllo'"}),
        ("call_b", "read_file", {"path": "x", "lines": [1, 9]}),
    ]
    assert out.end is not None and out.end.stop_reason == "tool_use"


async def test_invalid_arguments_set_arguments_error(server: ScriptedServer) -> None:
    out = await run(
        server, responses_answer("", [{"id": "c", "name": "bash", "arguments": "[1, 2]"}])
    )
    (call,) = out.calls
    assert call.arguments == {} and call.arguments_error is not None


async def test_reasoning_summary_is_thinking_and_refusal_is_a_stop_reason(
    server: ScriptedServer,
) -> None:
    chunks = responses_chunks("", completed=False)
    chunks += [
        event(
            {
                "type": "response.reasoning_summary_text.delta",
                "item_id": "rs",
                "output_index": 0,
                "summary_index": 0,
                "delta": "Considering.",
            }
        ),
        event(
            {
                "type": "response.refusal.delta",
                "item_id": "m",
                "output_index": 1,
                "content_index": 0,
                "delta": "I can't ",
            }
        ),
        event(
            {
                "type": "response.refusal.delta",
                "item_id": "m",
                "output_index": 1,
                "content_index": 0,
                "delta": "help with that.",
            }
        ),
        responses_chunks("", input_tokens=5, output_tokens=3)[-1],
    ]
    out = await run(server, ScriptedResponse(chunks=chunks))
    assert out.thinking == ["Considering."]
    assert out.text == []
    assert out.end is not None
    assert (out.end.stop_reason, out.end.refusal) == ("refusal", "I can't help with that.")


@pytest.mark.parametrize(
    ("reason", "stop"), [("max_output_tokens", "max_tokens"), ("content_filter", "content_filter")]
)
async def test_incomplete_response(server: ScriptedServer, reason: str, stop: str) -> None:
    out = await run(server, responses_answer("truncated", incomplete_reason=reason))
    assert "".join(out.text) == "truncated"
    assert out.end is not None
    assert (out.end.stop_reason, out.end.raw_reason) == (stop, reason)
    assert out.usage is not None


async def test_stream_without_completed_is_a_stream_error(server: ScriptedServer) -> None:
    with pytest.raises(ProviderError) as caught:
        await run(server, responses_answer("half", completed=False))
    assert (caught.value.kind, caught.value.partial_output) == ("stream", True)


async def test_stream_cut_mid_answer(server: ScriptedServer) -> None:
    chunks = responses_chunks("an answer the network breaks", chunk_size=5)
    with pytest.raises(ProviderError) as caught:
        await run(server, ScriptedResponse(chunks=chunks[:4], cut=True))
    assert (caught.value.kind, caught.value.partial_output, caught.value.retryable) == (
        "stream",
        True,
        False,
    )


async def test_mid_stream_error_is_retryable_only_before_any_output(server: ScriptedServer) -> None:
    created = responses_chunks("", completed=False)
    with pytest.raises(ProviderError) as before:
        await run(server, ScriptedResponse(chunks=[*created, *responses_error_events()]))
    started = responses_chunks("Some text", completed=False)[:3]
    with pytest.raises(ProviderError) as after:
        await run(server, ScriptedResponse(chunks=[*started, *responses_error_events()]))
    assert (before.value.kind, before.value.retryable, before.value.partial_output) == (
        "server",
        True,
        False,
    )
    assert (after.value.kind, after.value.retryable, after.value.partial_output) == (
        "server",
        False,
        True,
    )
    assert after.value.message == "The server had an error."


async def test_failed_response_without_error_event_raises(server: ScriptedServer) -> None:
    failed = responses_error_events("rate_limit_exceeded", "Slow down.")[1]
    with pytest.raises(ProviderError) as caught:
        await run(server, ScriptedResponse(chunks=[failed]))
    assert (caught.value.kind, caught.value.retryable) == ("rate_limit", True)


async def test_cancelling_the_consumer_cancels_the_request(server: ScriptedServer) -> None:
    chunks = responses_chunks("first and then a long pause", chunk_size=5)
    server.add(ScriptedResponse(chunks=[b"".join(chunks[:3]), *chunks[3:]], delay_s=5.0))
    provider = OpenAIResponsesProvider(base_url=server.url + "/v1", api_key="k")
    got_text = asyncio.Event()

    async def consume() -> None:
        async for item in provider.stream(request()):
            if isinstance(item, TextChunk):
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
