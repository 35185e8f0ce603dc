"""OpenAIChatProvider against the loopback scripted server: requests, streams, failures."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from tau_engine.conversation import Message, ToolCall, ToolSpec
from tau_engine.errors import ProviderError
from tau_engine.providers.base import (
    ProviderEvent,
    ProviderRequest,
    TextChunk,
    ThinkingChunk,
    UsageReport,
)
from tau_engine.providers.openai_chat import OpenAIChatProvider, parse_tool_arguments
from tests.support.openai_script import _chunk, openai_answer, openai_chunks
from tests.support.provider_run import calls_of, end_of, request_maker, stream_events, text_of
from tests.support.scripted_server import ScriptedResponse, ScriptedServer


@pytest.fixture
def scripted_server(server: ScriptedServer) -> ScriptedServer:
    """The module's shared ``server``, under the name these tests use."""
    return server


READ_TOOL = ToolSpec(
    name="read",
    description="Read a file.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)

simple_request = request_maker("gpt-test", system="be brief", prompt="hello")


def make_provider(
    server: ScriptedServer, name: str = "openai", **kwargs: Any
) -> OpenAIChatProvider:
    kwargs.setdefault("api_key", "sk-test")
    kwargs.setdefault("timeout_s", 5.0)
    return OpenAIChatProvider(name=name, base_url=server.url + "/v1", **kwargs)


async def collect(
    provider: OpenAIChatProvider, request: ProviderRequest | None = None
) -> list[ProviderEvent]:
    return await stream_events(provider, request or simple_request())


async def failure(provider: OpenAIChatProvider) -> tuple[ProviderError, list[ProviderEvent]]:
    seen: list[ProviderEvent] = []
    with pytest.raises(ProviderError) as caught:
        try:
            async for event in provider.stream(simple_request()):
                seen.append(event)
        finally:
            await provider.aclose()
    return caught.value, seen


def sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


# --- the request --------------------------------------------------------------------


async def test_request_body_maps_the_conversation_and_tools(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.add(openai_answer("ok"))
    conversation = [
        Message(role="user", content="read a.py"),
        Message(
            role="assistant",
            content="",
            tool_calls=[ToolCall(id="call_1", name="read", arguments={"path": "a.py"})],
        ),
        Message(role="tool", tool_call_id="call_1", name="read", content="print(1)"),
        Message(role="assistant", content="It prints 1."),
        Message(role="user", content="thanks"),
        Message(role="assistant", content="", meta={"interrupted": True}),
        Message(role="user", content="go on"),
    ]
    await collect(
        make_provider(scripted_server),
        simple_request(
            messages=conversation, tools=[READ_TOOL], max_output_tokens=256, temperature=0.2
        ),
    )

    [recorded] = scripted_server.requests
    assert recorded.method == "POST"
    assert recorded.path == "/v1/chat/completions"
    assert recorded.headers["authorization"] == "Bearer sk-test"
    assert recorded.headers["accept"] == "text/event-stream"
    body = recorded.json
    assert body["model"] == "gpt-test"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_completion_tokens"] == 256  # OpenAI's current field
    assert "max_tokens" not in body
    assert body["temperature"] == 0.2
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "read a.py"},
        # "" and not null: llama-cpp-python answers null with a 500.
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "read", "arguments": '{"path": "a.py"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "print(1)"},
        {"role": "assistant", "content": "It prints 1."},
        {"role": "user", "content": "thanks"},
        {"role": "user", "content": "go on"},  # the empty interrupted answer is left out
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "read",
                "description": "Read a file.",
                "parameters": READ_TOOL.parameters,
            },
        }
    ]
    assert "provider" not in body


async def test_compatible_servers_get_their_dialect(scripted_server: ScriptedServer) -> None:
    scripted_server.add(openai_answer("a"), openai_answer("b"), openai_answer("c"))
    request = simple_request(max_output_tokens=100, system="")
    await collect(make_provider(scripted_server, "deepseek"), request)
    await collect(make_provider(scripted_server, "ollama", api_key=None), request)
    await collect(make_provider(scripted_server, "mistral"), request)
    deepseek, ollama, mistral = scripted_server.requests
    assert deepseek.json["max_tokens"] == 100
    assert "max_completion_tokens" not in deepseek.json
    assert deepseek.json["messages"] == [{"role": "user", "content": "hello"}]  # no empty system
    assert "tools" not in deepseek.json
    assert "authorization" not in ollama.headers
    assert "stream_options" not in mistral.json


async def test_openrouter_extras_come_from_request_options(scripted_server: ScriptedServer) -> None:
    scripted_server.add(openai_answer("ok"))
    provider = make_provider(scripted_server, "openrouter", extra_headers={"X-Custom": "1"})
    await collect(
        provider,
        simple_request(
            options={
                "site_url": "https://tau.example",
                "site_name": "tau",
                "provider_order": ["anthropic", "openai"],
                "provider_allow": ["anthropic"],
                "provider_deny": ["together"],
                "unrelated_option": True,
            }
        ),
    )
    [recorded] = scripted_server.requests
    assert recorded.headers["http-referer"] == "https://tau.example"
    assert recorded.headers["x-title"] == "tau"
    assert recorded.headers["x-custom"] == "1"
    assert recorded.json["provider"] == {
        "order": ["anthropic", "openai"],
        "only": ["anthropic"],
        "ignore": ["together"],
    }
    assert "unrelated_option" not in recorded.json


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


# --- failures -----------------------------------------------------------------------


async def test_stream_without_finish_or_done_is_a_stream_error(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.add(openai_answer("half an ans", finish_chunk=False, done=False))
    error, seen = await failure(make_provider(scripted_server))
    assert error.kind == "stream"
    assert error.partial_output is True and error.retryable is False
    assert text_of(seen) == "half an ans"


async def test_connection_cut_mid_stream(scripted_server: ScriptedServer) -> None:
    chunks = openai_chunks("this answer is cut short", chunk_size=4)[:4]
    scripted_server.add(ScriptedResponse(chunks=chunks, cut=True))
    error, seen = await failure(make_provider(scripted_server))
    assert error.kind == "stream"
    assert "the stream broke before the answer finished" in error.message
    assert error.partial_output is True and error.retryable is False
    assert text_of(seen) == "this answer "


async def test_connection_cut_before_any_output_is_retryable(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.add(ScriptedResponse(chunks=[b": keepalive\n\n"], cut=True))
    error, seen = await failure(make_provider(scripted_server))
    assert (error.kind, error.partial_output, error.retryable) == ("stream", False, True)
    assert seen == []


async def test_error_object_mid_stream_after_text(scripted_server: ScriptedServer) -> None:
    scripted_server.add(
        ScriptedResponse(
            chunks=[
                *openai_chunks("Hello", finish_chunk=False, usage=False, done=False),
                sse(
                    {
                        "error": {"code": 502, "message": "Upstream went away"},
                        "choices": [
                            {"index": 0, "delta": {"content": ""}, "finish_reason": "error"}
                        ],
                    }
                ),
            ]
        )
    )
    error, seen = await failure(make_provider(scripted_server, "openrouter"))
    assert (error.kind, error.status, error.message) == ("server", 502, "Upstream went away")
    assert error.partial_output is True and error.retryable is False
    assert text_of(seen) == "Hello"


async def test_finish_reason_error_without_details(scripted_server: ScriptedServer) -> None:
    scripted_server.add(openai_answer("", finish="error"))
    error, _ = await failure(make_provider(scripted_server))
    assert (error.kind, error.retryable) == ("server", True)


async def test_hung_server_times_out(scripted_server: ScriptedServer) -> None:
    scripted_server.add(ScriptedResponse(chunks=openai_chunks("late"), hang_s=1.0))
    error, _ = await failure(make_provider(scripted_server, timeout_s=0.2))
    assert (error.kind, error.retryable, error.partial_output) == ("timeout", True, False)
    assert "0.2 s" in error.message


async def test_stall_after_text_times_out_as_partial(scripted_server: ScriptedServer) -> None:
    chunks = openai_chunks("abcdefgh", chunk_size=4)
    # The first text arrives at once (one network chunk), then every gap exceeds the limit.
    scripted_server.add(ScriptedResponse(chunks=[chunks[0] + chunks[1], *chunks[2:]], delay_s=0.5))
    error, seen = await failure(make_provider(scripted_server, timeout_s=0.25))
    assert text_of(seen) == "abcd"
    assert (error.kind, error.partial_output, error.retryable) == ("timeout", True, False)


async def test_connection_refused_by_a_local_server_is_not_retried(
    scripted_server: ScriptedServer,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = OpenAIChatProvider(
        name="openai", base_url=f"http://127.0.0.1:{port}/v1", api_key="k", timeout_s=2.0
    )
    error, _ = await failure(provider)
    # Nothing listens there (Ollama not started): waiting cannot help, so say what to check.
    assert (error.kind, error.retryable) == ("connection", False)
    assert f"is the server running at http://127.0.0.1:{port}?" in error.message


async def test_429_with_retry_after_seconds(scripted_server: ScriptedServer) -> None:
    scripted_server.add(
        ScriptedResponse.json(
            429,
            {
                "error": {
                    "message": "Slow down",
                    "type": "rate_limit_error",
                    "code": "rate_limit_exceeded",
                }
            },
            headers={"Retry-After": "7"},
        )
    )
    error, _ = await failure(make_provider(scripted_server))
    assert (error.kind, error.status, error.retryable, error.retry_after) == (
        "rate_limit",
        429,
        True,
        7.0,
    )
    assert error.message == "Slow down"


async def test_503_with_retry_after_http_date(scripted_server: ScriptedServer) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    scripted_server.add(
        ScriptedResponse(
            status=503,
            chunks=[b"<html>Service Unavailable</html>"],
            content_type="text/html",
            headers={"Retry-After": format_datetime(when, usegmt=True)},
        )
    )
    error, _ = await failure(make_provider(scripted_server))
    assert (error.kind, error.status, error.retryable) == ("server", 503, True)
    assert error.retry_after is not None and 20.0 < error.retry_after <= 30.0
    assert "Service Unavailable" in error.message


async def test_retry_after_ms_wins(scripted_server: ScriptedServer) -> None:
    scripted_server.add(
        ScriptedResponse.json(
            500,
            {"error": {"message": "oops", "type": "server_error"}},
            headers={"retry-after-ms": "1500", "Retry-After": "9"},
        )
    )
    error, _ = await failure(make_provider(scripted_server))
    assert (error.kind, error.retry_after) == ("server", 1.5)


@pytest.mark.parametrize(
    ("status", "body", "kind", "retryable"),
    [
        (404, b"", "not_found", False),
        (
            429,
            json.dumps(
                {
                    "error": {
                        "message": "You exceeded your current quota",
                        "type": "insufficient_quota",
                        "code": "insufficient_quota",
                    }
                }
            ).encode(),
            "quota",
            False,
        ),
        (402, b'{"error": {"message": "Insufficient credits", "code": 402}}', "quota", False),
        (408, b"", "timeout", True),
        (409, b"", "conflict", True),
        (
            529,
            b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            "overloaded",
            True,
        ),
        (403, b'{"error": "forbidden region"}', "auth", False),
    ],
)
async def test_status_classification(
    scripted_server: ScriptedServer, status: int, body: bytes, kind: str, retryable: bool
) -> None:
    scripted_server.add(
        ScriptedResponse(status=status, chunks=[body], content_type="application/json")
    )
    error, _ = await failure(make_provider(scripted_server, key_hint="OPENAI_API_KEY"))
    assert (error.kind, error.status, error.retryable) == (kind, status, retryable)
    assert error.message
    if status == 404:
        assert "/v1/chat/completions" in error.message
    if kind == "auth":
        assert error.message == "forbidden region (check the API key in OPENAI_API_KEY)"


# --- cancellation -------------------------------------------------------------------


class CloseWatchingTransport(httpx.AsyncBaseTransport):
    """The real HTTP transport, noting when a response body stream is closed."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.closed = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        watch = self

        class WatchedStream(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                async for chunk in response.stream:  # type: ignore[union-attr]
                    yield chunk

            async def aclose(self) -> None:
                await response.aclose()
                watch.closed.set()

        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=WatchedStream(),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_cancelling_the_consumer_closes_the_stream_at_once(
    scripted_server: ScriptedServer,
) -> None:
    # 40 chunks, 0.25 s apart: ten seconds of answer if nobody hangs up.
    scripted_server.add(
        ScriptedResponse(chunks=openai_chunks("x" * 160, chunk_size=4), delay_s=0.25)
    )
    transport = CloseWatchingTransport()
    client = httpx.AsyncClient(transport=transport)
    provider = OpenAIChatProvider(
        name="openai", base_url=scripted_server.url + "/v1", api_key="k", client=client
    )
    first_text = asyncio.Event()

    async def consume() -> None:
        async for event in provider.stream(simple_request()):
            if isinstance(event, TextChunk):
                first_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_text.wait(), 5.0)
    assert not transport.closed.is_set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Closed by the time cancellation finished: no waiting for the rest of the answer.
    assert transport.closed.is_set()
    await provider.aclose()  # a shared client is left open for its owner
    assert not client.is_closed
    await client.aclose()
