"""A streaming request answered with one whole JSON body, or with something that is not
an answer at all, in every wire format, against the loopback server.

Before, each of these read as a stream cut short: retried five times, then a failure
with nothing to show. A whole answer is now parsed; anything else fails at once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tau_engine.conversation import Message, ToolCall
from tau_engine.errors import ProviderError
from tau_engine.providers.answer_body import BodyHead
from tau_engine.providers.anthropic import THINKING_EXTRA_KEY, AnthropicProvider
from tau_engine.providers.base import Provider, ProviderEvent
from tau_engine.providers.gemini import THOUGHT_SIGNATURE_KEY, GeminiProvider
from tau_engine.providers.openai_chat import OpenAIChatProvider
from tau_engine.providers.openai_responses import OpenAIResponsesProvider
from tau_engine.providers.retry import RetryPolicy, stream_with_retries
from tests.support.openai_script import openai_chunks
from tests.support.provider_run import READ, Outcome, request_maker, stream_outcome
from tests.support.scripted_server import ScriptedResponse, ScriptedServer
from tests.support.whole_answers import (
    anthropic_message,
    chat_completion,
    gemini_response,
    llama_cpp_tool_call,
    ollama_tool_calls,
    responses_response,
    vllm_reasoning_tool_call,
)

build = request_maker("m", prompt="what is in a.txt")
Factory = Callable[[ScriptedServer], Provider]


def chat(server: ScriptedServer) -> Provider:
    return OpenAIChatProvider(
        name="openai", base_url=server.url + "/v1", api_key=None, timeout_s=5.0
    )


def anthropic(server: ScriptedServer) -> Provider:
    return AnthropicProvider(base_url=server.url, api_key="k", timeout_s=5.0)


def gemini(server: ScriptedServer) -> Provider:
    return GeminiProvider(base_url=server.url, api_key="k", timeout_s=5.0)


def responses(server: ScriptedServer) -> Provider:
    return OpenAIResponsesProvider(base_url=server.url + "/v1", api_key="k", timeout_s=5.0)


async def answered(
    server: ScriptedServer, factory: Factory, body: Any, *, content_type: str = "application/json"
) -> Outcome:
    raw = json.dumps(body).encode()
    server.add(ScriptedResponse(chunks=[raw[:7], raw[7:]], content_type=content_type))
    out = await stream_outcome(factory(server), build(tools=[READ]))
    assert len(server.requests) == 1
    return out


# -- OpenAI chat completions and the servers that copy it ---------------------------


async def test_llama_cpp_python_tool_call_without_text(server: ScriptedServer) -> None:
    out = await answered(server, chat, llama_cpp_tool_call())
    assert out.text == [] and [(c.name, c.arguments) for c in out.calls] == [
        ("read", {"path": "a.txt"})
    ]
    assert out.calls[0].id == "call__0_read_cmpl-1f2e"  # the server's id, kept
    assert out.end is not None and out.end.stop_reason == "tool_use"
    assert out.usage is not None and (out.usage.input_tokens, out.usage.output_tokens) == (231, 19)


async def test_chat_completion_text(server: ScriptedServer) -> None:
    out = await answered(server, chat, chat_completion("It says alpha.", finish="length"))
    assert "".join(out.text) == "It says alpha."
    assert out.end is not None and out.end.stop_reason == "max_tokens"
    assert out.usage is not None and out.usage.output_tokens == 9


async def test_vllm_reasoning_then_call(server: ScriptedServer) -> None:
    out = await answered(server, chat, vllm_reasoning_tool_call())
    assert "".join(out.thinking) == "The user wants a.txt; read it."
    assert [c.id for c in out.calls] == ["chatcmpl-tool-9a1"]


async def test_ollama_parallel_calls(server: ScriptedServer) -> None:
    out = await answered(server, chat, ollama_tool_calls())
    assert [c.arguments["path"] for c in out.calls] == ["a.txt", "b.txt"]
    assert [c.id for c in out.calls] == ["call_k3v0", "call_x8q2"]


@pytest.mark.parametrize("label", ["text/event-stream", "text/plain", ""])
async def test_a_mislabelled_whole_answer_is_still_read(server: ScriptedServer, label: str) -> None:
    # Some proxies keep the SSE content type (or send none) on a JSON body.
    out = await answered(server, chat, chat_completion("hello"), content_type=label)
    assert "".join(out.text) == "hello"


# -- Anthropic, Gemini, Responses ----------------------------------------------------


async def test_anthropic_whole_message(server: ScriptedServer) -> None:
    body = anthropic_message(
        "I'll read it.",
        thinking="Need the file.",
        tool={"name": "read", "input": {"path": "a.txt"}},
    )
    out = await answered(server, anthropic, body)
    assert "".join(out.thinking) == "Need the file." and "".join(out.text) == "I'll read it."
    assert [(c.id, c.arguments) for c in out.calls] == [
        ("toolu_01A09q90qw90lq917835lq9", {"path": "a.txt"})
    ]
    assert out.end is not None and out.end.stop_reason == "tool_use"
    # The thinking block and its signature are kept for the next turn, as when streamed.
    assert out.end.extra[THINKING_EXTRA_KEY] == [
        {"type": "thinking", "thinking": "Need the file.", "signature": "EqQBCgIYAh"}
    ]
    assert out.usage is not None and out.usage.input_tokens == 2195  # cache reads included


async def test_gemini_generate_content(server: ScriptedServer) -> None:
    body = gemini_response("Reading.", {"name": "read", "args": {"path": "a.txt"}})
    out = await answered(server, gemini, body)
    assert "".join(out.text) == "Reading."
    assert out.calls[0].extra[THOUGHT_SIGNATURE_KEY] == "CiQB0e2Kb"
    assert out.usage is not None and out.usage.output_tokens == 32


async def test_gemini_json_array_of_responses(server: ScriptedServer) -> None:
    # streamGenerateContent without alt=sse answers a JSON array of chunks.
    first = gemini_response("Hel", finish="")
    del first["candidates"][0]["finishReason"]
    out = await answered(server, gemini, [first, gemini_response("lo")])
    assert "".join(out.text) == "Hello"
    assert out.end is not None and out.end.stop_reason == "end_turn"


async def test_responses_whole_response(server: ScriptedServer) -> None:
    body = responses_response(
        "Reading a.txt.",
        summary="Look at the file.",
        call={"name": "read", "arguments": '{"path":"a.txt"}'},
    )
    out = await answered(server, responses, body)
    assert "".join(out.thinking) == "Look at the file."
    assert "".join(out.text) == "Reading a.txt."
    assert [(c.id, c.arguments) for c in out.calls] == [("call_unLAR8", {"path": "a.txt"})]
    assert out.usage is not None and out.usage.output_tokens == 87


# -- what is not an answer -------------------------------------------------------------

ALL_FORMATS = [chat, anthropic, gemini, responses]


@pytest.mark.parametrize("factory", ALL_FORMATS)
async def test_an_html_page_fails_at_once_saying_what_came(
    server: ScriptedServer, factory: Factory
) -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>Sign in - Corp Proxy</title></head>"
        b"<body>Please sign in.</body></html>"
    )
    server.add(ScriptedResponse(chunks=[page], content_type="text/html"))
    error = await failure(factory(server))
    assert error.kind == "bad_response" and not error.retryable
    assert "text/html" in error.message and "Sign in - Corp Proxy" in error.message
    assert len(server.requests) == 1  # not retried: the same request gets the same page


@pytest.mark.parametrize("factory", ALL_FORMATS)
async def test_json_that_is_not_an_answer_fails_at_once(
    server: ScriptedServer, factory: Factory
) -> None:
    server.add(ScriptedResponse.json(200, {"status": "ok", "version": "1.2"}))
    error = await failure(factory(server))
    assert error.kind == "bad_response" and not error.retryable
    assert '\'{"status": "ok", "version": "1.2"}\'' in error.message


@pytest.mark.parametrize(
    ("factory", "body"),
    [
        (chat, {"error": {"message": "Model is loading", "type": "server_error", "code": 503}}),
        (
            anthropic,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        ),
        (
            gemini,
            {
                "error": {
                    "code": 503,
                    "message": "The model is overloaded.",
                    "status": "UNAVAILABLE",
                }
            },
        ),
        (
            responses,
            {
                "type": "error",
                "error": {
                    "type": "server_error",
                    "code": "server_error",
                    "message": "The server had an error.",
                },
            },
        ),
    ],
)
async def test_an_error_object_in_a_200_json_body_is_classified(
    server: ScriptedServer, factory: Factory, body: dict[str, Any]
) -> None:
    server.add(ScriptedResponse.json(200, body))
    error = await failure(factory(server))
    assert error.kind in ("server", "overloaded") and error.retryable


async def test_a_whole_answer_is_asked_for_once_through_the_retry_layer(
    server: ScriptedServer,
) -> None:
    # What a user saw before: five identical requests, each answered in full, then 0 tokens.
    server.add(ScriptedResponse.json(200, llama_cpp_tool_call()))
    provider = chat(server)
    events: list[ProviderEvent] = []
    try:
        async for event in stream_with_retries(
            provider, build(tools=[READ]), RetryPolicy(base_delay_s=0.0)
        ):
            events.append(event)
    finally:
        await provider.aclose()
    assert len(server.requests) == 1
    assert any(getattr(e, "call", None) is not None for e in events)


async def test_an_empty_body_is_still_a_retryable_broken_stream(server: ScriptedServer) -> None:
    server.add(ScriptedResponse(chunks=[b"\n"], content_type="text/event-stream"))
    error = await failure(chat(server))
    assert error.kind == "stream" and error.retryable


async def failure(provider: Provider) -> ProviderError:
    out = Outcome()
    with pytest.raises(ProviderError) as caught:
        try:
            async for event in provider.stream(
                build(
                    messages=[
                        Message(role="user", content="hi"),
                        Message(
                            role="assistant",
                            content="",
                            tool_calls=[ToolCall(id="c1", name="read", arguments={"path": "a"})],
                        ),
                        Message(role="tool", tool_call_id="c1", name="read", content="x"),
                    ]
                )
            ):
                out.add(event)
        finally:
            await provider.aclose()
    assert out.events == []
    return caught.value


async def test_an_event_stream_labelled_json_is_still_streamed(server: ScriptedServer) -> None:
    # Labels lie both ways: the body decides, the Content-Type only names it in errors.
    server.add(
        ScriptedResponse(
            chunks=openai_chunks("streamed anyway", chunk_size=4), content_type="application/json"
        )
    )
    out = await stream_outcome(chat(server), build())
    assert "".join(out.text) == "streamed anyway" and len(out.text) > 1


async def test_a_body_with_no_event_past_the_limit_is_no_answer() -> None:
    head = BodyHead(limit=64)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b'{"padding": "' + b"x" * 20 + b'"}'

    async for _ in head.record(body()):
        pass
    with pytest.raises(ProviderError) as caught:
        head.whole_answer("openai", "application/json")
    assert caught.value.kind == "bad_response" and "larger than any answer" in str(caught.value)


async def test_a_body_with_events_has_no_whole_answer() -> None:
    head = BodyHead()

    async def body() -> AsyncIterator[bytes]:
        yield b'data: {"a": 1}\n\n'

    async for _ in head.record(body()):
        head.event_seen()
    assert head.whole_answer("openai", "text/event-stream") is None
