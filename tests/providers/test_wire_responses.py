"""The OpenAI Responses client against the recorded wire corpus, over real loopback HTTP.

Every ``tests/fixtures/wire/openai_responses_*`` stream is served by the
scripted server in small chunks (one byte by byte) and the normalized result is
checked against ``expected.json`` and SOURCES.md.
"""

from __future__ import annotations

import json

import pytest

from tau_engine.conversation import Message
from tau_engine.errors import ProviderError
from tau_engine.providers.base import (
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    ToolCallReady,
    UsageReport,
)
from tau_engine.providers.openai_responses import OpenAIResponsesProvider
from tests.support.provider_run import WIRE, split, stream_events, wire_expected
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

EXPECTED = wire_expected()
STREAMS = ["openai_responses_stream_function_call.sse", "openai_responses_stream_text.sse"]
REQUEST = ProviderRequest(
    model="gpt-4o", system="", messages=[Message(role="user", content="capital of France?")]
)


async def run(server: ScriptedServer, response: ScriptedResponse) -> list[ProviderEvent]:
    server.add(response)
    provider = OpenAIResponsesProvider(
        base_url=server.url + "/v1", api_key="sk-test", key_hint="OPENAI_API_KEY"
    )
    return await stream_events(provider, REQUEST)


def test_the_corpus_has_every_file() -> None:
    names = sorted(p.name for p in WIRE.glob("openai_responses_*"))
    assert names == sorted([*STREAMS, "openai_responses_stream_error_insufficient_quota.sse"])


@pytest.mark.parametrize(
    ("name", "chunk_size"),
    [
        *((name, 11) for name in STREAMS),
        ("openai_responses_stream_function_call.sse", 1),
    ],
)
async def test_stream_fixture_parses_as_expected(
    server: ScriptedServer, name: str, chunk_size: int
) -> None:
    expected = EXPECTED[name]
    events = await run(
        server, ScriptedResponse(chunks=split((WIRE / name).read_bytes(), chunk_size))
    )
    assert server.requests[0].path == "/v1/responses"

    texts = [e.text for e in events if isinstance(e, TextChunk)]
    assert "".join(texts) == expected["text"]
    if expected["text"]:
        assert len(texts) > 1  # yielded delta by delta
    calls = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert [(c.id, c.name, c.arguments, c.arguments_error) for c in calls] == [
        (f["call_id"], f["name"], json.loads(f["arguments"]), None)
        for f in expected["function_calls"]
    ]

    usage = [e.usage for e in events if isinstance(e, UsageReport)][-1]
    want = expected["usage"]
    assert usage.input_tokens == want["input_tokens"]
    assert usage.output_tokens == want["output_tokens"]
    assert usage.cached_input_tokens == want["input_tokens_details"]["cached_tokens"]
    assert usage.reasoning_tokens == want["output_tokens_details"]["reasoning_tokens"]

    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.raw_reason == expected["status"]
    assert end.stop_reason == ("tool_use" if calls else "end_turn")
    assert sum(isinstance(e, StreamEnd) for e in events) == 1


async def test_insufficient_quota_in_a_200_stream_is_a_quota_error(server: ScriptedServer) -> None:
    name = "openai_responses_stream_error_insufficient_quota.sse"
    expected = EXPECTED[name]
    with pytest.raises(ProviderError) as caught:
        await run(server, ScriptedResponse(chunks=split((WIRE / name).read_bytes(), 13)))
    error = caught.value
    assert (error.kind, error.retryable, error.partial_output) == ("quota", False, False)
    assert error.message == expected["response_error"]["message"]
