"""Recorded OpenAI and OpenRouter wire bodies, served over real HTTP, parsed by tau.

Every ``openai_chat_*.sse`` / ``openrouter_*.sse`` stream and every OpenAI /
OpenRouter error body in ``tests/fixtures/wire`` goes through the loopback
server to ``OpenAIChatProvider``; the normalized result is checked against
``expected.json`` (what the bytes say) and ``SOURCES.md`` (what a client should
do with them). The shared error classifier of ``providers/http.py`` is also run
over every other provider's recorded error bodies here, since it serves them all.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tau_engine.conversation import Message
from tau_engine.errors import ProviderError
from tau_engine.providers.base import ProviderRequest, UsageReport
from tau_engine.providers.http import classify_stream_error, raise_for_status
from tau_engine.providers.openai_chat import OpenAIChatProvider
from tau_engine.providers.sse import SSEDecoder, iter_sse
from tests.support.provider_run import WIRE, Outcome, split, stream_outcome, wire_expected
from tests.support.scripted_server import ScriptedResponse, ScriptedServer


@pytest.fixture
def scripted_server(server: ScriptedServer) -> ScriptedServer:
    """The module's shared ``server``, under the name these tests use."""
    return server


EXPECTED = wire_expected()

STREAMS = sorted(p.name for p in [*WIRE.glob("openai_chat_*.sse"), *WIRE.glob("openrouter_*.sse")])
ERROR_BODIES = sorted(
    p.name for p in [*WIRE.glob("openai_error_*.json"), *WIRE.glob("openrouter_error_*.json")]
)

_STOP = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}


async def run_provider(
    server: ScriptedServer, response: ScriptedResponse, name: str = "openai"
) -> Outcome:
    server.add(response)
    provider = OpenAIChatProvider(
        name=name,
        base_url=server.url + "/v1",
        api_key="sk-test",
        timeout_s=5.0,
        key_hint="OPENAI_API_KEY",
    )
    request = ProviderRequest(
        model="gpt-test", system="", messages=[Message(role="user", content="hi")]
    )
    return await stream_outcome(provider, request, keep_error=True)


def check_usage(report: UsageReport, expected: dict[str, Any]) -> None:
    assert report.usage.input_tokens == expected["prompt_tokens"]
    assert report.usage.output_tokens == expected["completion_tokens"]
    assert (
        report.usage.reasoning_tokens == expected["completion_tokens_details"]["reasoning_tokens"]
    )
    cached = (expected.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    assert report.usage.cached_input_tokens == cached
    assert report.cost_usd == expected.get("cost")


def check_stream(name: str, out: Outcome) -> None:
    expected = EXPECTED[name]
    assert "".join(out.text) == expected["text"]
    assert [(c.id, c.name, c.arguments, c.arguments_error) for c in out.calls] == [
        (c["id"], c["name"], c["arguments_parsed"], None) for c in expected["tool_calls"]
    ]

    if name == "openrouter_stream_error_midstream.sse":
        # SOURCES.md: the error must surface although the status is 200 and [DONE] follows.
        # The reasoning had streamed, so it is partial and not retried; the usage the
        # error chunk carried is still reported first, so the tokens are accounted for.
        assert "".join(out.thinking) == "We need to respond to a greeting. The user"
        assert out.end is None
        assert out.error is not None
        assert (out.error.kind, out.error.status) == ("bad_request", 400)
        assert out.error.message == expected["errors"][0]["message"] == "Token limit reached"
        assert out.error.partial_output is True
        assert out.error.retryable is False
        assert len(out.reports) == 1
        check_usage(out.reports[0], expected["usage"])
        return
    if name == "openrouter_stream_error_doc_example.sse":
        # A server_error before any token: retryable, with the provider's message.
        assert out.end is None
        assert out.error is not None
        assert out.error.kind == "server"
        assert out.error.status is None  # the code is a string, not an HTTP status
        assert out.error.message == expected["errors"][0]["message"]
        assert out.error.retryable is True
        assert out.error.partial_output is False
        assert out.reports == []
        return

    assert out.error is None, out.error
    assert expected["errors"] == []
    assert out.end is not None
    assert out.end.raw_reason == expected["finish_reason"]
    assert out.end.refusal == expected["refusal"]
    if expected["refusal"] is not None:
        assert out.end.stop_reason == "refusal"
    else:
        assert out.end.stop_reason == _STOP[expected["finish_reason"]]
    assert len(out.reports) == 1
    check_usage(out.reports[0], expected["usage"])


def test_the_corpus_is_all_here() -> None:
    assert len(STREAMS) == 8
    assert len(ERROR_BODIES) == 6
    assert all(name in EXPECTED for name in STREAMS + ERROR_BODIES)


@pytest.mark.parametrize("name", STREAMS)
async def test_stream_fixture_in_small_chunks(scripted_server: ScriptedServer, name: str) -> None:
    chunks = split((WIRE / name).read_bytes(), 7)
    out = await run_provider(
        scripted_server,
        ScriptedResponse(chunks=chunks),
        name="openrouter" if name.startswith("openrouter") else "openai",
    )
    check_stream(name, out)


@pytest.mark.parametrize(
    "name", ["openai_chat_stream_tool_calls_parallel.sse", "openrouter_stream_comments.sse"]
)
async def test_stream_fixture_byte_by_byte(scripted_server: ScriptedServer, name: str) -> None:
    chunks = split((WIRE / name).read_bytes(), 1)
    out = await run_provider(scripted_server, ScriptedResponse(chunks=chunks))
    check_stream(name, out)


@pytest.mark.parametrize("name", STREAMS)
def test_sse_framing_matches_expected_counts(name: str) -> None:
    decoder = SSEDecoder()
    events = decoder.feed((WIRE / name).read_bytes()) + decoder.close()
    assert len(events) == EXPECTED[name]["events"]  # [DONE] counts as an event
    assert decoder.comments == EXPECTED[name]["comments"]
    assert (events[-1].data == "[DONE]") is EXPECTED[name]["done"]


# What SOURCES.md says each error body means: (kind, retryable).
ERROR_MEANING: dict[str, tuple[str, bool]] = {
    "openai_error_400_context_length_exceeded.json": ("context_length", False),
    "openai_error_400_unsupported_parameter.json": ("bad_request", False),
    "openai_error_401_invalid_api_key.json": ("auth", False),
    "openai_error_429_rate_limit.json": ("rate_limit", True),
    "openrouter_error_401.json": ("auth", False),
    "openrouter_error_429.json": ("rate_limit", True),
}


@pytest.mark.parametrize("name", ERROR_BODIES)
async def test_error_body(scripted_server: ScriptedServer, name: str) -> None:
    status = int(re.search(r"_(\d{3})", name).group(1))  # type: ignore[union-attr]
    body = (WIRE / name).read_bytes()
    out = await run_provider(
        scripted_server,
        ScriptedResponse(status=status, chunks=split(body, 50), content_type="application/json"),
    )
    assert out.error is not None and out.end is None
    kind, retryable = ERROR_MEANING[name]
    assert (out.error.kind, out.error.status, out.error.retryable) == (kind, status, retryable)
    error = EXPECTED[name]["json"]["error"]
    assert out.error.message.startswith(error["message"])
    if "metadata" in error:
        # OpenRouter's own message says nothing; the upstream's words must be kept.
        assert error["metadata"]["raw"] in out.error.message
        assert error["metadata"]["provider_name"] in out.error.message
    if kind == "auth":
        assert "OPENAI_API_KEY" in out.error.message
    if name == "openai_error_429_rate_limit.json":
        # No header was recorded; the only hint is "Please try again in 20s".
        assert out.error.retry_after == 20.0
    elif status == 429:
        assert out.error.retry_after is None
    assert "\n" not in out.error.message


# --- providers/http.py over the other providers' recorded error bodies --------------

OTHER_ERROR_MEANING: dict[str, tuple[int, str, bool, float | None]] = {
    "anthropic_error_authentication_401.json": (401, "auth", False, None),
    "anthropic_error_invalid_request_400.json": (400, "bad_request", False, None),
    "anthropic_error_overloaded_529.json": (529, "overloaded", True, None),
    "anthropic_error_rate_limit_429.json": (429, "rate_limit", True, None),
    "gemini_error_400_api_key_invalid_on_sse.json": (400, "auth", False, None),
    "gemini_error_429_resource_exhausted.json": (429, "rate_limit", True, None),
    "gemini_error_429_retry_info.json": (429, "rate_limit", True, 34.4),
}


@pytest.mark.parametrize("name", sorted(OTHER_ERROR_MEANING))
async def test_raise_for_status_on_every_provider_body(name: str) -> None:
    status, kind, retryable, retry_after = OTHER_ERROR_MEANING[name]
    # Gemini labels its JSON error bodies text/event-stream; the label must not matter.
    response = httpx.Response(
        status,
        content=(WIRE / name).read_bytes(),
        headers={"content-type": "text/event-stream"},
        request=httpx.Request("POST", "https://api.example/v1/x"),
    )
    with pytest.raises(ProviderError) as caught:
        await raise_for_status(response, "p")
    error = caught.value
    assert (error.status, error.kind, error.retryable, error.retry_after) == (
        status,
        kind,
        retryable,
        retry_after,
    )
    assert error.message == EXPECTED[name]["json"]["error"]["message"]


def test_in_stream_errors_of_every_provider() -> None:
    anthropic = json.loads(
        next(iter_sse([(WIRE / "anthropic_stream_error_overloaded.sse").read_bytes()])).data
    )
    early = classify_stream_error(anthropic, "anthropic", partial_output=False)
    late = classify_stream_error(anthropic, "anthropic", partial_output=True)
    assert (early.kind, early.retryable, early.message) == ("overloaded", True, "Overloaded")
    assert (late.kind, late.retryable, late.partial_output) == ("overloaded", False, True)

    responses = [
        json.loads(e.data)
        for e in iter_sse(
            [(WIRE / "openai_responses_stream_error_insufficient_quota.sse").read_bytes()]
        )
    ]
    error_event = next(e for e in responses if e["type"] == "error")
    failed_event = next(e for e in responses if e["type"] == "response.failed")
    for obj in (error_event, failed_event):
        quota = classify_stream_error(obj, "openai", partial_output=False)
        assert (quota.kind, quota.retryable) == ("quota", False)
        assert quota.message.startswith("You exceeded your current quota")
