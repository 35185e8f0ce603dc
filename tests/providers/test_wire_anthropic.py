"""The Anthropic client against the recorded wire corpus, served over real loopback HTTP.

Every ``tests/fixtures/wire/anthropic_*`` file is served by the scripted server
(SSE bodies in small chunks, one of them byte by byte; error bodies with the
status from the file name) and the normalized result is checked against
``expected.json`` and SOURCES.md.
"""

from __future__ import annotations

import pytest

from tau_engine.conversation import Message
from tau_engine.errors import ProviderError
from tau_engine.providers.anthropic import AnthropicProvider
from tau_engine.providers.base import (
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    ToolCallReady,
    UsageReport,
)
from tests.support.provider_run import WIRE, split, stream_events, wire_expected
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

EXPECTED = wire_expected()
STREAMS = sorted(p.name for p in WIRE.glob("anthropic_stream_*.sse") if "error" not in p.name)
REQUEST = ProviderRequest(
    model="claude-haiku-4-5", system="", messages=[Message(role="user", content="weather?")]
)
NORMALIZED = {"end_turn": "end_turn", "tool_use": "tool_use"}


async def run(server: ScriptedServer, response: ScriptedResponse) -> list[ProviderEvent]:
    server.add(response)
    provider = AnthropicProvider(
        base_url=server.url, api_key="sk-ant-test", key_hint="ANTHROPIC_API_KEY"
    )
    return await stream_events(provider, REQUEST)


def test_the_corpus_has_every_stream_file() -> None:
    assert len(STREAMS) == 4
    assert all(name in EXPECTED for name in STREAMS)


@pytest.mark.parametrize(
    ("name", "chunk_size"),
    [
        *((name, 7) for name in STREAMS),
        ("anthropic_stream_text.sse", 1),  # byte by byte, through the UTF-8 degree sign
    ],
)
async def test_stream_fixture_parses_as_expected(
    server: ScriptedServer, name: str, chunk_size: int
) -> None:
    expected = EXPECTED[name]
    events = await run(
        server, ScriptedResponse(chunks=split((WIRE / name).read_bytes(), chunk_size))
    )

    texts = [e.text for e in events if isinstance(e, TextChunk)]
    calls = [e.call for e in events if isinstance(e, ToolCallReady)]
    want_text = "".join(block["text"] for block in expected["content"] if "text" in block)
    want_calls = [block for block in expected["content"] if "tool_use" in block]
    assert "".join(texts) == want_text
    if want_text:
        assert len(texts) > 1  # streamed as it arrived, not buffered into one chunk
    assert [(c.id, c.name, c.arguments, c.arguments_error) for c in calls] == [
        (b["id"], b["tool_use"], b["input"], None) for b in want_calls
    ]

    usage = [e.usage for e in events if isinstance(e, UsageReport)][-1]
    assert usage.input_tokens == expected["usage"]["input_tokens"]
    assert usage.output_tokens == expected["usage"]["output_tokens"]
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.raw_reason == expected["stop_reason"]
    assert end.stop_reason == NORMALIZED[expected["stop_reason"]]
    assert sum(isinstance(e, StreamEnd) for e in events) == 1


async def test_text_then_tool_use_keeps_the_order_of_blocks(server: ScriptedServer) -> None:
    body = (WIRE / "anthropic_stream_text_then_tool_use.sse").read_bytes()
    assert not body.endswith(b"\n")  # the last event must be flushed at EOF
    events = await run(server, ScriptedResponse(chunks=split(body, 5)))
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("ToolCallReady") > max(i for i, k in enumerate(kinds) if k == "TextChunk")


async def test_in_stream_overloaded_error_is_retryable(server: ScriptedServer) -> None:
    expected = EXPECTED["anthropic_stream_error_overloaded.sse"]["errors"][0]
    body = (WIRE / "anthropic_stream_error_overloaded.sse").read_bytes()
    with pytest.raises(ProviderError) as caught:
        await run(server, ScriptedResponse(chunks=split(body, 6)))
    error = caught.value
    assert (error.kind, error.retryable, error.partial_output) == ("overloaded", True, False)
    assert error.message == expected["message"]


# file -> (status, kind, retryable)
ERROR_BODIES = {
    "anthropic_error_authentication_401.json": (401, "auth", False),
    "anthropic_error_invalid_request_400.json": (400, "bad_request", False),
    "anthropic_error_rate_limit_429.json": (429, "rate_limit", True),
    "anthropic_error_overloaded_529.json": (529, "overloaded", True),
}


def test_every_error_body_is_covered() -> None:
    assert sorted(ERROR_BODIES) == sorted(p.name for p in WIRE.glob("anthropic_error_*.json"))


@pytest.mark.parametrize("name", sorted(ERROR_BODIES))
async def test_error_body_is_classified(server: ScriptedServer, name: str) -> None:
    status, kind, retryable = ERROR_BODIES[name]
    assert name.rsplit("_", 1)[1] == f"{status}.json"
    body = (WIRE / name).read_bytes()
    with pytest.raises(ProviderError) as caught:
        await run(
            server, ScriptedResponse(status=status, chunks=[body], content_type="application/json")
        )
    error = caught.value
    assert (error.status, error.kind, error.retryable) == (status, kind, retryable)
    assert error.retry_after is None  # none of these recordings carries retry-after
    want = EXPECTED[name]["json"]["error"]["message"]
    assert error.message.startswith(want)
    if kind == "auth":
        assert "ANTHROPIC_API_KEY" in error.message
