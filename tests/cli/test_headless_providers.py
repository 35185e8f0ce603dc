"""End-to-end: ``tau -p`` through every wire format, and fallback across providers,
against loopback servers speaking the real SSE shapes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.tau_process import run_tau, tau_env
from tests.support.anthropic_script import anthropic_answer
from tests.support.gemini_script import gemini_answer
from tests.support.openai_script import openai_answer
from tests.support.responses_script import responses_answer
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

READ_A = {"id": "t1", "name": "read", "arguments": {"path": "a.txt"}}


def _run(workspace: Path, model: str, env: dict[str, str]) -> dict[str, object]:
    (workspace / "a.txt").write_text("alpha\n")
    proc = run_tau(
        ["-p", "what is in a.txt", "--model", model, "--no-color", "--output-format", "json"],
        workspace,
        env=tau_env(**env),
    )
    assert proc.returncode == 0, proc.stderr
    data: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    return data


def test_anthropic_messages(scripted_server: ScriptedServer, workspace: Path) -> None:
    scripted_server.add(
        anthropic_answer("Reading.", [READ_A], input_tokens=100),
        anthropic_answer("It says alpha.", input_tokens=150),
    )
    data = _run(
        workspace,
        "anthropic/claude-sonnet-4-5",
        {"ANTHROPIC_API_KEY": "k-test", "ANTHROPIC_BASE_URL": scripted_server.url},
    )
    assert data["result"] == "It says alpha." and data["turns"] == 2
    assert data["cost_usd"] is not None  # priced from the catalog
    first, second = (r for r in scripted_server.requests)
    assert first.path == "/v1/messages" and first.headers["x-api-key"] == "k-test"
    assert "anthropic-version" in first.headers and isinstance(first.json["system"], str | list)
    blocks = second.json["messages"][-1]["content"]
    assert blocks[0]["type"] == "tool_result" and "alpha" in json.dumps(blocks[0])


def test_gemini_stream_generate_content(scripted_server: ScriptedServer, workspace: Path) -> None:
    scripted_server.add(gemini_answer("", [READ_A]), gemini_answer("It says alpha."))
    data = _run(
        workspace,
        "gemini/gemini-2.5-flash",
        {"GEMINI_API_KEY": "g-test", "TAU_GEMINI_BASE_URL": scripted_server.url},
    )
    assert data["result"] == "It says alpha."
    first = scripted_server.requests[0]
    assert first.path.startswith("/v1beta/models/gemini-2.5-flash:streamGenerateContent")
    assert "alt=sse" in first.path and first.headers["x-goog-api-key"] == "g-test"
    response_part = scripted_server.requests[1].json["contents"][-1]["parts"][0]
    assert response_part["functionResponse"]["name"] == "read"


def test_openai_responses_api(scripted_server: ScriptedServer, workspace: Path) -> None:
    scripted_server.add(responses_answer("", [READ_A]), responses_answer("It says alpha."))
    data = _run(
        workspace,
        "openai/gpt-5-codex",
        {"OPENAI_API_KEY": "o-test", "OPENAI_BASE_URL": scripted_server.url + "/v1"},
    )
    assert data["result"] == "It says alpha."
    assert scripted_server.requests[0].path == "/v1/responses"
    items = scripted_server.requests[1].json["input"]
    assert any(item.get("type") == "function_call_output" for item in items)


def test_openrouter_headers_and_routing(scripted_server: ScriptedServer, workspace: Path) -> None:
    (workspace / ".tau").mkdir()
    (workspace / ".tau" / "config.toml").write_text(
        '[providers.openrouter]\nsite_name = "tau-tests"\norder = ["anthropic"]\n'
    )
    scripted_server.add(openai_answer("hi from openrouter"))
    data = _run(
        workspace,
        "openrouter/anthropic/claude-sonnet-4.5",
        {
            "OPENROUTER_API_KEY": "or-test",
            "TAU_OPENROUTER_BASE_URL": scripted_server.url + "/api/v1",
        },
    )
    assert data["result"] == "hi from openrouter"
    request = scripted_server.requests[0]
    assert request.path == "/api/v1/chat/completions"
    assert request.json["model"] == "anthropic/claude-sonnet-4.5"
    assert request.headers["x-title"] == "tau-tests"
    assert request.json["provider"]["order"] == ["anthropic"]


def test_fallback_to_another_provider_after_retries(workspace: Path) -> None:
    with ScriptedServer() as primary, ScriptedServer() as fallback:
        overloaded = {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
        }
        primary.responder = lambda request: ScriptedResponse.json(529, overloaded)
        fallback.add(openai_answer("answered by the fallback"))
        (workspace / ".tau").mkdir()
        (workspace / ".tau" / "config.toml").write_text(
            "max_retries = 1\n[fallbacks]\n"
            '"anthropic/claude-sonnet-4-5" = ["openrouter/anthropic/claude-sonnet-4.5"]\n'
        )
        env = tau_env(
            ANTHROPIC_API_KEY="sk-ant-secret-1",
            ANTHROPIC_BASE_URL=primary.url,
            OPENROUTER_API_KEY="sk-or-secret-2",
            TAU_OPENROUTER_BASE_URL=fallback.url + "/api/v1",
        )
        proc = run_tau(
            ["-p", "hello", "--model", "anthropic/claude-sonnet-4-5", "--no-color"],
            workspace,
            env=env,
            timeout=90,
        )
        assert proc.returncode == 0, proc.stderr
        assert "answered by the fallback" in proc.stdout
        assert len(primary.requests) == 2  # the first try and one retry
        assert "tau: retry:" in proc.stderr
        assert "tau: fallback:" in proc.stderr and "openrouter" in proc.stderr
        text = (workspace / ".tau" / "logs" / "provider.jsonl").read_text()
        records = [json.loads(line) for line in text.splitlines()]
        assert {r["provider"] for r in records} == {"anthropic", "openrouter"}
        assert "secret" not in text
