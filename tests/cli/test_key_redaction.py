"""End-to-end: the values of the user's provider keys never reach a provider request,
the store, the output or a recording, even when a tool prints them or a server echoes
them back in an error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.tau_process import run_tau, tau_env
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

KEY = "sk-proj-REAL-user-key-0123456789abcdef"
DOTENV_KEY = "sk-ant-api03-from-the-dotenv-file-42424242"
MARK = "[REDACTED:OPENAI_API_KEY]"


def _args(server: ScriptedServer, *extra: str) -> list[str]:
    return ["--model", "openai/gpt-test", "--base-url", server.url + "/v1", "--no-color", *extra]


def _everything_tau_wrote(workspace: Path) -> bytes:
    """Every byte under .tau/ (the store, its WAL, logs)."""
    return b"".join(p.read_bytes() for p in (workspace / ".tau").rglob("*") if p.is_file())


def _tool_results(server: ScriptedServer) -> list[str]:
    return [m["content"] for m in server.requests[-1].json["messages"] if m["role"] == "tool"]


def test_bash_env_and_reading_dotenv_show_no_key_value(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    (workspace / ".env").write_text(f"ANTHROPIC_API_KEY={DOTENV_KEY}\n")
    scripted_server.add(
        openai_answer(
            "",
            [
                {"id": "c1", "name": "bash", "arguments": {"command": "env"}},
                {"id": "c2", "name": "read", "arguments": {"path": ".env"}},
            ],
        ),
        openai_answer("Your environment looks fine."),
    )
    proc = run_tau(
        [
            "-p",
            "check my setup",
            *_args(scripted_server, "--approval", "full-auto", "--output-format", "json"),
        ],
        workspace,
        env=tau_env(OPENAI_API_KEY=KEY),
    )
    assert proc.returncode == 0, proc.stderr
    # The key really was in use...
    assert scripted_server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    env_out, dotenv_out = _tool_results(scripted_server)
    # ...and the model saw only its name.
    assert f"OPENAI_API_KEY={MARK}" in env_out
    assert "ANTHROPIC_API_KEY=[REDACTED:ANTHROPIC_API_KEY]" in dotenv_out
    for request in scripted_server.requests:
        assert KEY.encode() not in request.body and DOTENV_KEY.encode() not in request.body
    stored = _everything_tau_wrote(workspace)
    assert KEY.encode() not in stored and DOTENV_KEY.encode() not in stored
    assert MARK.encode() in stored
    assert KEY not in proc.stdout and KEY not in proc.stderr


@pytest.mark.parametrize("fmt", ["text", "json", "stream-json"])
def test_a_401_that_echoes_the_key_is_redacted_everywhere(
    scripted_server: ScriptedServer, workspace: Path, tmp_path: Path, fmt: str
) -> None:
    scripted_server.add(
        ScriptedResponse.json(
            401,
            {
                "error": {
                    "message": f"Incorrect API key provided: {KEY}. You can find your API key at "
                    "https://platform.openai.com/account/api-keys.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
        )
    )
    record = tmp_path / "run.json"
    proc = run_tau(
        ["-p", "hi", *_args(scripted_server, "--output-format", fmt, "--record", str(record))],
        workspace,
        env=tau_env(OPENAI_API_KEY=KEY),
    )
    assert proc.returncode == 1
    assert KEY not in proc.stdout and KEY not in proc.stderr
    assert MARK in (proc.stdout if fmt == "stream-json" else proc.stderr)
    if fmt == "json":
        assert MARK in json.loads(proc.stdout.splitlines()[-1])["error"]
    assert KEY.encode() not in _everything_tau_wrote(workspace)
    assert KEY not in record.read_text() and MARK in record.read_text()


def test_an_attached_dotenv_is_redacted_before_it_is_sent(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    (workspace / ".env").write_text(f"OPENAI_API_KEY={KEY}\n")
    scripted_server.add(openai_answer("noted"))
    env = {k: v for k, v in tau_env().items() if k != "OPENAI_API_KEY"}
    proc = run_tau(["-p", "what is in @.env?", *_args(scripted_server)], workspace, env=env)
    assert proc.returncode == 0, proc.stderr
    sent = scripted_server.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}"  # the .env key is used...
    assert KEY.encode() not in sent.body and MARK in sent.json["messages"][-1]["content"]
    assert KEY.encode() not in _everything_tau_wrote(workspace)


@pytest.mark.skipif(not os.path.exists("/proc/self/environ"), reason="needs /proc")
def test_agents_md_linked_to_the_environment_stays_out_of_the_prompt(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    (workspace / "AGENTS.md").symlink_to("/proc/self/environ")
    scripted_server.add(openai_answer("hi"))
    proc = run_tau(
        ["-p", "hi", *_args(scripted_server)],
        workspace,
        env=tau_env(OPENAI_API_KEY=KEY, UNRELATED_SECRET="hunter2-hunter2"),
    )
    assert proc.returncode == 0, proc.stderr
    body = scripted_server.requests[0].body
    assert KEY.encode() not in body and b"hunter2-hunter2" not in body
    assert "guidance file AGENTS.md not loaded: it links to /proc/" in proc.stderr


def test_a_retried_error_that_echoes_the_key_is_redacted_in_the_notice(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(
        ScriptedResponse.json(500, {"error": {"message": f"upstream rejected {KEY}"}}),
        openai_answer("recovered"),
    )
    proc = run_tau(
        ["-p", "hi", *_args(scripted_server)], workspace, env=tau_env(OPENAI_API_KEY=KEY)
    )
    assert proc.returncode == 0, proc.stderr
    retry = [line for line in proc.stderr.splitlines() if line.startswith("tau: retry:")]
    assert retry and MARK in retry[0] and KEY not in proc.stderr
    assert KEY.encode() not in _everything_tau_wrote(workspace)
