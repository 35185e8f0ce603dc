"""OpenAIChatProvider against the loopback scripted server: how each failure is reported
(cut or unfinished streams, errors mid-stream, timeouts, refused connections, Retry-After
hints, status codes)."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tau_engine.providers.openai_chat import OpenAIChatProvider
from tests.providers.openai_chat_support import (
    failure,
    make_provider,
    sse,
)
from tests.support.openai_script import openai_answer, openai_chunks
from tests.support.provider_run import text_of
from tests.support.scripted_server import ScriptedResponse, ScriptedServer


@pytest.fixture
def scripted_server(server: ScriptedServer) -> ScriptedServer:
    """The module's shared ``server``, under the name these tests use."""
    return server


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
