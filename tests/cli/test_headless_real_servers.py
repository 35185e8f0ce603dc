"""End-to-end: ``tau -p`` against servers that behave like real third-party ones
(llama-cpp-python, Ollama, proxies), on the loopback scripted server."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from tests.cli.tau_process import run_tau, tau_env
from tests.support.openai_script import openai_answer, openai_chunks
from tests.support.scripted_server import ScriptedResponse, ScriptedServer
from tests.support.strict_wire import openai_chat_problems, strict_responder
from tests.support.whole_answers import chat_completion, llama_cpp_tool_call


def _local(server: ScriptedServer) -> list[str]:
    """A local OpenAI-compatible server reached with no key, as llama-cpp-python is."""
    return ["--model", "openai/qwen2.5-7b-instruct", "--base-url", server.url + "/v1", "--no-color"]


def _last_json(stdout: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(stdout.splitlines()[-1])
    return data


def test_a_whole_json_answer_is_used_not_retried(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    (workspace / "a.txt").write_text("alpha\n")
    scripted_server.add(
        ScriptedResponse.json(200, llama_cpp_tool_call()),
        ScriptedResponse.json(200, chat_completion("It says alpha.")),
    )
    proc = run_tau(
        ["-p", "what is in a.txt", *_local(scripted_server), "--output-format", "json"],
        workspace,
        env=tau_env(),
    )
    assert proc.returncode == 0, proc.stderr
    data = _last_json(proc.stdout)
    assert data["result"] == "It says alpha." and data["turns"] == 2
    assert len(scripted_server.requests) == 2  # before: five of each, then a failure
    assert "retry" not in proc.stderr


def test_a_tool_call_without_text_can_be_continued_on_the_strictest_server(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    (workspace / "a.txt").write_text("alpha\n")
    scripted_server.responder = strict_responder(openai_chat_problems)
    scripted_server.add(
        ScriptedResponse.json(200, llama_cpp_tool_call()), openai_answer("It says alpha.")
    )
    first = run_tau(["-p", "what is in a.txt", *_local(scripted_server)], workspace, env=tau_env())
    assert first.returncode == 0, first.stderr
    scripted_server.add(openai_answer("Still alpha."))
    again = run_tau(
        ["-p", "and now?", "--continue", *_local(scripted_server)], workspace, env=tau_env()
    )
    assert again.returncode == 0, again.stderr
    assert "Still alpha." in again.stdout
    history = scripted_server.requests[-1].json["messages"]
    assert history[2]["role"] == "assistant" and history[2]["content"] == ""
    assert all(openai_chat_problems(r.json) == [] for r in scripted_server.requests)


def test_an_unreachable_local_server_fails_fast(workspace: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = run_tau(
        [
            "-p",
            "hi",
            "--model",
            "ollama/qwen2.5:7b",
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            "--no-color",
        ],
        workspace,
        env=tau_env(),
    )
    assert proc.returncode == 1
    assert f"is the server running at http://127.0.0.1:{port}?" in proc.stderr
    assert "tau: retry:" not in proc.stderr  # before: four retries over 7.5 s
    assert "Traceback" not in proc.stderr


def test_a_404_names_the_url_and_the_v1_hint(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(ScriptedResponse.json(404, {"detail": "Not Found"}))
    proc = run_tau(
        ["-p", "hi", "--model", "openai/gpt-5", "--base-url", scripted_server.url, "--no-color"],
        workspace,
        env=tau_env(),
    )
    assert proc.returncode == 1
    assert f"POST {scripted_server.url}/chat/completions" in proc.stderr
    assert "/v1" in proc.stderr


def test_a_401_with_no_key_names_the_variable_to_set(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(ScriptedResponse.json(401, {"error": {"message": "Unauthorized"}}))
    proc = run_tau(["-p", "hi", *_local(scripted_server)], workspace, env=tau_env())
    assert proc.returncode == 1
    assert "no API key was sent: set OPENAI_API_KEY" in proc.stderr


# -- usage the server never reports ----------------------------------------------------------


def test_usage_is_estimated_and_marked_when_the_server_reports_none(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(openai_answer("Hello from a local model. " * 8, usage=False))
    proc = run_tau(
        ["-p", "hi", *_local(scripted_server), "--output-format", "json"], workspace, env=tau_env()
    )
    assert proc.returncode == 0, proc.stderr
    usage = _last_json(proc.stdout)["usage"]
    assert isinstance(usage, dict) and usage["estimated"] is True
    assert usage["input_tokens"] > 100 and usage["output_tokens"] > 40  # before: 0 and 0


def test_stream_json_usage_events_say_estimated(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(openai_answer("hi there", usage=False))
    proc = run_tau(
        ["-p", "hi", *_local(scripted_server), "--output-format", "stream-json"],
        workspace,
        env=tau_env(),
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    [usage] = [e for e in events if e["type"] == "usage"]
    assert usage["usage"]["estimated"] is True and usage["total_usage"]["estimated"] is True


def test_max_tokens_holds_on_a_server_that_reports_no_usage(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    (workspace / "a.txt").write_text("alpha\n")
    read = {"id": "c1", "name": "read", "arguments": {"path": "a.txt"}}
    scripted_server.add(
        openai_answer("", [read], usage=False), openai_answer("never reached", usage=False)
    )
    proc = run_tau(
        [
            "-p",
            "read a.txt",
            *_local(scripted_server),
            "--max-tokens",
            "200",
            "--output-format",
            "json",
        ],
        workspace,
        env=tau_env(),
    )
    assert proc.returncode == 1
    assert _last_json(proc.stdout)["stop_reason"] == "budget"
    assert len(scripted_server.requests) == 1  # before: 0 tokens counted, both calls made
    assert "(estimated) >= --max-tokens 200" in proc.stderr
    scripted_server.reset()


# -- partial answers in the JSON result -------------------------------------------------------


def test_the_partial_answer_of_a_broken_stream_is_in_the_json_result(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(
        openai_answer(
            "The answer is that the cache", cut=True, done=False, usage=False, finish_chunk=False
        )
    )
    proc = run_tau(
        ["-p", "why is it slow?", *_local(scripted_server), "--output-format", "json"],
        workspace,
        env=tau_env(),
    )
    assert proc.returncode == 1
    data = _last_json(proc.stdout)
    assert data["stop_reason"] == "error"
    assert data["result"] == "The answer is that the cache"  # before: ""


def test_the_partial_answer_at_the_turn_deadline_is_in_the_json_result(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    (Path(os.environ["TAU_CONFIG_DIR"]) / "config.toml").write_text("turn_deadline_s = 1.5\n")
    # The first words come at once; the rest only after the deadline has passed.
    chunks = openai_chunks("First words, then a long pause.", chunk_size=12)
    scripted_server.add(ScriptedResponse(chunks=[chunks[0] + chunks[1], *chunks[2:]], delay_s=3.0))
    proc = run_tau(
        ["-p", "go", *_local(scripted_server), "--output-format", "json"], workspace, env=tau_env()
    )
    assert proc.returncode == 1
    data = _last_json(proc.stdout)
    assert "took longer than 1.5s" in str(data["error"])
    assert data["result"] == "First words,"  # kept in the session, and now the result
