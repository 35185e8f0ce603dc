"""``tau -p`` killed with SIGKILL at random moments of tool-heavy runs: every later
``--continue`` is accepted by a server as strict as OpenAI about unanswered tool calls."""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.cli.tau_process import TAU, run_tau, tau_env
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import RecordedRequest, ScriptedResponse, ScriptedServer
from tests.support.strict_history import strict_openai

ITERATIONS = 5


def _args(server: ScriptedServer) -> list[str]:
    return [
        "--model",
        "openai/gpt-test",
        "--base-url",
        server.url + "/v1",
        "--no-color",
        "--approval",
        "full-auto",
        "--max-turns",
        "50",
    ]


def _tool_heavy(counter: itertools.count[int]) -> Callable[[RecordedRequest], ScriptedResponse]:
    """Every request gets three tool calls (read, bash, write), streamed slowly enough
    that a kill can land mid-stream, mid-tool or between the two; "wrap up" ends it."""

    def answer(request: RecordedRequest) -> ScriptedResponse:
        messages = request.json["messages"]
        last_user = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        if last_user == "wrap up":
            return openai_answer("All done.")
        n = next(counter)
        calls = [
            {"id": f"call_{n}_read", "name": "read", "arguments": {"path": "notes.txt"}},
            {
                "id": f"call_{n}_bash",
                "name": "bash",
                "arguments": {"command": f"sleep 0.3; echo step {n}"},
            },
            {
                "id": f"call_{n}_write",
                "name": "write",
                "arguments": {"path": f"out/{n}.txt", "content": f"step {n}\n"},
            },
        ]
        return openai_answer(f"Step {n}: working.", calls, chunk_size=4, delay_s=0.005)

    return answer


def test_kill_9_at_random_points_then_continue_is_accepted(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    (workspace / "notes.txt").write_text("remember the milk\n")
    rejected = strict_openai(scripted_server, _tool_heavy(itertools.count()))
    rng = random.Random(20261201)
    env = tau_env(OPENAI_API_KEY="sk-test")
    for iteration in range(ITERATIONS):
        proc = subprocess.Popen(
            [*TAU, "-p", "keep working", "--continue", *_args(scripted_server)],
            cwd=workspace,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stderr is not None
        try:
            # Let a random number of tool calls finish, then kill at a random moment of
            # what follows: streaming, a tool running, or a result being stored. The
            # first kill always lands while bash sleeps, after read's result was stored.
            finished = 0
            wanted = rng.randrange(1, 6) if iteration else 1
            while finished < wanted:
                line = proc.stderr.readline()
                if not line:
                    break
                finished += line.startswith("tool=")
            time.sleep(rng.uniform(0.0, 0.35) if iteration else 0.1)
        finally:
            proc.kill()
            proc.wait(timeout=30)
        assert rejected == [], rejected
    done = run_tau(["-p", "wrap up", "--continue", *_args(scripted_server)], workspace, env=env)
    assert done.returncode == 0, done.stderr
    assert "All done." in done.stdout
    assert rejected == []
    with sqlite3.connect(workspace / ".tau" / "tau.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
        bodies = [
            json.loads(row[0]) for row in db.execute("SELECT body FROM messages ORDER BY rowid")
        ]
    calls = {c["id"] for m in bodies for c in m["tool_calls"]}
    answered = {m["tool_call_id"] for m in bodies if m["role"] == "tool"}
    # The kills did leave calls without a result: the case this test is about.
    assert calls - answered
