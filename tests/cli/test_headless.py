"""End-to-end tests of ``tau -p``: the real command in temp git repos, against the
loopback scripted OpenAI-compatible server."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.cli.tau_process import TAU, run_tau, tau_env
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedResponse, ScriptedServer


def _model_args(server: ScriptedServer) -> list[str]:
    return ["--model", "openai/gpt-test", "--base-url", server.url + "/v1", "--no-color"]


def _env() -> dict[str, str]:
    return tau_env(OPENAI_API_KEY="sk-test")


def _call(cid: str, name: str, **arguments: object) -> dict[str, object]:
    return {"id": cid, "name": name, "arguments": arguments}


def test_read_edit_bash_answer(scripted_server: ScriptedServer, workspace: Path) -> None:
    (workspace / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    scripted_server.add(
        openai_answer("Let me look.", [_call("c1", "read", path="calc.py")]),
        openai_answer(
            "", [_call("c2", "edit", path="calc.py", old_string="a - b", new_string="a + b")]
        ),
        openai_answer(
            "", [_call("c3", "bash", command="python3 -c 'import calc; print(calc.add(2, 3))'")]
        ),
        openai_answer("Fixed: add now adds. The check printed 5."),
    )
    proc = run_tau(
        ["-p", "fix the add function", *_model_args(scripted_server), "--approval", "full-auto"],
        workspace,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "return a + b" in (workspace / "calc.py").read_text()
    assert "Fixed: add now adds." in proc.stdout
    assert "tool=read path=calc.py ok" in proc.stderr
    assert "tool=edit path=calc.py ok" in proc.stderr
    assert "tool=bash" in proc.stderr and " ok" in proc.stderr.splitlines()[-1]
    # The model saw the bash output in its fourth request.
    last = scripted_server.requests[-1].json
    tool_msgs = [m for m in last["messages"] if m["role"] == "tool"]
    assert "5" in tool_msgs[-1]["content"]
    assert last["stream"] is True and last["stream_options"] == {"include_usage": True}
    assert (workspace / ".tau" / "tau.db").exists()
    assert (workspace / ".tau" / ".gitignore").exists()


def test_headless_default_denies_bash_and_tells_the_model(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(
        openai_answer("", [_call("c1", "bash", command="touch hacked")]),
        openai_answer("I could not run it."),
    )
    proc = run_tau(["-p", "run it", *_model_args(scripted_server)], workspace, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert not (workspace / "hacked").exists()
    assert "tool=bash command=touch hacked denied" in proc.stderr
    denial = [m for m in scripted_server.requests[1].json["messages"] if m["role"] == "tool"]
    assert "denied" in denial[0]["content"]


def test_json_output_is_one_line_with_totals(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    (workspace / "a.txt").write_text("hello\n")
    scripted_server.add(
        openai_answer(
            "", [_call("c1", "read", path="a.txt")], prompt_tokens=100, completion_tokens=7
        ),
        openai_answer("It says hello.", prompt_tokens=120, completion_tokens=5),
    )
    proc = run_tau(
        ["-p", "what does a.txt say", *_model_args(scripted_server), "--output-format", "json"],
        workspace,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    data = json.loads(last)
    assert data["result"] == "It says hello."
    assert data["stop_reason"] == "end_turn"
    assert data["turns"] == 2
    assert data["usage"] == {"input_tokens": 220, "output_tokens": 12}
    assert data["tool_calls"] == [
        {"name": "read", "arguments": {"path": "a.txt"}, "ok": True, "denied": False}
    ]
    assert data["is_error"] is False and data["exit_code"] == 0
    assert data["permission_denials"] == 0
    assert len(data["session_id"]) == 32
    assert data["duration_ms"] > 0
    assert "cost_usd" in data


def test_stream_json_is_one_event_per_line(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(openai_answer("streamed words here", chunk_size=3))
    proc = run_tau(
        ["-p", "hi", *_model_args(scripted_server), "--output-format", "stream-json"],
        workspace,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    everything = [json.loads(line) for line in proc.stdout.splitlines()]
    # The notices of opening (openai/gpt-test is not in the catalog) come first and are in
    # no session's log; then the session's own events.
    opening = [e for e in everything if not e["session_id"]]
    assert [(e["type"], e["seq"], e["kind"]) for e in opening] == [("notice", 0, "model")]
    assert everything[: len(opening)] == opening
    events = everything[len(opening) :]
    types = [e["type"] for e in events]
    assert types[:3] == ["session_started", "run_started", "user_message"]
    assert types[-2:] == ["run_finished", "session_finished"]
    run_ids = {e["run_id"] for e in events if "run_id" in e}
    assert len(run_ids) == 1 and events[-1]["reason"] == "closed"
    assert {"turn_started", "text_delta", "usage", "turn_finished"} <= set(types)
    assert "".join(e["text"] for e in events if e["type"] == "text_delta") == "streamed words here"
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(e["v"] == 2 and e["session_id"] for e in events)
    assert all(e["v"] == 2 for e in opening)


def test_continue_and_resume_carry_history(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(
        openai_answer("first answer"), openai_answer("second answer"), openai_answer("third answer")
    )
    first = run_tau(
        ["-p", "first question", *_model_args(scripted_server), "--output-format", "json"],
        workspace,
        env=_env(),
    )
    assert first.returncode == 0, first.stderr
    sid = json.loads(first.stdout.splitlines()[-1])["session_id"]
    second = run_tau(
        ["-p", "second question", "--continue", *_model_args(scripted_server)],
        workspace,
        env=_env(),
    )
    assert second.returncode == 0, second.stderr
    contents = [m.get("content") for m in scripted_server.requests[1].json["messages"]]
    assert "first question" in contents and "first answer" in contents
    third = run_tau(
        [
            "-p",
            "third",
            "--resume",
            sid[:8],
            *_model_args(scripted_server),
            "--output-format",
            "json",
        ],
        workspace,
        env=_env(),
    )
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout.splitlines()[-1])["session_id"] == sid
    assert len(scripted_server.requests[2].json["messages"]) == 6  # system + 5


def test_piped_stdin_is_attached_and_dash_reads_prompt(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(openai_answer("a missing import"), openai_answer("ok"))
    proc = run_tau(
        ["-p", "why did this fail?", *_model_args(scripted_server)],
        workspace,
        env=_env(),
        input="ImportError: no module named foo\n",
    )
    assert proc.returncode == 0, proc.stderr
    user = scripted_server.requests[0].json["messages"][-1]["content"]
    assert user.startswith("why did this fail?") and "ImportError: no module named foo" in user
    proc = run_tau(
        ["-p", "-", *_model_args(scripted_server)], workspace, env=_env(), input="prompt from stdin"
    )
    assert proc.returncode == 0, proc.stderr
    assert scripted_server.requests[1].json["messages"][-1]["content"] == "prompt from stdin"


def test_nothing_set_up_exits_2_pointing_at_tau_onboard(workspace: Path) -> None:
    proc = run_tau(["-p", "hello there", "--no-color"], workspace)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "nothing is set up here" in proc.stderr and "tau onboard" in proc.stderr
    assert not (workspace / ".tau").exists()  # nothing was written


def test_offline_default_without_keys_once_the_workspace_is_set_up(workspace: Path) -> None:
    (workspace / ".tau").mkdir()
    proc = run_tau(["-p", "hello there", "--no-color"], workspace)
    assert proc.returncode == 0, proc.stderr
    assert "offline/echo" in proc.stdout
    assert "no model configured" in proc.stderr


def test_offline_replay_script(workspace: Path) -> None:
    script = workspace / "script.json"
    script.write_text(
        json.dumps(
            {
                "version": 1,
                "turns": [
                    {
                        "tool_calls": [
                            {
                                "name": "write",
                                "arguments": {"path": "out.txt", "content": "made offline\n"},
                            }
                        ]
                    },
                    {"text": "Wrote out.txt."},
                ],
            }
        )
    )
    proc = run_tau(
        ["-p", "make a file", "--model", "offline/replay", "--script", str(script), "--no-color"],
        workspace,
    )
    assert proc.returncode == 0, proc.stderr
    assert (workspace / "out.txt").read_text() == "made offline\n"
    assert "Wrote out.txt." in proc.stdout


def test_outside_workspace_is_refused_even_in_full_auto(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    secret = workspace.parent / "secret.txt"
    secret.write_text("top secret")
    scripted_server.add(
        openai_answer(
            "",
            [
                _call("c1", "read", path="../secret.txt"),
                _call("c2", "write", path="/tmp/../" + str(secret), content="x"),
            ],
        ),
        openai_answer("I cannot read outside the workspace."),
    )
    proc = run_tau(
        ["-p", "read the secret", *_model_args(scripted_server), "--approval", "full-auto"],
        workspace,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert secret.read_text() == "top secret"
    results = [m for m in scripted_server.requests[1].json["messages"] if m["role"] == "tool"]
    assert all("outside the workspace" in m["content"] for m in results)
    assert "top secret" not in json.dumps(scripted_server.requests[1].json)


# -- exit codes and bad input ---------------------------------------------------------


def test_provider_error_exits_1_with_one_line(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    body = Path(__file__).parents[1] / "fixtures/wire/openai_error_401_invalid_api_key.json"
    scripted_server.add(ScriptedResponse.json(401, body.read_bytes()))
    proc = run_tau(["-p", "hi", *_model_args(scripted_server)], workspace, env=_env())
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "401" in proc.stderr and "Incorrect API key" in proc.stderr


def test_broken_stream_exits_1_and_keeps_partial(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    answer = openai_answer(
        "partial words before the cut", chunk_size=4, cut=True, done=False, usage=False
    )
    answer.chunks = answer.chunks[:-1]  # drop the finish chunk too: a real mid-answer cut
    scripted_server.add(answer)
    proc = run_tau(
        ["-p", "hi", *_model_args(scripted_server), "--output-format", "json"],
        workspace,
        env=_env(),
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "stream" in proc.stderr
    data = json.loads(proc.stdout.splitlines()[-1])
    assert data["stop_reason"] == "error"
    show = run_tau(["sessions", "show", data["session_id"], "--json"], workspace)
    messages = json.loads(show.stdout)["messages"]
    assert messages[-1]["message"]["meta"]["incomplete"] is True
    assert messages[-1]["message"]["content"].startswith("partial words")


def test_max_turns_exits_1(scripted_server: ScriptedServer, workspace: Path) -> None:
    (workspace / "a.txt").write_text("x")
    scripted_server.add(
        *[openai_answer("", [_call(f"c{i}", "read", path="a.txt")]) for i in range(3)]
    )
    proc = run_tau(
        ["-p", "loop", *_model_args(scripted_server), "--max-turns", "2"], workspace, env=_env()
    )
    assert proc.returncode == 1
    assert "max-turns" in proc.stderr
    assert len(scripted_server.requests) == 2


def test_bad_usage_exits_2(workspace: Path) -> None:
    cases = [
        (["-p", "hi", "--model", "nosuch/model"], "unknown provider"),
        (["-p", "hi", "--model", "openai/gpt-4o"], "OPENAI_API_KEY"),
        (["-p", "hi", "--approval", "yolo"], "invalid choice"),
        (["-p", "   "], "empty"),
        (["-p", "hi", "--max-turns", "0"], "max-turns"),
        (["-p", "hi", "--workspace", str(workspace / "nope")], "not a directory"),
        (
            ["-p", "hi", "--model", "offline/replay", "--script", str(workspace / "none.json")],
            "none.json",
        ),
        (["--resume", "deadbeef", "-p", "hi"], "deadbeef"),
    ]
    for args, needle in cases:
        proc = run_tau([*args, "--no-color"], workspace)
        assert proc.returncode == 2, (args, proc.stderr)
        assert needle in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_dash_prompt_with_empty_stdin_exits_2(workspace: Path) -> None:
    proc = run_tau(["-p", "-"], workspace, input="")
    assert proc.returncode == 2 and "stdin was empty" in proc.stderr


def test_malformed_config_exits_2_naming_file_and_line(workspace: Path) -> None:
    (workspace / ".tau").mkdir()
    (workspace / ".tau" / "config.toml").write_text('model = "offline/echo"\nmax_turns = "x"\n')
    proc = run_tau(["-p", "hi"], workspace)
    assert proc.returncode == 2
    assert ".tau/config.toml:2: max_turns" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sigint_interrupts_with_130_and_keeps_partial(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    answer = openai_answer("word " * 400, chunk_size=5, delay_s=0.02)
    scripted_server.add(answer)
    proc = subprocess.Popen(
        [*TAU, "-p", "talk", *_model_args(scripted_server)],
        cwd=workspace,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.read(20)  # wait until the answer is streaming
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    listing = run_tau(["sessions", "list", "--json"], workspace)
    sid = json.loads(listing.stdout)[0]["id"]
    show = json.loads(run_tau(["sessions", "show", sid, "--json"], workspace).stdout)
    assert show["messages"][-1]["message"]["meta"].get("interrupted") is True


def test_kill_9_mid_turn_then_clean_resume(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(openai_answer("first answer"))
    first = run_tau(["-p", "first question", *_model_args(scripted_server)], workspace, env=_env())
    assert first.returncode == 0, first.stderr
    scripted_server.add(openai_answer("slow " * 2000, chunk_size=5, delay_s=0.01))
    proc = subprocess.Popen(
        [*TAU, "-p", "second question", "--continue", *_model_args(scripted_server)],
        cwd=workspace,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.read(50)
    proc.kill()
    proc.wait(timeout=10)
    time.sleep(0.1)
    scripted_server.add(openai_answer("recovered"))
    third = run_tau(
        ["-p", "third question", "--continue", *_model_args(scripted_server)], workspace, env=_env()
    )
    assert third.returncode == 0, third.stderr
    contents = [m.get("content") for m in scripted_server.requests[-1].json["messages"]]
    assert "first question" in contents and "first answer" in contents
    assert "third question" in contents
    with sqlite3.connect(workspace / ".tau/tau.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_at_mentions_attach_files_headless(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    (workspace / "notes.md").write_text("the answer is 42\n")
    scripted_server.add(openai_answer("It says 42."))
    proc = run_tau(
        ["-p", "what does @notes.md say?", *_model_args(scripted_server)], workspace, env=_env()
    )
    assert proc.returncode == 0, proc.stderr
    sent = scripted_server.requests[0].json["messages"][-1]["content"]
    assert sent.startswith("what does @notes.md say?")
    assert '<attached_file path="notes.md">\nthe answer is 42' in sent


def test_reader_going_away_ends_quietly(workspace: Path, tmp_path: Path) -> None:
    script = tmp_path / "long.json"
    script.write_text(json.dumps({"version": 1, "turns": [{"text": "word " * 100_000}]}))
    proc = subprocess.Popen(
        [*TAU, "-p", "talk", "--model", "offline/replay", "--script", str(script)],
        cwd=workspace,
        env=tau_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(20) == b"word word word word "
    proc.stdout.close()  # like `tau -p ... | head -c 20`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 141
    assert err == ""
