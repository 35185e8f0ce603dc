"""OpenAIChatProvider against the loopback scripted server: the request it sends, and
cancelling a stream (streams: ``test_openai_chat_stream.py``; failures:
``test_openai_chat_failures.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from tau_engine.conversation import Message, ToolCall
from tau_engine.providers.base import (
    TextChunk,
)
from tau_engine.providers.openai_chat import OpenAIChatProvider
from tests.providers.openai_chat_support import (
    READ_TOOL,
    collect,
    make_provider,
    simple_request,
)
from tests.support.openai_script import openai_answer, openai_chunks
from tests.support.scripted_server import ScriptedResponse, ScriptedServer


@pytest.fixture
def scripted_server(server: ScriptedServer) -> ScriptedServer:
    """The module's shared ``server``, under the name these tests use."""
    return server


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
