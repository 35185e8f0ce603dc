"""The Gemini client: request mapping, schema cleaning, and stream handling over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tau_engine.conversation import Message, ToolCall, ToolSpec, Usage
from tau_engine.errors import ProviderError
from tau_engine.providers.base import ProviderRequest, TextChunk
from tau_engine.providers.gemini import (
    MISSING_RESULT_TEXT,
    GeminiProvider,
    build_gemini_body,
    gemini_schema,
)
from tests.support.gemini_script import (
    gemini_answer,
    gemini_chunk,
    gemini_chunks,
    gemini_error_chunk,
)
from tests.support.provider_run import Outcome, request_maker, stream_outcome
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

SIGNATURE = "CiQBjz1rX2Zr" * 8

request = request_maker("gemini-test")


async def run(
    server: ScriptedServer,
    *responses: ScriptedResponse,
    req: ProviderRequest | None = None,
    **provider_kwargs: Any,
) -> Outcome:
    server.add(*responses)
    provider = GeminiProvider(
        base_url=provider_kwargs.pop("base_url", server.url), api_key="gm-key", **provider_kwargs
    )
    return await stream_outcome(provider, req or request())


# -- request mapping -----------------------------------------------------------


def test_conversation_maps_to_contents_with_signatures_and_function_responses() -> None:
    messages = [
        Message(role="user", content="What is in a.py?"),
        Message(
            role="assistant",
            content="Reading.",
            tool_calls=[
                ToolCall(
                    id="gemini_call_1",
                    name="read_file",
                    arguments={"path": "a.py"},
                    extra={"thought_signature": SIGNATURE},
                ),
                ToolCall(id="gemini_call_2", name="bash", arguments={"command": "ls"}),
            ],
        ),
        Message(role="tool", tool_call_id="gemini_call_1", name="read_file", content="x = 1"),
        Message(role="tool", tool_call_id="gemini_call_2", content="boom", is_error=True),
        Message(role="assistant", content="It sets x."),
        Message(role="user", content="Thanks"),
    ]
    body = build_gemini_body(request(messages, max_output_tokens=512, temperature=0.3))
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "What is in a.py?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Reading."},
                {
                    "functionCall": {"name": "read_file", "args": {"path": "a.py"}},
                    "thoughtSignature": SIGNATURE,
                },
                {"functionCall": {"name": "bash", "args": {"command": "ls"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "read_file", "response": {"content": "x = 1"}}},
                # The tool's name comes from the call when the result does not carry it.
                {
                    "functionResponse": {
                        "name": "bash",
                        "response": {"content": "boom", "is_error": True},
                    }
                },
            ],
        },
        {"role": "model", "parts": [{"text": "It sets x."}]},
        {"role": "user", "parts": [{"text": "Thanks"}]},
    ]
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["generationConfig"] == {"maxOutputTokens": 512, "temperature": 0.3}
    assert "tools" not in body


def test_unanswered_calls_get_an_error_response_and_stray_results_become_text() -> None:
    messages = [
        Message(role="user", content="go"),
        Message(
            role="assistant",
            tool_calls=[ToolCall(id="c1", name="bash"), ToolCall(id="c2", name="grep")],
        ),
        Message(role="tool", tool_call_id="c2", name="grep", content="match"),
        Message(role="tool", tool_call_id="zz", name="bash", content="stray"),
    ]
    assert build_gemini_body(request(messages))["contents"][-1] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "grep", "response": {"content": "match"}}},
            {
                "functionResponse": {
                    "name": "bash",
                    "response": {"content": MISSING_RESULT_TEXT, "is_error": True},
                }
            },
            {"text": "[result of bash]\nstray"},
        ],
    }


def test_tool_schemas_are_cleaned_to_the_subset_gemini_accepts() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "path": {"type": "string", "format": "uri", "description": "where"},
            "when": {"type": "string", "format": "date-time"},
            "mode": {"type": ["string", "null"], "enum": ["r", "w"]},
            "lines": {"type": "array", "items": {"$ref": "#/$defs/Range"}},
            "kind": {"const": "file"},
            "additionalProperties": {"type": "boolean"},  # a property that has that name
        },
        "required": ["path", "ghost"],
        "$defs": {
            "Range": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"start": {"type": "integer", "format": "int32"}},
            }
        },
    }
    assert gemini_schema(schema) == {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "where"},
            "when": {"type": "string", "format": "date-time"},
            "mode": {"type": "string", "nullable": True, "enum": ["r", "w"]},
            "lines": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"start": {"type": "integer", "format": "int32"}},
                },
            },
            "kind": {"type": "string", "enum": ["file"]},
            "additionalProperties": {"type": "boolean"},
        },
        "required": ["path"],
    }


def test_tools_become_function_declarations() -> None:
    read = ToolSpec(
        "read_file",
        "Read a file",
        {
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "additionalProperties": False,
        },
    )
    noargs = ToolSpec("list_todos", "List todos", {"type": "object", "properties": {}})
    body = build_gemini_body(request(tools=[read, noargs]))
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "read_file",
                    "description": "Read a file",
                    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
                },
                # Gemini rejects an object schema with no properties: leave parameters out.
                {"name": "list_todos", "description": "List todos"},
            ]
        }
    ]


async def test_request_url_and_key_header(server: ScriptedServer) -> None:
    await run(
        server,
        gemini_answer("ok"),
        req=request(model="models/gemini-2.5-pro"),
        extra_headers={"x-goog-user-project": "p"},
    )
    await run(server, gemini_answer("ok"), base_url=server.url + "/v1beta")
    first, second = server.requests
    assert first.path == "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    assert second.path == "/v1beta/models/gemini-test:streamGenerateContent?alt=sse"
    assert first.headers["x-goog-api-key"] == "gm-key"
    assert first.headers["x-goog-user-project"] == "p"
    assert "key=" not in first.path  # the key never travels in the URL


# -- streaming -----------------------------------------------------------------


async def test_text_and_thoughts_stream_separately_with_the_last_usage(
    server: ScriptedServer,
) -> None:
    out = await run(
        server,
        gemini_answer(
            "A streamed Gemini answer.",
            thought="Thinking...",
            chunk_size=6,
            prompt_tokens=30,
            candidates_tokens=7,
            thoughts_tokens=50,
            cached_tokens=20,
        ),
    )
    assert "".join(out.text) == "A streamed Gemini answer."
    assert len(out.text) == 5
    assert out.thinking == ["Thinking..."]
    assert out.usage == Usage(
        input_tokens=30, output_tokens=57, cached_input_tokens=20, reasoning_tokens=50
    )
    assert out.end is not None and out.end.stop_reason == "end_turn"


async def test_parallel_calls_get_ids_numbered_after_the_conversation(
    server: ScriptedServer,
) -> None:
    history = [
        Message(role="user", content="go"),
        Message(role="assistant", tool_calls=[ToolCall(id="gemini_call_1", name="bash")]),
        Message(role="tool", tool_call_id="gemini_call_1", content="ok"),
    ]
    calls = [
        {"name": "read_file", "arguments": {"path": "a"}, "thought_signature": SIGNATURE},
        {"name": "read_file", "arguments": {"path": "b"}},
    ]
    # Both calls in one chunk, as Gemini sends parallel calls.
    parts: list[dict[str, Any]] = [
        {
            "functionCall": {"name": "read_file", "args": {"path": "a"}},
            "thoughtSignature": SIGNATURE,
        },
        {"functionCall": {"name": "read_file", "args": {"path": "b"}}},
    ]
    single = ScriptedResponse(chunks=[gemini_chunk(parts, finish="STOP")])
    out = await run(server, single, req=request(history))
    assert [(c.id, c.arguments) for c in out.calls] == [
        ("gemini_call_2", {"path": "a"}),
        ("gemini_call_3", {"path": "b"}),
    ]
    assert out.calls[0].extra == {"thought_signature": SIGNATURE}
    assert out.calls[1].extra == {}
    assert out.end is not None
    assert (out.end.stop_reason, out.end.raw_reason) == ("tool_use", "STOP")
    # One chunk per call from the builder gives the same calls.
    again = await run(server, gemini_answer("", calls), req=request(history))
    assert [(c.id, c.arguments, c.extra) for c in again.calls] == [
        (c.id, c.arguments, c.extra) for c in out.calls
    ]


async def test_signature_round_trips_to_the_next_request(server: ScriptedServer) -> None:
    calls = [{"name": "get_country", "arguments": {}, "thought_signature": SIGNATURE}]
    out = await run(server, gemini_answer("", calls))
    assistant = Message(role="assistant", tool_calls=out.calls)
    result = Message(role="tool", tool_call_id=out.calls[0].id, content="France")
    body = build_gemini_body(request([Message(role="user", content="q"), assistant, result]))
    assert body["contents"][1]["parts"] == [
        {"functionCall": {"name": "get_country", "args": {}}, "thoughtSignature": SIGNATURE}
    ]
    assert body["contents"][2]["parts"][0]["functionResponse"]["name"] == "get_country"


@pytest.mark.parametrize(
    "reason", ["SAFETY", "RECITATION", "PROHIBITED_CONTENT", "SPII", "BLOCKLIST"]
)
async def test_blocked_answer_ends_with_content_filter(server: ScriptedServer, reason: str) -> None:
    out = await run(server, gemini_answer("Partial ans", finish=reason))
    assert out.end is not None
    assert (out.end.stop_reason, out.end.raw_reason) == ("content_filter", reason)
    assert out.end.refusal is not None and reason in out.end.refusal


async def test_max_tokens_finish(server: ScriptedServer) -> None:
    out = await run(server, gemini_answer("cut sh", finish="MAX_TOKENS"))
    assert out.end is not None and out.end.stop_reason == "max_tokens"


async def test_blocked_prompt_raises_content_filter(server: ScriptedServer) -> None:
    body = (
        b'data: {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, '
        b'"usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}}\r\n\r\n'
    )
    with pytest.raises(ProviderError) as caught:
        await run(server, ScriptedResponse(chunks=[body]))
    assert (caught.value.kind, caught.value.retryable) == ("content_filter", False)
    assert "PROHIBITED_CONTENT" in caught.value.message


async def test_stream_without_finish_reason_is_a_stream_error(server: ScriptedServer) -> None:
    with pytest.raises(ProviderError) as caught:
        await run(server, gemini_answer("no end in sight", finish=None))
    assert (caught.value.kind, caught.value.partial_output) == ("stream", True)
    assert "finishReason" in caught.value.message


async def test_stream_cut_mid_answer(server: ScriptedServer) -> None:
    chunks = gemini_chunks("a long answer that breaks", chunk_size=4)
    server.add(ScriptedResponse(chunks=chunks[:3], cut=True))
    provider = GeminiProvider(base_url=server.url, api_key="k")
    seen: list[str] = []
    with pytest.raises(ProviderError) as caught:
        async for event in provider.stream(request()):
            if isinstance(event, TextChunk):
                seen.append(event.text)
    await provider.aclose()
    assert "".join(seen) == "a long answe"
    assert (caught.value.kind, caught.value.partial_output, caught.value.retryable) == (
        "stream",
        True,
        False,
    )


async def test_mid_stream_error_is_retryable_only_before_any_output(server: ScriptedServer) -> None:
    with pytest.raises(ProviderError) as before:
        await run(server, ScriptedResponse(chunks=[gemini_error_chunk()]))
    with pytest.raises(ProviderError) as after:
        await run(
            server,
            ScriptedResponse(
                chunks=[*gemini_chunks("some text")[:1], gemini_error_chunk(503, "UNAVAILABLE")]
            ),
        )
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


async def test_cancelling_the_consumer_cancels_the_request(server: ScriptedServer) -> None:
    chunks = gemini_chunks("first and then a very long pause", chunk_size=5)
    server.add(ScriptedResponse(chunks=chunks, delay_s=5.0))
    provider = GeminiProvider(base_url=server.url, api_key="k")
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


def test_gemini_3_gets_the_documented_stand_in_for_missing_signatures() -> None:
    from tau_engine.conversation import Message, ToolCall
    from tau_engine.providers.base import ProviderRequest
    from tau_engine.providers.gemini import SKIP_SIGNATURE, build_gemini_body

    foreign = Message(
        role="assistant",
        tool_calls=[
            ToolCall(id="a", name="read", arguments={"path": "x"}),
            ToolCall(id="b", name="read", arguments={"path": "y"}),
        ],
    )
    signed = Message(
        role="assistant",
        tool_calls=[
            ToolCall(id="c", name="read", arguments={}, extra={"thought_signature": "real"})
        ],
    )
    messages = [
        Message(role="user", content="go"),
        foreign,
        Message(role="tool", tool_call_id="a", name="read", content="1"),
        Message(role="tool", tool_call_id="b", name="read", content="2"),
        signed,
        Message(role="tool", tool_call_id="c", name="read", content="3"),
    ]
    body = build_gemini_body(
        ProviderRequest(model="gemini-3-pro-preview", system="", messages=messages)
    )
    model_turns = [c for c in body["contents"] if c["role"] == "model"]
    assert model_turns[0]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE
    assert "thoughtSignature" not in model_turns[0]["parts"][1]
    assert model_turns[1]["parts"][0]["thoughtSignature"] == "real"
    older = build_gemini_body(
        ProviderRequest(model="gemini-2.5-flash", system="", messages=messages)
    )
    assert "thoughtSignature" not in json.dumps(older["contents"][1])
