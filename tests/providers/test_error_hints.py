"""What a failure says: the URL of a 404 with the /v1 hint, the variable to set after a 401
with no key, why a long Retry-After was not waited for, short retry notices, and a local
server that is not running."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from tau_engine.config import Settings
from tau_engine.errors import ProviderError
from tau_engine.providers.base import Provider
from tau_engine.providers.factory import create_provider
from tau_engine.providers.openai_chat import OpenAIChatProvider
from tau_engine.providers.registry import resolve_model
from tau_engine.providers.retry import RetryPolicy, stream_with_retries
from tau_engine.providers.router import CircuitBreaker, RoutedProvider
from tau_engine.providers.transport_failures import transport_error
from tests.support.openai_script import openai_answer
from tests.support.provider_run import request_maker, stream_outcome
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

build = request_maker("m")


def chat(server: ScriptedServer, path: str = "/v1", **kwargs: Any) -> OpenAIChatProvider:
    kwargs.setdefault("api_key", "sk-test")
    return OpenAIChatProvider(name="openai", base_url=server.url + path, timeout_s=5.0, **kwargs)


async def error_of(provider: Provider) -> ProviderError:
    out = await stream_outcome(provider, build(), keep_error=True)
    assert out.error is not None
    return out.error


# -- 404 ----------------------------------------------------------------------------------


async def test_404_without_v1_shows_the_url_and_the_base_url_hint(server: ScriptedServer) -> None:
    # llama-cpp-python (FastAPI) and Ollama answer a wrong path like this.
    server.add(ScriptedResponse.json(404, {"detail": "Not Found"}))
    error = await error_of(chat(server, path=""))
    assert error.kind == "not_found"
    assert f"POST {server.url}/chat/completions" in error.message
    assert "base URL may be missing" in error.message and "/v1" in error.message


async def test_404_with_v1_keeps_the_servers_words_and_the_url(server: ScriptedServer) -> None:
    server.add(
        ScriptedResponse.json(
            404,
            {
                "error": {
                    "message": "The model `gpt-9` does not exist or you do not have access to it.",
                    "type": "invalid_request_error",
                    "code": "model_not_found",
                }
            },
        )
    )
    error = await error_of(chat(server))
    assert error.message.startswith("The model `gpt-9` does not exist")
    assert f"POST {server.url}/v1/chat/completions" in error.message
    assert "check the model id and the base URL" in error.message


async def test_404_as_plain_text(server: ScriptedServer) -> None:
    server.add(
        ScriptedResponse(status=404, chunks=[b"404 page not found"], content_type="text/plain")
    )
    error = await error_of(chat(server, path=""))
    assert error.message.startswith("404 page not found (POST ")


# -- 401 ----------------------------------------------------------------------------------


async def test_401_when_no_key_was_sent_names_the_variable_to_set(server: ScriptedServer) -> None:
    # A custom base URL needs no key to start; the server then wants one.
    server.add(
        ScriptedResponse.json(
            401, {"error": {"message": "Missing bearer token", "type": "invalid_request_error"}}
        )
    )
    settings = Settings.model_validate({"base_url": server.url + "/v1"})
    resolved = resolve_model("openai/gpt-5", settings, {}, None)
    assert resolved.api_key is None
    error = await error_of(create_provider(resolved, settings))
    assert error.kind == "auth"
    assert error.message == "Missing bearer token (no API key was sent: set OPENAI_API_KEY)"
    assert "authorization" not in server.requests[0].headers


async def test_401_with_a_key_names_where_it_came_from(server: ScriptedServer) -> None:
    server.add(
        ScriptedResponse.json(
            401,
            {
                "error": {
                    "message": "Incorrect API key provided",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
        )
    )
    error = await error_of(chat(server, key_hint="WORK_OPENAI_KEY"))
    assert error.message.endswith("(check the API key in WORK_OPENAI_KEY)")


# -- HTML error pages -------------------------------------------------------------------------


async def test_an_html_error_page_is_one_short_line(server: ScriptedServer) -> None:
    page = (
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        b"</body>\r\n</html>\r\n" + b"<!-- padding -->\r\n" * 40
    )
    server.add(ScriptedResponse(status=502, chunks=[page], content_type="text/html"))
    error = await error_of(chat(server))
    assert error.message == f"HTTP 502 Bad Gateway from {server.url}/v1/chat/completions"


# -- Retry-After beyond what tau waits ------------------------------------------------------


async def test_a_retry_after_longer_than_tau_waits_says_why_it_was_not_retried(
    server: ScriptedServer,
) -> None:
    server.add(
        ScriptedResponse.json(
            429,
            {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}},
            headers={"Retry-After": "600"},
        )
    )
    provider = chat(server)
    with pytest.raises(ProviderError) as caught:
        try:
            async for _ in stream_with_retries(provider, build(), RetryPolicy()):
                pass
        finally:
            await provider.aclose()
    assert len(server.requests) == 1
    assert caught.value.message == (
        "Rate limit reached (not retried: the server asked to wait "
        "600s, longer than tau waits, 60s; try again later)"
    )


# -- retry notices ----------------------------------------------------------------------------


async def test_retry_notices_stay_one_short_line(server: ScriptedServer) -> None:
    long_message = "The upstream model backend failed to respond:\n" + "detail " * 150
    server.add(
        ScriptedResponse.json(503, {"error": {"message": long_message, "type": "server_error"}}),
        openai_answer("recovered"),
    )
    notices: list[str] = []

    async def no_sleep(_: float) -> None:
        return None

    routed = RoutedProvider(
        [("openai/gpt-x", chat(server))],
        CircuitBreaker(),
        lambda notice: notices.append(notice.message),
        retry_policy=RetryPolicy(max_retries=2, jitter=0.0),
        sleep=no_sleep,
    )
    out = await stream_outcome(routed, build())
    assert "".join(out.text) == "recovered"
    assert len(notices) == 1
    notice = notices[0]
    assert "\n" not in notice and len(notice) <= 160
    assert notice.startswith("openai 503 server: The upstream model backend failed")
    assert notice.endswith("… — retrying in 0.5s (attempt 1 of 2)")


# -- a local server that is not running --------------------------------------------------------


def refused(url: str) -> httpx.ConnectError:
    error = httpx.ConnectError("All connection attempts failed", request=httpx.Request("POST", url))
    error.__cause__ = ConnectionRefusedError(111, "Connect call failed")
    return error


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/v1/chat/completions",
        "http://localhost:11434/v1/chat/completions",
        "http://[::1]:8080/v1/chat/completions",
        "http://192.168.1.20:1234/v1/chat/completions",
        "http://gpu-box:11434/v1/chat/completions",
    ],
)
def test_a_refused_local_connection_fails_fast_with_a_question(url: str) -> None:
    error = transport_error(refused(url), "ollama")
    assert (error.kind, error.retryable) == ("connection", False)
    origin = url.split("/v1/")[0]
    assert error.message.endswith(f"(connection refused): is the server running at {origin}?")


def test_a_refused_remote_connection_is_still_retried() -> None:
    error = transport_error(refused("https://api.example.com/v1/chat/completions"), "openai")
    assert (error.kind, error.retryable) == ("connection", True)


async def test_an_unreachable_local_server_is_asked_once() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = OpenAIChatProvider(
        name="ollama", base_url=f"http://127.0.0.1:{port}/v1", api_key=None, timeout_s=2.0
    )
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    with pytest.raises(ProviderError) as caught:
        try:
            async for _ in stream_with_retries(provider, build(), RetryPolicy(), sleep=sleep):
                pass
        finally:
            await provider.aclose()
    assert sleeps == []  # before: 0.5 + 1 + 2 + 4 s of retries, then the same failure
    assert f"is the server running at http://127.0.0.1:{port}?" in caught.value.message
