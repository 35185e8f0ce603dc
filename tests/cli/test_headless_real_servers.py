"""End-to-end: ``tau -p`` against servers that behave like real third-party ones
(llama-cpp-python, Ollama, proxies), on the loopback scripted server."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.cli.tau_process import run_tau, tau_env
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedResponse, ScriptedServer
from tests.support.strict_wire import openai_chat_problems, strict_responder
from tests.support.whole_answers import chat_completion, llama_cpp_tool_call


def _local(server: ScriptedServer) -> list[str]:
    """A local OpenAI-compatible server reached with no key, as llama-cpp-python is."""
    return ["--model", "openai/qwen2.5-7b-instruct", "--base-url", server.url + "/v1",
            "--no-color"]


def _last_json(stdout: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(stdout.splitlines()[-1])
    return data


def test_a_whole_json_answer_is_used_not_retried(scripted_server: ScriptedServer,
                                                 workspace: Path) -> None:
    (workspace / "a.txt").write_text("alpha\n")
    scripted_server.add(ScriptedResponse.json(200, llama_cpp_tool_call()),
                        ScriptedResponse.json(200, chat_completion("It says alpha.")))
    proc = run_tau(["-p", "what is in a.txt", *_local(scripted_server),
                    "--output-format", "json"], workspace, env=tau_env())
    assert proc.returncode == 0, proc.stderr
    data = _last_json(proc.stdout)
    assert data["result"] == "It says alpha." and data["turns"] == 2
    assert len(scripted_server.requests) == 2  # before: five of each, then a failure
    assert "retry" not in proc.stderr


def test_a_tool_call_without_text_can_be_continued_on_the_strictest_server(
        scripted_server: ScriptedServer, workspace: Path) -> None:
    (workspace / "a.txt").write_text("alpha\n")
    scripted_server.responder = strict_responder(openai_chat_problems)
    scripted_server.add(ScriptedResponse.json(200, llama_cpp_tool_call()),
                        openai_answer("It says alpha."))
    first = run_tau(["-p", "what is in a.txt", *_local(scripted_server)], workspace,
                    env=tau_env())
    assert first.returncode == 0, first.stderr
    scripted_server.add(openai_answer("Still alpha."))
    again = run_tau(["-p", "and now?", "--continue", *_local(scripted_server)], workspace,
                    env=tau_env())
    assert again.returncode == 0, again.stderr
    assert "Still alpha." in again.stdout
    history = scripted_server.requests[-1].json["messages"]
    assert history[2]["role"] == "assistant" and history[2]["content"] == ""
    assert all(openai_chat_problems(r.json) == [] for r in scripted_server.requests)


def test_an_unreachable_local_server_fails_fast(workspace: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = run_tau(["-p", "hi", "--model", "ollama/qwen2.5:7b", "--base-url",
                    f"http://127.0.0.1:{port}/v1", "--no-color"], workspace, env=tau_env())
    assert proc.returncode == 1
    assert f"is the server running at http://127.0.0.1:{port}?" in proc.stderr
    assert "tau: retry:" not in proc.stderr  # before: four retries over 7.5 s
    assert "Traceback" not in proc.stderr


def test_a_404_names_the_url_and_the_v1_hint(scripted_server: ScriptedServer,
                                            workspace: Path) -> None:
    scripted_server.add(ScriptedResponse.json(404, {"detail": "Not Found"}))
    proc = run_tau(["-p", "hi", "--model", "openai/gpt-5", "--base-url", scripted_server.url,
                    "--no-color"], workspace, env=tau_env())
    assert proc.returncode == 1
    assert f"POST {scripted_server.url}/chat/completions" in proc.stderr
    assert "/v1" in proc.stderr


def test_a_401_with_no_key_names_the_variable_to_set(scripted_server: ScriptedServer,
                                                     workspace: Path) -> None:
    scripted_server.add(ScriptedResponse.json(401, {"error": {"message": "Unauthorized"}}))
    proc = run_tau(["-p", "hi", *_local(scripted_server)], workspace, env=tau_env())
    assert proc.returncode == 1
    assert "no API key was sent: set OPENAI_API_KEY" in proc.stderr
