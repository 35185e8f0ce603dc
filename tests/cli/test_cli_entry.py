"""End-to-end: how ``tau`` reads its command line and its standard streams.

A positional PROMPT, ``-p`` without a value, prompts piped in without ``-p`` (a
scripted session), the global ``-w`` before a subcommand, readers that go away,
``--output-format json`` on failure, ``NO_COLOR`` and ``--version``.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

from tau_engine import __version__
from tests.cli.tau_process import TAU, run_tau, tau_env
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer


def _seed(workspace: Path, prompt: str) -> str:
    proc = run_tau(["-p", prompt, "--model", "offline/echo", "--output-format", "json"], workspace)
    assert proc.returncode == 0, proc.stderr
    session_id: str = json.loads(proc.stdout.splitlines()[-1])["session_id"]
    return session_id


def _sessions(workspace: Path) -> list[dict[str, object]]:
    proc = run_tau(["sessions", "list", "--json"], workspace)
    assert proc.returncode == 0, proc.stderr
    rows: list[dict[str, object]] = json.loads(proc.stdout)
    return rows


# -- a positional PROMPT and -p without a value -----------------------------------------


def test_a_positional_prompt_runs_headless_when_not_on_a_terminal(workspace: Path) -> None:
    proc = run_tau(["fix the tests", "--model", "offline/echo"], workspace)
    assert proc.returncode == 0, proc.stderr
    assert "last user message: 'fix the tests'" in proc.stdout
    # Subcommands are still subcommands, with options before or after their name.
    assert run_tau(["--no-color", "sessions", "list"], workspace).returncode == 0
    assert run_tau(["models", "--provider", "offline"], workspace).returncode == 0


def test_a_misspelt_command_is_refused_and_dashes_make_a_prompt(workspace: Path) -> None:
    typo = run_tau(["sesions", "list"], workspace)
    assert typo.returncode == 2 and "did you mean 'sessions'" in typo.stderr
    assert not (workspace / ".tau").exists()
    word = run_tau(["--model", "offline/echo", "--", "sessions"], workspace)
    assert word.returncode == 0, word.stderr
    assert "last user message: 'sessions'" in word.stdout


def test_p_without_a_value_reads_the_prompt_from_stdin(workspace: Path) -> None:
    proc = run_tau(["--model", "offline/echo", "-p"], workspace, input="prompt from stdin\n")
    assert proc.returncode == 0, proc.stderr
    assert "last user message: 'prompt from stdin'" in proc.stdout
    # As with claude -p "...": a PROMPT and a bare -p run headless, stdin attached.
    both = run_tau(["explain", "-p", "--model", "offline/echo"], workspace, input="a log\n")
    assert both.returncode == 0, both.stderr
    assert "last user message: 'explain <stdin> a log </stdin>'" in both.stdout
    twice = run_tau(["one", "-p", "two"], workspace)
    assert twice.returncode == 2 and "give the prompt once" in twice.stderr


# -- a scripted session: prompts piped in without -p ------------------------------------


def test_piped_prompts_run_as_one_scripted_session(workspace: Path, tmp_path: Path) -> None:
    (workspace / "README.md").write_text("# demo\n")
    script = tmp_path / "turns.json"
    script.write_text(
        json.dumps(
            [
                {"tool_calls": [{"name": "read", "arguments": {"path": "README.md"}}]},
                {"text": "It is a demo."},
                {"text": "Two lines seen."},
            ]
        )
    )
    proc = run_tau(
        ["--no-color", "--model", "offline/replay", "--script", str(script)],
        workspace,
        input="read README.md\n/cost\nfirst line\\\nsecond line\n\n",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "It is a demo.",
        "tokens: 0 in (0 cached), 5 out · cost $0.0000",
        "Two lines seen.",
    ]
    assert "tool=read path=README.md ok" in proc.stderr
    [session] = _sessions(workspace)
    shown = json.loads(
        run_tau(["sessions", "show", str(session["id"]), "--json"], workspace).stdout
    )
    users = [m["message"]["content"] for m in shown["messages"] if m["message"]["role"] == "user"]
    assert users == ["read README.md", "first line\nsecond line"]


def test_session_counts_the_messages_on_the_branch_after_undo_and_redo(workspace: Path) -> None:
    proc = run_tau(
        ["--no-color", "--model", "offline/echo"],
        workspace,
        input="hello\n/session\n/undo\n/session\n/redo\n/session\n",
    )
    assert proc.returncode == 0, proc.stderr
    counts = [
        line.split(" · ")[3] for line in proc.stdout.splitlines() if line.startswith("session ")
    ]
    assert counts == ["2 messages", "0 messages on this branch (2 in all)", "2 messages"]


def test_a_failing_line_stops_the_session_with_the_headless_code(workspace: Path) -> None:
    bad = run_tau(["--model", "offline/echo"], workspace, input="hello\n/nosuch\nnot run\n")
    assert bad.returncode == 2
    assert "tau: error: line 2: unknown command /nosuch" in bad.stderr
    assert "not run" not in bad.stdout and "'hello'" in bad.stdout
    model = run_tau(["--model", "offline/echo"], workspace, input="/model nope/x\nhi\n")
    assert model.returncode == 2 and "line 1: unknown provider" in model.stderr
    quit_early = run_tau(["--model", "offline/echo"], workspace, input="/quit\nnot run\n")
    assert quit_early.returncode == 0 and "not run" not in quit_early.stdout


def test_a_failed_turn_exits_1(workspace: Path, tmp_path: Path) -> None:
    script = tmp_path / "fail.json"
    script.write_text(json.dumps([{"error": {"kind": "auth", "message": "bad key"}}]))
    proc = run_tau(
        ["--model", "offline/replay", "--script", str(script)], workspace, input="first\nsecond\n"
    )
    assert proc.returncode == 1
    assert "bad key" in proc.stderr and "line 1: the run stopped" in proc.stderr


def test_quit_and_ctrl_c_end_the_session_while_the_input_stays_open(workspace: Path) -> None:
    """The writer has not closed stdin: tau must not wait for it, nor abort at exit."""
    quitting = subprocess.Popen(
        [*TAU, "--model", "offline/echo"],
        cwd=workspace,
        env=tau_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    talking = subprocess.Popen(
        [*TAU, "--model", "offline/echo"],
        cwd=workspace,
        env=tau_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert quitting.stdin is not None and talking.stdin is not None
        assert talking.stdout is not None
        quitting.stdin.write(b"/quit\n")
        quitting.stdin.flush()
        assert quitting.wait(timeout=60) == 0
        talking.stdin.write(b"hello\n")
        talking.stdin.flush()
        assert b"'hello'" in talking.stdout.readline()  # answered; now waiting for input
        talking.send_signal(signal.SIGINT)
        assert talking.wait(timeout=60) == 130
        assert talking.stderr is not None
        assert talking.stderr.read().decode().endswith("tau: interrupted\n")
        assert quitting.stderr is not None and b"Fatal" not in quitting.stderr.read()
    finally:
        for proc in (quitting, talking):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_ctrl_c_during_a_turn_stops_it_and_the_session(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    scripted_server.add(
        openai_answer("word " * 400, chunk_size=5, delay_s=0.02), openai_answer("never asked for")
    )
    prompts = workspace.parent / "prompts.txt"
    prompts.write_text("talk\nnot run\n")
    with open(prompts) as stdin:
        proc = subprocess.Popen(
            [*TAU, "--model", "openai/gpt-test", "--base-url", scripted_server.url + "/v1"],
            cwd=workspace,
            env=tau_env(OPENAI_API_KEY="sk-test"),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not scripted_server.requests:  # the turn is streaming
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "the partial answer is saved" in err
    assert len(scripted_server.requests) == 1


def test_no_input_is_no_session(workspace: Path) -> None:
    # stdin is /dev/null and stdout a pipe: no full-screen app, nothing to do.
    proc = run_tau([], workspace, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and not (workspace / ".tau").exists()
    json_out = run_tau(["--output-format", "json"], workspace, input="hi\n")
    assert json_out.returncode == 2 and "needs -p PROMPT" in json_out.stderr


# -- resuming a session whose model cannot be used --------------------------------------


def test_resuming_with_an_unusable_model_fails_headless(workspace: Path, tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"text": "scripted"}]))
    first = run_tau(
        [
            "-p",
            "hi",
            "--model",
            "offline/replay",
            "--script",
            str(script),
            "--output-format",
            "json",
        ],
        workspace,
    )
    assert first.returncode == 0, first.stderr
    sid = json.loads(first.stdout.splitlines()[-1])["session_id"]
    for args, stdin in (
        (["--continue", "-p", "again"], None),
        (["--resume", sid[:8], "-p", "again", "--output-format", "json"], None),
        (["--continue"], "again\n"),
    ):
        proc = run_tau(args, workspace, input=stdin)
        assert proc.returncode == 2, (args, proc.stderr)
        assert f"session {sid[:8]} uses offline/replay, which cannot be used" in proc.stderr
        assert "needs a script file" in proc.stderr and "pass --model" in proc.stderr
    failure = json.loads(
        run_tau(
            ["--continue", "-p", "again", "--output-format", "json"], workspace
        ).stdout.splitlines()[-1]
    )
    assert failure["is_error"] is True and failure["exit_code"] == 2
    # Naming a model explicitly continues the session with it.
    switched = run_tau(["--continue", "-p", "again", "--model", "offline/echo"], workspace)
    assert switched.returncode == 0, switched.stderr


# -- the global -w ----------------------------------------------------------------------


def test_a_global_workspace_is_honoured_by_subcommands(workspace: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    named = _seed(workspace, "in the named workspace")
    here = _seed(other, "in the current directory")
    listed = run_tau(["-w", str(workspace), "sessions", "list", "--json"], other)
    assert [s["id"] for s in json.loads(listed.stdout)] == [named]
    gone = run_tau(["-w", str(workspace), "sessions", "delete", named], other)
    assert gone.returncode == 0, gone.stderr
    assert _sessions(workspace) == []
    assert [s["id"] for s in _sessions(other)] == [here]
    # The named workspace's id is not looked up anywhere else.
    again = run_tau(["-w", str(workspace), "sessions", "delete", here], other)
    assert again.returncode == 2 and [s["id"] for s in _sessions(other)] == [here]
    clash = run_tau(["-w", str(workspace), "sessions", "list", "-w", str(other)], other)
    assert clash.returncode == 2 and "given twice" in clash.stderr


def test_a_global_workspace_is_the_repository_of_a_mission(workspace: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    named = run_tau(["-w", str(missing), "mission", "list"], workspace)
    assert named.returncode == 2 and str(missing) in named.stderr
    clash = run_tau(["-w", str(tmp_path), "mission", "list", "-w", str(workspace)], workspace)
    assert clash.returncode == 2 and "given twice" in clash.stderr
    assert run_tau(["-w", str(workspace), "mission", "list"], tmp_path).returncode == 0


def test_a_global_workspace_is_the_one_trusted(workspace: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    trusted = run_tau(["-w", str(workspace), "trust"], other)
    assert trusted.returncode == 0, trusted.stderr
    listed = run_tau(["trust", "--list"], other).stdout
    assert f"trusted      {workspace}" in listed and str(other) not in listed
    mixed = run_tau(["-w", str(workspace), "trust", str(other)], other)
    assert mixed.returncode == 2 and "not in the workspace" in mixed.stderr


# -- readers that go away -----------------------------------------------------------------


def _into_closed_pipe(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` having already exited
    try:
        return subprocess.run(
            [*TAU, *args],
            cwd=cwd,
            env=tau_env(),
            stdout=write_end,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
    finally:
        os.close(write_end)


def test_every_command_exits_141_quietly_when_the_reader_is_gone(workspace: Path) -> None:
    sid = _seed(workspace, "something to list")
    for args in (
        ["sessions", "list"],
        ["sessions", "list", "--json"],
        ["sessions", "show", sid],
        ["models"],
        ["models", "--json"],
        ["--help"],
        ["--version"],
        ["-p", "hi", "--model", "offline/echo"],
        ["--model", "offline/echo"],
    ):
        stdin = b"hi\n" if args == ["--model", "offline/echo"] else None
        if stdin is None:
            done = _into_closed_pipe(args, workspace)
        else:
            read_end, write_end = os.pipe()
            os.close(read_end)
            try:
                done = subprocess.run(
                    [*TAU, *args],
                    cwd=workspace,
                    env=tau_env(),
                    stdout=write_end,
                    stderr=subprocess.PIPE,
                    input=stdin,
                    timeout=60,
                )
            finally:
                os.close(write_end)
        assert (done.returncode, done.stderr.decode()) == (141, ""), args


# -- --output-format json on failure ----------------------------------------------------


def test_json_output_on_failure_is_still_one_object(workspace: Path, tmp_path: Path) -> None:
    script = tmp_path / "fail.json"
    script.write_text(json.dumps([{"error": {"kind": "auth", "message": "bad key"}}]))
    cases = [
        (["--model", "nosuch/model"], 2, "unknown provider"),
        (["--model", "openai/gpt-4o"], 2, "OPENAI_API_KEY"),
        (["--model", "offline/replay", "--script", str(tmp_path / "none.json")], 2, "none.json"),
        (["--model", "offline/replay", "--script", str(script)], 1, "bad key"),
    ]
    for extra, code, needle in cases:
        proc = run_tau(["-p", "hi", "--output-format", "json", *extra], workspace)
        assert proc.returncode == code, (extra, proc.stderr)
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        assert data["is_error"] is True and data["exit_code"] == code, extra
        assert needle in data["error"], (extra, data)
        assert needle in proc.stderr  # the usual one line on stderr too


def test_json_output_counts_permission_denials(workspace: Path, tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(
        json.dumps(
            [
                {
                    "tool_calls": [
                        {"name": "bash", "arguments": {"command": "touch x"}},
                        {"name": "write", "arguments": {"path": "y.txt", "content": "y"}},
                    ]
                },
                {"text": "done"},
            ]
        )
    )
    proc = run_tau(
        [
            "-p",
            "go",
            "--model",
            "offline/replay",
            "--script",
            str(script),
            "--output-format",
            "json",
            "--approval",
            "read-only",
        ],
        workspace,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data["is_error"] is False and data["exit_code"] == 0
    assert data["permission_denials"] == 2
    assert [c["denied"] for c in data["tool_calls"]] == [True, True]


# -- NO_COLOR and --version -------------------------------------------------------------


def _stderr_on_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run tau with stderr on a pseudo-terminal; what it wrote there."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [*TAU, *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=slave,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        assert proc.returncode == 0
    finally:
        os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the terminal's other side is closed and drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return b"".join(chunks).decode()


def test_no_color_env_is_honoured_like_the_flag(workspace: Path, tmp_path: Path) -> None:
    (workspace / "a.txt").write_text("a\n")
    script = tmp_path / "s.json"
    script.write_text(
        json.dumps(
            [{"tool_calls": [{"name": "read", "arguments": {"path": "a.txt"}}]}, {"text": "ok"}]
        )
    )
    args = ["-p", "go", "--model", "offline/replay", "--script", str(script)]
    env = {k: v for k, v in tau_env().items() if k != "NO_COLOR"}
    coloured = _stderr_on_a_terminal(args, workspace, env)
    assert "tool=read path=a.txt \x1b[32mok" in coloured
    plain = _stderr_on_a_terminal(args, workspace, {**env, "NO_COLOR": "1"})
    assert "tool=read path=a.txt ok" in plain and "\x1b[" not in plain


def test_version_is_answered_before_argparse_loads() -> None:
    code = (
        "import sys\nfrom tau_tui import cli\ncode = cli.main(['--version'])\n"
        "print([m for m in ('argparse', 'shutil', 'typing', 'tau_engine.errors') "
        "if m in sys.modules], code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=tau_env()
    )
    assert done.stdout.splitlines() == [f"tau {__version__}", "[] 0"], done.stderr
