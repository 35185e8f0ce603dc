"""``tau jobs`` end to end: the real command in a temp workspace."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from tests.cli.tau_process import run_tau, tau_env
from tests.jobs.support import bash_turn, text_turn, write_script
from tests.support.anthropic_script import anthropic_answer
from tests.support.scripted_server import ScriptedServer


def tau_json(args: list[str], cwd: Path, **kwargs: Any) -> Any:
    proc = run_tau([*args, "--json"], cwd, **kwargs)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def submit(cwd: Path, *args: str, **kwargs: Any) -> dict[str, Any]:
    data: dict[str, Any] = tau_json(["jobs", "submit", *args], cwd, **kwargs)
    return data


def test_submit_list_show_and_dedup(workspace: Path) -> None:
    low = submit(workspace, "-p", "first", "--model", "offline/echo")
    high = submit(
        workspace,
        "-p",
        "urgent",
        "--model",
        "offline/echo",
        "--priority",
        "7",
        "--key",
        "nightly",
        "--max-attempts",
        "2",
    )
    assert low["created"] and high["created"]
    job = high["job"]
    assert (job["state"], job["reason"], job["priority"], job["max_attempts"], job["key"]) == (
        "queued",
        "submitted",
        7,
        2,
        "nightly",
    )
    assert job["inputs"] == {"prompt": "urgent", "model": "offline/echo", "approval": "auto-edit"}
    again = submit(workspace, "-p", "urgent", "--model", "offline/echo", "--key", "nightly")
    assert not again["created"] and again["job"]["id"] == job["id"]
    text = run_tau(
        ["jobs", "submit", "-p", "urgent", "--model", "offline/echo", "--key", "nightly"], workspace
    )
    assert text.returncode == 0 and "already holds key 'nightly'" in text.stdout
    clash = run_tau(["jobs", "submit", "-p", "other", "--key", "nightly"], workspace)
    assert clash.returncode == 2 and clash.stderr.startswith(
        "tau: error: key 'nightly' is held by live job"
    )
    listed = tau_json(["jobs", "list"], workspace)
    assert [j["id"] for j in listed] == [job["id"], low["job"]["id"]]
    assert listed[0]["operator"] == {
        "state": "queued",
        "next_command": "tau jobs run",
        "reason": listed[0]["operator"]["reason"],
    }
    # The highest priority runs first.
    run = run_tau(["jobs", "run", "--once"], workspace)
    assert run.returncode == 0, run.stderr
    assert f"job {job['id'][:8]} attempt 1: succeeded" in run.stderr
    shown = tau_json(["jobs", "show", job["id"][:8]], workspace)
    assert shown["job"]["state"] == "succeeded"
    assert shown["job"]["operator"]["state"] == "complete"
    session = shown["job"]["session_id"]
    assert shown["job"]["operator"]["next_command"] == f"tau sessions show {session[:8]}"
    assert [a["outcome"] for a in shown["attempts"]] == ["succeeded"]
    assert [
        e["type"]
        for e in shown["sessions"][session]
        if e["type"].endswith("_finished") and e["type"] != "turn_finished"
    ] == ["run_finished", "session_finished"]
    assert shown["submit_argv"] == ["-p", "urgent", "--model", "offline/echo"]
    human = run_tau(["jobs", "show", job["id"][:8]], workspace).stdout
    assert "operator  complete: succeeded on attempt 1/2" in human
    assert "transcript of session" in human and "assistant: offline/echo received" in human
    assert "(finished: end_turn, 1 turns)" in human


def test_prompt_from_stdin_and_bad_usage(workspace: Path) -> None:
    made = tau_json(
        ["jobs", "submit", "-p", "-", "--model", "offline/echo"],
        workspace,
        input="read the README\n",
    )
    assert made["job"]["inputs"]["prompt"] == "read the README\n"
    for args, words in (
        (["jobs", "show", "zzzz"], "no job matches 'zzzz'"),
        (["jobs", "prune", "--older-than", "soon"], "'soon' is not a duration"),
        (["jobs", "run", "--lease", "10", "--heartbeat", "5"], "a third of the lease"),
        (["jobs", "submit", "-p", "  "], "the prompt is empty"),
        (["jobs", "submit", "-p", "x", "--script", "missing.json"], "no such file"),
        (["jobs", "block", made["job"]["id"], "--reason", " "], "--reason must say why"),
    ):
        proc = run_tau(args, workspace)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("tau: error:") and words in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    proc = run_tau(["jobs", "submit", "-p", "x", "--max-attempts", "0"], workspace)
    assert proc.returncode == 2 and "must be at least 1" in proc.stderr


def test_cancel_block_and_prune(workspace: Path) -> None:
    first = submit(workspace, "-p", "one")["job"]["id"]
    second = submit(workspace, "-p", "two")["job"]["id"]
    assert tau_json(["jobs", "cancel", first[:8]], workspace)["state"] == "cancelled"
    again = run_tau(["jobs", "cancel", first[:8]], workspace)
    assert again.returncode == 2 and "already cancelled" in again.stderr
    blocked = tau_json(["jobs", "block", second, "--reason", "schema freeze"], workspace)
    assert (blocked["state"], blocked["message"]) == ("blocked", "schema freeze")
    shown = tau_json(["jobs", "show", second], workspace)["job"]["operator"]
    assert shown["state"] == "blocked" and shown["next_command"] == f"tau jobs replay {second[:8]}"
    assert tau_json(["jobs", "recover"], workspace) == {"jobs": [], "skipped": False}
    assert tau_json(["jobs", "run", "--until-empty"], workspace)["ran"] == 0
    time.sleep(1.1)
    assert tau_json(["jobs", "prune", "--older-than", "1s"], workspace) == {"pruned": [first]}
    assert [j["id"] for j in tau_json(["jobs", "list"], workspace)] == [second]


def test_replay_offline_reproduces_the_transcript(
    workspace: Path, scripted_server: ScriptedServer
) -> None:
    (workspace / "a.txt").write_text("alpha\n")
    scripted_server.add(
        anthropic_answer(
            "Reading.",
            [{"id": "t1", "name": "read", "arguments": {"path": "a.txt"}}],
            input_tokens=100,
        ),
        anthropic_answer("It says alpha.", input_tokens=150),
    )
    online = tau_env(ANTHROPIC_API_KEY="k-test", ANTHROPIC_BASE_URL=scripted_server.url)
    job = submit(
        workspace, "-p", "what is in a.txt", "--model", "anthropic/claude-sonnet-4-5", env=online
    )["job"]
    assert run_tau(["jobs", "run", "--once"], workspace, env=online).returncode == 0
    assert len(scripted_server.requests) == 2
    replay = submit_replay(workspace, job["id"])
    assert replay["replay_of"] == job["id"]
    assert replay["inputs"]["model"] == "offline/replay"
    # No key, no server: the replay plays the recorded exchanges back.
    offline = {k: v for k, v in tau_env().items() if not k.startswith("ANTHROPIC_")}
    run = run_tau(["jobs", "run", "--once"], workspace, env=offline)
    assert run.returncode == 0, run.stderr
    assert len(scripted_server.requests) == 2
    first, second = (tau_json(["jobs", "show", i], workspace) for i in (job["id"], replay["id"]))
    assert second["job"]["state"] == "succeeded"
    assert transcript(workspace, first["job"]["session_id"]) == transcript(
        workspace, second["job"]["session_id"]
    )
    assert second["job"]["result"]["result"] == "It says alpha."
    assert any(e["type"] == "replayed" for e in first["events"])


def submit_replay(workspace: Path, job_id: str) -> dict[str, Any]:
    made = tau_json(["jobs", "replay", job_id[:8], "--offline"], workspace)
    assert made["created"]
    job: dict[str, Any] = made["job"]
    return job


def transcript(workspace: Path, session_id: str) -> list[Any]:
    data = tau_json(["sessions", "show", session_id], workspace)
    return [
        (
            m["message"]["role"],
            m["message"]["content"],
            [(c["name"], c["arguments"]) for c in m["message"].get("tool_calls", [])],
        )
        for m in data["messages"]
    ]


def plant_job(
    workspace: Path,
    job_id: str,
    inputs: dict[str, Any],
    *,
    state: str = "queued",
    signature: str = "",
    finished_at: float | None = None,
) -> None:
    """Insert a job the way a hostile repository or program could: straight into the db."""
    now = time.time()
    conn = sqlite3.connect(workspace / ".tau" / "tau.db")
    conn.execute(
        "INSERT INTO jobs (id, kind, inputs, signature, state, reason, max_attempts, "
        "next_run_at, created_at, updated_at, finished_at) "
        "VALUES (?, 'prompt', ?, ?, ?, 'submitted', 3, ?, ?, ?, ?)",
        (job_id, json.dumps(inputs), signature, state, now, now, now, finished_at),
    )
    conn.commit()
    conn.close()


def test_a_planted_job_is_never_run(workspace: Path) -> None:
    real = submit(workspace, "-p", "harmless", "--model", "offline/echo")["job"]
    planted_id = "f" * 32
    folder = workspace / ".tau" / "jobs" / planted_id
    folder.mkdir(parents=True)
    write_script(folder, [bash_turn("touch pwned"), text_turn("done")])
    evil = {
        "prompt": "x",
        "model": "offline/replay",
        "approval": "full-auto",
        "script": "script.json",
    }
    plant_job(workspace, planted_id, evil)
    # A valid signature of another job, copied over, does not sign this one.
    plant_job(workspace, "e" * 32, evil, signature=real["signature"])
    run = run_tau(["jobs", "run", "--until-empty"], workspace)
    assert run.returncode == 0, run.stderr
    assert not (workspace / "pwned").exists()
    jobs = {j["id"]: j for j in tau_json(["jobs", "list"], workspace)}
    for job_id in (planted_id, "e" * 32):
        job = jobs[job_id]
        assert (job["state"], job["reason"]) == ("blocked", "unsigned-inputs")
        assert job["operator"]["state"] == "needs-authority"
        assert job["operator"]["next_command"].startswith(
            "tau jobs submit -p x --model offline/replay --approval full-auto"
        )
    assert jobs[real["id"]]["state"] == "succeeded"
    refused = run_tau(["jobs", "replay", planted_id], workspace)
    assert refused.returncode == 2 and "were not submitted by you" in refused.stderr


def test_prune_never_follows_a_planted_job_id(workspace: Path, tmp_path: Path) -> None:
    submit(workspace, "-p", "make the db")
    victim = workspace.parent / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    plant_job(
        workspace, "../../victim", {"prompt": "x"}, state="failed", finished_at=time.time() - 86400
    )
    listed = run_tau(["jobs", "list"], workspace)
    assert listed.returncode == 0, listed.stderr
    pruned = tau_json(["jobs", "prune", "--older-than", "1h"], workspace)
    assert pruned == {"pruned": ["../../victim"]}
    assert (victim / "keep.txt").read_text() == "precious"


def test_terminal_controls_from_a_job_never_reach_the_terminal(workspace: Path) -> None:
    submit(workspace, "-p", "clear \x1b[2J\x1b]0;owned\x07 screen")
    for args in (
        ["jobs", "list"],
        ["jobs", "show", tau_json(["jobs", "list"], workspace)[0]["id"]],
    ):
        out = run_tau(args, workspace).stdout
        assert "\x1b" not in out and "\x07" not in out and "[2J" not in out
        assert "clear screen" in out or "clear  screen" in out


def test_sigterm_drains_a_tau_worker(workspace: Path, tmp_path: Path) -> None:
    import signal
    import subprocess

    from tests.cli.tau_process import TAU

    script = write_script(tmp_path, [bash_turn("sleep 2"), text_turn("slept well")])
    job = submit(
        workspace,
        "-p",
        "nap",
        "--model",
        "offline/replay",
        "--script",
        str(script),
        "--approval",
        "full-auto",
    )["job"]
    other = tmp_path / "elsewhere"
    other.mkdir()
    worker = subprocess.Popen(
        [*TAU, "jobs", "run", "-w", str(workspace), "--lease", "3", "--heartbeat", "1"],
        cwd=other,
        env=tau_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while tau_json(["jobs", "show", job["id"]], workspace)["job"]["phase"] != "tool bash":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    assert "draining: finishing 1 running job(s)" in err
    shown = tau_json(["jobs", "show", job["id"]], workspace)["job"]
    assert shown["state"] == "succeeded" and shown["result"]["result"] == "slept well"
    # Its folder (the copied script, the recording) goes with it when pruned.
    folder = workspace / ".tau" / "jobs" / job["id"]
    assert (folder / "script.json").is_file() and (folder / "attempt-1.replay.json").is_file()
    time.sleep(1.1)
    assert tau_json(["jobs", "prune", "--older-than", "1s", "-w", str(workspace)], other) == {
        "pruned": [job["id"]]
    }
    assert not folder.exists()
    kept = tau_json(["sessions", "show", shown["session_id"]], workspace)  # sessions stay
    assert kept["messages"][-1]["message"]["content"] == "slept well"


def test_an_unreadable_planted_job_stops_no_worker(workspace: Path) -> None:
    good = submit(workspace, "-p", "fine", "--model", "offline/echo")["job"]
    conn = sqlite3.connect(workspace / ".tau" / "tau.db")
    now = time.time()
    conn.execute(
        "INSERT INTO jobs (id, kind, inputs, state, reason, priority, next_run_at, "
        "created_at, updated_at) VALUES (?, 'prompt', 'not json {', 'queued', "
        "'submitted', 9, ?, ?, ?)",
        ("d" * 32, now, now, now),
    )
    conn.commit()
    conn.close()
    run = run_tau(["jobs", "run", "--until-empty"], workspace)
    assert run.returncode == 0, run.stderr
    assert [j["id"] for j in tau_json(["jobs", "list"], workspace)] == [good["id"]]
    assert tau_json(["jobs", "show", good["id"]], workspace)["job"]["state"] == "succeeded"
    conn = sqlite3.connect(workspace / ".tau" / "tau.db")
    assert conn.execute("SELECT state, reason FROM jobs WHERE id = ?", ("d" * 32,)).fetchone() == (
        "failed",
        "unreadable",
    )
    conn.close()
    shown = run_tau(["jobs", "show", "d" * 32], workspace)
    assert shown.returncode == 1 and "its row cannot be read" in shown.stderr
    assert "Traceback" not in shown.stderr


def test_store_recovery_keeps_jobs_and_drops_orphans(workspace: Path) -> None:
    job = submit(workspace, "-p", "keep me", "--model", "offline/echo")["job"]
    assert run_tau(["jobs", "run", "--once"], workspace).returncode == 0
    conn = sqlite3.connect(workspace / ".tau" / "tau.db")  # foreign keys off, as a bug might
    conn.execute(
        "INSERT INTO job_events (job_id, seq, ts, type) VALUES (?, 1, 0, 'orphan')", ("c" * 32,)
    )
    conn.commit()
    conn.close()
    recovered = run_tau(["sessions", "recover"], workspace)
    assert recovered.returncode == 0, recovered.stderr
    shown = tau_json(["jobs", "show", job["id"]], workspace)
    assert shown["job"]["state"] == "succeeded" and len(shown["attempts"]) == 1
    assert [e["type"] for e in shown["events"]][:2] == ["submitted", "claimed"]
    conn = sqlite3.connect(workspace / ".tau" / "tau.db")
    assert conn.execute(
        "SELECT count(*) FROM job_events WHERE job_id = ?", ("c" * 32,)
    ).fetchone() == (0,)
    conn.close()


def test_sessions_recover_waits_for_workers_to_close_the_store(workspace: Path) -> None:
    import subprocess

    from tests.cli.tau_process import TAU

    submit(workspace, "-p", "x")
    worker = subprocess.Popen(
        [*TAU, "jobs", "run"],
        cwd=workspace,
        env=tau_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while tau_json(["jobs", "list"], workspace)[0]["state"] != "succeeded":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        refused = run_tau(["sessions", "recover"], workspace)
        assert refused.returncode != 0 and "have the store open" in refused.stderr
    finally:
        worker.terminate()
        worker.communicate(timeout=60)
    assert run_tau(["sessions", "recover"], workspace).returncode == 0


def test_the_global_workspace_option_reaches_jobs(workspace: Path, tmp_path: Path) -> None:
    made = submit(workspace, "-p", "from afar")["job"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = tau_json(["-w", str(workspace), "jobs", "list"], elsewhere)
    assert [j["id"] for j in listed] == [made["id"]]
    clash = run_tau(["-w", str(workspace), "jobs", "list", "-w", str(elsewhere)], elsewhere)
    assert clash.returncode == 2 and "given twice with different values" in clash.stderr
