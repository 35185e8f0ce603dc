"""End-to-end: budgets, record/replay and compaction through ``tau -p``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.tau_process import run_tau, tau_env
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

WIRE = Path(__file__).parents[1] / "fixtures" / "wire"


def _args(server: ScriptedServer, model: str = "openai/gpt-test") -> list[str]:
    return ["--model", model, "--base-url", server.url + "/v1", "--no-color"]


def _env() -> dict[str, str]:
    return tau_env(OPENAI_API_KEY="sk-test")


def _read(cid: str) -> dict[str, object]:
    return {"id": cid, "name": "read", "arguments": {"path": "a.txt"}}


def test_max_tokens_stops_cleanly_and_session_resumes(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    (workspace / "a.txt").write_text("x\n")
    scripted_server.add(
        openai_answer("", [_read("c1")], prompt_tokens=900, completion_tokens=200),
        openai_answer("never reached"),
    )
    proc = run_tau(
        ["-p", "go", *_args(scripted_server), "--max-tokens", "1000", "--output-format", "json"],
        workspace,
        env=_env(),
    )
    assert proc.returncode == 1
    data = json.loads(proc.stdout.splitlines()[-1])
    assert data["stop_reason"] == "budget"
    assert "token budget reached" in proc.stderr
    assert len(scripted_server.requests) == 1
    scripted_server.reset()
    scripted_server.add(openai_answer("resumed fine"))
    again = run_tau(
        ["-p", "continue", "--continue", *_args(scripted_server)], workspace, env=_env()
    )
    assert again.returncode == 0, again.stderr
    assert "resumed fine" in again.stdout


def test_max_cost_uses_catalog_prices(scripted_server: ScriptedServer, workspace: Path) -> None:
    (workspace / "a.txt").write_text("x\n")
    scripted_server.add(
        openai_answer("", [_read("c1")], prompt_tokens=2_000_000, completion_tokens=10),
        openai_answer("never reached"),
    )
    proc = run_tau(
        [
            "-p",
            "go",
            *_args(scripted_server, "openai/gpt-4.1"),
            "--max-cost",
            "0.5",
            "--output-format",
            "json",
        ],
        workspace,
        env=_env(),
    )
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout.splitlines()[-1])
    assert data["stop_reason"] == "budget"
    assert data["cost_usd"] is not None and data["cost_usd"] > 0.5
    assert "cost budget reached" in proc.stderr


def test_record_then_replay_offline(scripted_server: ScriptedServer, workspace: Path) -> None:
    (workspace / "a.txt").write_text("hello\n")
    scripted_server.add(openai_answer("Reading.", [_read("c1")]), openai_answer("It says hello."))
    script = workspace.parent / "rec.json"
    proc = run_tau(
        ["-p", "what is in a.txt", *_args(scripted_server), "--record", str(script)],
        workspace,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    recorded = json.loads(script.read_text())
    assert recorded["version"] == 1 and len(recorded["turns"]) == 2
    assert recorded["turns"][0]["tool_calls"][0]["name"] == "read"
    assert recorded["turns"][0]["request"]["messages"][-1]["content"] == "what is in a.txt"
    assert "sk-test" not in script.read_text()
    replay = run_tau(
        [
            "-p",
            "what is in a.txt",
            "--model",
            "offline/replay",
            "--script",
            str(script),
            "--no-color",
            "--output-format",
            "json",
        ],
        workspace,
    )
    assert replay.returncode == 0, replay.stderr
    data = json.loads(replay.stdout.splitlines()[-1])
    assert data["result"] == "It says hello."
    assert [c["name"] for c in data["tool_calls"]] == ["read"]


def test_automatic_compaction_keeps_recent_turns(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    (workspace / ".tau").mkdir()
    (workspace / ".tau" / "config.toml").write_text(
        "compaction_threshold = 0.0001\nkeep_recent_turns = 1\n"
    )
    scripted_server.add(openai_answer("first answer"))
    assert (
        run_tau(["-p", "first question", *_args(scripted_server)], workspace, env=_env()).returncode
        == 0
    )
    scripted_server.add(
        openai_answer("SUMMARY: the user asked a first question."), openai_answer("second answer")
    )
    proc = run_tau(
        ["-p", "second question", "--continue", *_args(scripted_server)], workspace, env=_env()
    )
    assert proc.returncode == 0, proc.stderr
    assert "compacted the conversation" in proc.stderr
    summary_request = scripted_server.requests[1].json
    assert not summary_request.get("tools")  # summarizing offers no tools
    assert "first question" in summary_request["messages"][-1]["content"]
    real = scripted_server.requests[2].json["messages"]
    contents = "\n".join(str(m.get("content")) for m in real)
    assert "SUMMARY: the user asked a first question." in contents
    assert "second question" in contents
    assert "first answer" not in contents
    # Nothing is lost: the session still holds the original messages.
    sid = json.loads(run_tau(["sessions", "list", "--json"], workspace).stdout)[0]["id"]
    shown = run_tau(["sessions", "show", sid, "--json"], workspace).stdout
    assert "first answer" in shown


def test_context_length_error_compacts_once_and_retries(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(openai_answer("first answer"))
    assert (
        run_tau(["-p", "first question", *_args(scripted_server)], workspace, env=_env()).returncode
        == 0
    )
    error = (WIRE / "openai_error_400_context_length_exceeded.json").read_bytes()
    scripted_server.add(
        ScriptedResponse.json(400, error),
        openai_answer("SUMMARY of the first turn"),
        openai_answer("answer after compaction"),
    )
    proc = run_tau(
        ["-p", "second question", "--continue", *_args(scripted_server)], workspace, env=_env()
    )
    assert proc.returncode == 0, proc.stderr
    assert "answer after compaction" in proc.stdout
    assert len(scripted_server.requests) == 4
    # A second context-length error after compacting is a clear failure, not a loop.
    scripted_server.add(
        ScriptedResponse.json(400, error),
        openai_answer("SUMMARY again"),
        ScriptedResponse.json(400, error),
    )
    proc = run_tau(
        ["-p", "third question", "--continue", *_args(scripted_server)], workspace, env=_env()
    )
    assert proc.returncode == 1
    assert "context" in proc.stderr and "Traceback" not in proc.stderr


def test_whole_turn_deadline(scripted_server: ScriptedServer, workspace: Path) -> None:
    (workspace / ".tau").mkdir()
    (workspace / ".tau" / "config.toml").write_text("turn_deadline_s = 0.5\n")
    scripted_server.add(openai_answer("slow " * 200, chunk_size=5, delay_s=0.02))
    proc = run_tau(
        ["-p", "hi", *_args(scripted_server), "--output-format", "json"], workspace, env=_env()
    )
    assert proc.returncode == 1
    assert "longer than 0.5s" in proc.stderr
    data = json.loads(proc.stdout.splitlines()[-1])
    # What streamed before the deadline is kept, and is the result (see
    # test_headless_real_servers for the exact partial).
    assert data["stop_reason"] == "error" and ("slow " * 200).startswith(data["result"])
