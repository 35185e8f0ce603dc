"""The Gemini client against the recorded wire corpus, served over real loopback HTTP.

Every ``tests/fixtures/wire/gemini_*`` file goes through the scripted server:
the CRLF-framed streams in small chunks (one byte by byte), the error bodies
with the status from the file name, and the 400 one labelled
``text/event-stream`` as Gemini really sends it. Results are checked against
``expected.json`` and SOURCES.md.
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
from tau_engine.providers.gemini import GeminiProvider
from tests.support.provider_run import WIRE, split, stream_events, wire_expected
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

EXPECTED = wire_expected()
STREAMS = sorted(p.name for p in WIRE.glob("gemini_stream_*.sse"))
REQUEST = ProviderRequest(
    model="gemini-2.0-flash",
    system="",
    messages=[Message(role="user", content="capital of France?")],
)


async def run(server: ScriptedServer, response: ScriptedResponse) -> list[ProviderEvent]:
    server.add(response)
    provider = GeminiProvider(
        base_url=server.url, api_key="gemini-test-key", key_hint="GEMINI_API_KEY"
    )
    return await stream_events(provider, REQUEST)


def test_the_corpus_has_every_stream_file() -> None:
    assert len(STREAMS) == 3
    assert all(EXPECTED[name]["crlf"] for name in STREAMS)


@pytest.mark.parametrize(
    ("name", "chunk_size"),
    [
        *((name, 9) for name in STREAMS),
        ("gemini_stream_text.sse", 1),  # byte by byte: CRLF pairs split across chunks
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
    assert "".join(texts) == expected["text"]
    if expected["text"]:
        assert len(texts) == expected["events"]  # one chunk per event, as it arrived
    calls = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert [(c.name, c.arguments, c.arguments_error) for c in calls] == [
        (f["name"], f["args"], None) for f in expected["function_calls"]
    ]
    assert [c.id for c in calls] == [f"gemini_call_{n + 1}" for n in range(len(calls))]
    for call, want in zip(calls, expected["function_calls"], strict=True):
        assert ("thought_signature" in call.extra) == want["has_thoughtSignature"]

    usage = [e.usage for e in events if isinstance(e, UsageReport)][-1]
    meta = expected["usage"]
    thoughts = meta["thoughtsTokenCount"] or 0
    assert usage.input_tokens == meta["promptTokenCount"]
    # The last usageMetadata wins; thinking tokens are billed as output.
    assert usage.output_tokens == meta["candidatesTokenCount"] + thoughts
    assert usage.reasoning_tokens == thoughts

    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.raw_reason == expected["finish_reason"]
    assert end.stop_reason == ("tool_use" if calls else "end_turn")
    assert sum(isinstance(e, StreamEnd) for e in events) == 1


async def test_thought_signature_is_kept_verbatim(server: ScriptedServer) -> None:
    name = "gemini_stream_function_call_thought_signature.sse"
    first_line = (WIRE / name).read_bytes().decode().split("\r\n")[0]
    raw = json.loads(first_line.removeprefix("data: "))
    signature = raw["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    assert len(signature) == 1408
    events = await run(server, ScriptedResponse(chunks=split((WIRE / name).read_bytes(), 64)))
    (call,) = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert call.extra["thought_signature"] == signature


# file -> (status, content type, kind, retryable, retry_after)
ERROR_BODIES = {
    "gemini_error_400_api_key_invalid_on_sse.json": (400, "text/event-stream", "auth", False, None),
    "gemini_error_429_resource_exhausted.json": (429, "application/json", "rate_limit", True, None),
    "gemini_error_429_retry_info.json": (429, "application/json", "rate_limit", True, 34.4),
}


def test_every_error_body_is_covered() -> None:
    assert sorted(ERROR_BODIES) == sorted(p.name for p in WIRE.glob("gemini_error_*.json"))


@pytest.mark.parametrize("name", sorted(ERROR_BODIES))
async def test_error_body_is_classified(server: ScriptedServer, name: str) -> None:
    status, content_type, kind, retryable, retry_after = ERROR_BODIES[name]
    assert f"_{status}_" in name
    with pytest.raises(ProviderError) as caught:
        await run(
            server,
            ScriptedResponse(
                status=status, chunks=[(WIRE / name).read_bytes()], content_type=content_type
            ),
        )
    error = caught.value
    assert (error.status, error.kind, error.retryable) == (status, kind, retryable)
    assert error.retry_after == retry_after
    assert error.message.startswith(EXPECTED[name]["json"]["error"]["message"])
    if kind == "auth":
        assert "GEMINI_API_KEY" in error.message
