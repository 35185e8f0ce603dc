"""The model probe against the loopback scripted provider: list models, one tool call,
and every failure explained by its kind."""

from __future__ import annotations

import socket

import pytest

from tau_engine.config import Settings
from tau_engine.onboarding.probe import listed_ids, probe_model, resolve_choice
from tau_engine.providers.registry import ResolvedModel
from tests.support.anthropic_script import anthropic_answer
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

TOOL_CALL = [{"id": "c1", "name": "tau_probe", "arguments": {"word": "ok"}}]


def model_list(*ids: str) -> ScriptedResponse:
    answer = ScriptedResponse.json(
        200, {"object": "list", "data": [{"id": model, "object": "model"} for model in ids]}
    )
    answer.path = "/v1/models"
    return answer


def _resolved(
    server: ScriptedServer | None,
    model: str = "gpt-4.1-mini",
    *,
    provider: str = "openai",
    base: str | None = None,
    key: str | None = "sk-test-key-0123456789",
) -> ResolvedModel:
    env = {f"{provider.upper()}_BASE_URL": base or (server.url + "/v1" if server else "")}
    return resolve_choice(
        provider, f"{provider}/{model}", key, "OPENAI_API_KEY", Settings(), env, None
    )


async def test_a_model_that_answers_the_tool_probe_passes(server: ScriptedServer) -> None:
    server.add(model_list("gpt-4o", "gpt-4.1-mini"), openai_answer("", TOOL_CALL))
    result = await probe_model(_resolved(server), Settings())
    assert [(s.name, s.status) for s in result.steps] == [
        ("list models", "ok"),
        ("tool call", "ok"),
    ]
    assert result.ok and result.checked
    assert "gpt-4.1-mini is listed (2 models)" in result.steps[0].message
    listing, call = server.requests
    assert (listing.method, listing.path) == ("GET", "/v1/models")
    assert listing.headers["authorization"] == "Bearer sk-test-key-0123456789"
    assert call.json["tools"][0]["function"]["name"] == "tau_probe"
    assert call.json["model"] == "gpt-4.1-mini"


async def test_a_model_that_answers_in_text_cannot_call_tools(server: ScriptedServer) -> None:
    server.add(model_list("gpt-4.1-mini"), openai_answer("Sure! The word is ok."))
    result = await probe_model(_resolved(server), Settings())
    step = result.steps[1]
    assert (step.status, step.kind) == ("fail", "no_tools")
    assert "answered without calling the tool" in step.message and "tau needs" in step.remedy
    assert not result.ok


async def test_the_tool_call_is_optional(server: ScriptedServer) -> None:
    server.add(model_list("gpt-4.1-mini"))
    result = await probe_model(_resolved(server), Settings(), tool_call=False)
    assert [s.name for s in result.steps] == ["list models"] and len(server.requests) == 1


async def test_a_rejected_key_is_said_and_the_tool_call_not_tried(server: ScriptedServer) -> None:
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
    result = await probe_model(_resolved(server), Settings())
    first, second = result.steps
    assert (first.status, first.kind) == ("fail", "auth")
    assert "the key was rejected" in first.message and "OPENAI_API_KEY" in first.remedy
    assert second.status == "skip" and len(server.requests) == 1


async def test_a_model_the_server_does_not_list_is_not_found(server: ScriptedServer) -> None:
    server.add(model_list("gpt-4o", "o3"))
    step = (await probe_model(_resolved(server, "gpt-4.1-typo"), Settings())).steps[0]
    assert (step.status, step.kind) == ("fail", "not_found")
    assert "does not list gpt-4.1-typo among its 2 models" in step.message


async def test_a_server_with_no_model_list_still_gets_the_tool_call(server: ScriptedServer) -> None:
    missing = ScriptedResponse.json(404, {"error": {"message": "not found"}})
    missing.path = "/v1/models"
    server.add(missing, openai_answer("", TOOL_CALL))
    result = await probe_model(_resolved(server), Settings())
    assert [(s.status, s.kind) for s in result.steps] == [("warn", "no_list"), ("ok", "ok")]


async def test_no_network_means_cannot_check_not_a_wrong_setup() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await probe_model(_resolved(None, base=f"http://127.0.0.1:{port}/v1"), Settings())
    assert (result.steps[0].status, result.steps[0].kind) == ("warn", "network")
    assert "cannot check" in result.steps[0].remedy
    assert result.ok and not result.checked


async def test_a_hung_server_times_out(server: ScriptedServer) -> None:
    hung = model_list("gpt-4.1-mini")
    hung.hang_s = 2.0
    server.add(hung)
    step = (await probe_model(_resolved(server), Settings(), timeout_s=0.3)).steps[0]
    assert (step.status, step.kind) == ("fail", "timeout")


async def test_tls_trouble_is_told_apart(server: ScriptedServer) -> None:
    # https to a server that speaks plain http: the handshake fails, as it does behind
    # a proxy that intercepts TLS.
    https = server.url.replace("http://", "https://") + "/v1"
    step = (await probe_model(_resolved(server, base=https), Settings())).steps[0]
    assert (step.status, step.kind) == ("fail", "tls_proxy")
    assert "SSL_CERT_FILE" in step.remedy


async def test_anthropic_wire_format(server: ScriptedServer) -> None:
    listing = ScriptedResponse.json(
        200, {"data": [{"id": "claude-sonnet-4-5", "type": "model"}], "has_more": False}
    )
    listing.path = "/v1/models"
    server.add(listing, anthropic_answer("", TOOL_CALL))
    resolved = _resolved(server, "claude-sonnet-4-5", provider="anthropic", base=server.url)
    result = await probe_model(resolved, Settings())
    assert result.ok and result.checked, result.steps
    assert server.requests[0].path == "/v1/models?limit=1000"
    assert server.requests[0].headers["x-api-key"] == "sk-test-key-0123456789"


async def test_offline_models_have_nothing_to_check() -> None:
    resolved = resolve_choice("offline", "offline/echo", None, None, Settings(), {}, None)
    result = await probe_model(resolved, Settings())
    assert result.ok and not result.checked
    assert "nothing to check" in result.steps[0].message


@pytest.mark.parametrize(
    ("body", "ids"),
    [
        ({"data": [{"id": "gpt-4o"}, {"id": "o3"}]}, ["gpt-4o", "o3"]),
        ({"models": [{"name": "models/gemini-2.5-pro"}]}, ["gemini-2.5-pro"]),
        ({"models": [{"name": "llama3:8b", "model": "llama3:8b"}]}, ["llama3:8b"]),
        ({"error": "nope"}, []),
        (["not", "a", "dict"], []),
    ],
)
def test_model_lists_of_every_wire_format(body: object, ids: list[str]) -> None:
    assert listed_ids(body) == ids
