"""bash: exit codes, merged output, timeouts and cancellation that kill the process group."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tau_engine.errors import ToolError
from tau_engine.safety.workspace import WorkspaceGuard
from tau_engine.tools.base import ToolContext, ToolOutcome
from tau_engine.tools.bash import BashTool
from tau_engine.tools.live_output import OutputCapture


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(workspace=tmp_path, guard=WorkspaceGuard(tmp_path))


async def call(ctx: ToolContext, tool: BashTool | None = None, **arguments: Any) -> ToolOutcome:
    tool = tool or BashTool(kill_grace_s=0.2)
    return await tool.run(tool.parse_args(arguments), ctx)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody has reaped yet counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def wait_for_file(path: Path) -> int:
    # Generous: on a loaded 2-core machine starting the command can take seconds.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} never appeared")


async def gone(pid: int) -> bool:
    # Without the per-call subreaper a killed child is reaped by init asynchronously.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        await asyncio.sleep(0.01)
    return False


async def test_success_reports_output_and_exit_code(ctx: ToolContext) -> None:
    out = await call(ctx, command="echo hello")
    assert out.output == "hello\n[exit code 0]"
    assert out.ok and out.data["exit_code"] == 0 and out.data["timed_out"] is False


async def test_failure_exit_code_and_merged_stderr(ctx: ToolContext) -> None:
    out = await call(ctx, command="echo out; echo err >&2; exit 3")
    assert out.output == "out\nerr\n[exit code 3]"
    assert not out.ok and out.data["exit_code"] == 3


async def test_runs_in_the_workspace_with_no_stdin_and_no_login_shell(ctx: ToolContext) -> None:
    out = await call(ctx, command="pwd; cat; shopt -q login_shell && echo login || echo plain")
    assert out.output == f"{ctx.workspace}\nplain\n[exit code 0]"


async def test_context_env_adds_variables(ctx: ToolContext) -> None:
    ctx.env = {"TAU_TEST_VALUE": "forty-two"}
    out = await call(ctx, command="echo $TAU_TEST_VALUE; command -v ls >/dev/null && echo path")
    assert out.output == "forty-two\npath\n[exit code 0]"


async def test_no_output(ctx: ToolContext) -> None:
    assert (await call(ctx, command="true")).output == "(no output)\n[exit code 0]"


async def test_timeout_kills_the_whole_process_group(ctx: ToolContext) -> None:
    pid_file = ctx.workspace / "child.pid"
    tool = BashTool(default_timeout_s=0.5, kill_grace_s=0.2)
    started = time.monotonic()
    out = await call(ctx, tool, command=f"sleep 30 & echo $! > {pid_file}; echo waiting; wait")
    assert time.monotonic() - started < 20  # far below the 30 s the command wanted
    assert out.output == (
        "waiting\n[timed out after 0.5s; the command and its child processes were killed]"
    )
    assert not out.ok and out.data["timed_out"] is True
    assert await gone(int(pid_file.read_text()))


async def test_children_ignoring_sigterm_get_sigkill(ctx: ToolContext) -> None:
    pid_file = ctx.workspace / "child.pid"
    command = f"(trap '' TERM; sleep 30) & echo $! > {pid_file}; wait"
    out = await call(ctx, command=command, timeout_s=0.3)
    assert out.data["timed_out"] is True
    assert await gone(int(pid_file.read_text()))


async def test_background_jobs_are_stopped_when_the_command_ends(ctx: ToolContext) -> None:
    pid_file = ctx.workspace / "bg.pid"
    out = await call(ctx, command=f"sleep 30 & echo $! > {pid_file}; echo started")
    assert out.output == "started\n[exit code 0]"
    assert await gone(int(pid_file.read_text()))


async def test_cancellation_kills_the_process_group(ctx: ToolContext) -> None:
    # The command can write its pid files before the tool holds the process (while
    # asyncio still connects the pipes): the cancel then lands during the start, which
    # once skipped the kill and left the sleep running.
    pid_file = ctx.workspace / "child.pid"
    bash_pid_file = ctx.workspace / "bash.pid"
    task = asyncio.create_task(
        call(ctx, command=f"echo $$ > {bash_pid_file}; sleep 30 & echo $! > {pid_file}; wait")
    )
    child = await wait_for_file(pid_file)
    shell = await wait_for_file(bash_pid_file)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await gone(child)
    assert await gone(shell)


async def test_long_output_keeps_head_and_tail(ctx: ToolContext) -> None:
    ctx.max_output_chars = 1000
    command = "printf START; head -c 100000 /dev/zero | tr '\\0' a; printf END"
    out = await call(ctx, command=command)
    text, status = out.output.rsplit("\n", 1)
    assert status == "[exit code 0]"
    assert text.startswith("START" + "a" * 495 + "\n[... 99008 characters truncated ...]\n")
    assert text.endswith("a" * 497 + "END")


def test_output_capture_keeps_everything_under_the_cap_and_decodes_split_utf8() -> None:
    capture = OutputCapture(100)
    data = "héllo wörld".encode()
    for i in range(len(data)):
        capture.feed(data[i : i + 1])
    assert capture.text() == "héllo wörld"


@pytest.mark.parametrize(
    "arguments,needle",
    [
        ({"command": "  "}, "'command' is empty"),
        ({"command": "ls", "timeout_s": 0}, "'timeout_s'"),
        ({"command": "ls", "timeout_s": 99999}, "'timeout_s'"),
        ({"cmd": "ls"}, "unknown argument 'cmd'"),
    ],
)
def test_argument_errors(arguments: dict[str, Any], needle: str) -> None:
    with pytest.raises(ToolError) as info:
        BashTool().parse_args(arguments)
    assert needle in str(info.value)


async def test_preview_target_and_spec(ctx: ToolContext) -> None:
    tool = BashTool(default_timeout_s=45)
    args = tool.parse_args({"command": "make test\necho done"})
    assert await tool.preview(args, ctx) == "make test\necho done"
    assert tool.target(args) == "make test…"
    spec = tool.spec()
    assert "Default 45." in spec.parameters["properties"]["timeout_s"]["description"]
    assert "configured" in BashTool.parameters["properties"]["timeout_s"]["description"]
    assert os.environ.get("TAU_TEST_VALUE") is None


async def test_the_store_url_never_reaches_the_models_commands(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A job's child has TAU_STORE_URL (maybe with a database password) in its environment;
    # the model's commands must not be able to print it.
    monkeypatch.setenv("TAU_STORE_URL", "postgresql://tau:hunter2@db/tau")
    monkeypatch.setenv("TAU_TEST_VISIBLE", "seen")
    out = await call(ctx, command='echo "[$TAU_STORE_URL][$TAU_TEST_VISIBLE]"')
    assert out.output.startswith("[][seen]")
