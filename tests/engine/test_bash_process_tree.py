"""Nothing a bash call starts outlives it: background jobs, nohup, setsid, daemons,
a cancel that lands while bash is starting, a timeout, and tau itself dying.

Every test runs twice: bash run directly by the supervisor, and inside the bubblewrap sandbox
(supervisor -> bwrap -> bash), where the guarantee must hold the same. CI installs bubblewrap;
the sandboxed runs skip only outside CI on a machine without it."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tau_engine.safety.profiles import load_profile
from tau_engine.safety.shell_sandbox import ShellSandbox
from tau_engine.safety.workspace import WorkspaceGuard
from tau_engine.tools.base import ToolContext, ToolOutcome
from tau_engine.tools.bash import BashTool
from tau_engine.tools.command_process import CommandProcess, supervision_available

pytestmark = pytest.mark.skipif(
    not supervision_available(), reason="per-call subreaper needs Linux and /proc"
)
NO_BWRAP = shutil.which("bwrap") is None and not os.environ.get("CI")
# The sandbox of the call being tested (None: bash runs directly under the supervisor).
SANDBOX: dict[str, ShellSandbox | None] = {"current": None}


@pytest.fixture(autouse=True, params=["direct", "bwrap"])
def sandboxed(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "bwrap" and NO_BWRAP:
        pytest.skip("bubblewrap is not installed (CI installs it)")
    SANDBOX["current"] = (
        ShellSandbox(load_profile("balanced"), tmp_path) if request.param == "bwrap" else None
    )
    return str(request.param)


def bash(**options: Any) -> BashTool:
    return BashTool(sandbox=SANDBOX["current"], **options)


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(workspace=tmp_path, guard=WorkspaceGuard(tmp_path))


def marker() -> str:
    """A sleep duration no other process on the machine uses: it names this test's sleeps."""
    return f"30.{random.randrange(10**8, 10**9)}"


def running_with(argument: str) -> list[int]:
    """Pids of live (not zombie) processes whose command line has ``argument``."""
    needle = argument.encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                args = handle.read().split(b"\0")
            with open(f"/proc/{name}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in args and state != b"Z":
            found.append(int(name))
    return found


async def survivors_after(argument: str, wait_s: float) -> list[int]:
    """The processes still running ``argument`` once ``wait_s`` has passed (or none are)."""
    deadline = time.monotonic() + wait_s
    while True:
        alive = running_with(argument)
        if not alive or time.monotonic() > deadline:
            return alive
        await asyncio.sleep(0.02)


async def call(ctx: ToolContext, tool: BashTool | None = None, **arguments: Any) -> ToolOutcome:
    tool = tool or bash(kill_grace_s=0.2)
    return await tool.run(tool.parse_args(arguments), ctx)


@pytest.mark.parametrize(
    "template",
    [
        "sleep {m} & echo started",
        "nohup sleep {m} >/dev/null 2>&1 & echo started",
        "setsid sleep {m} >/dev/null 2>&1 & echo started",
        # A daemon: the subshell exits at once, its setsid child is re-parented.
        "(setsid sleep {m} >/dev/null 2>&1 &); echo started",
    ],
    ids=["background", "nohup", "setsid", "double-fork"],
)
async def test_processes_left_running_are_gone_when_the_call_returns(
    ctx: ToolContext, template: str
) -> None:
    m = marker()
    out = await call(ctx, command=template.format(m=m))
    assert out.output == "started\n[exit code 0]"
    # Gone by the time the call returns, not eventually.
    assert running_with(m) == []


async def test_timeout_stops_processes_that_left_the_group(ctx: ToolContext) -> None:
    m = marker()
    out = await call(ctx, command=f"setsid sleep {m} & sleep {m}", timeout_s=0.5)
    assert out.data["timed_out"] is True
    assert running_with(m) == []


async def test_cancel_stops_processes_that_left_the_group(ctx: ToolContext) -> None:
    m = marker()
    flag = ctx.workspace / "started"
    task = asyncio.create_task(
        call(ctx, command=f"setsid sleep {m} & nohup sleep {m} >/dev/null & touch {flag}; wait")
    )
    while not flag.exists():
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Gone when the cancelled call returns.
    assert running_with(m) == []


async def test_a_cancel_landing_while_bash_starts_leaves_nothing(ctx: ToolContext) -> None:
    # Cancel after 0, 1, 2, ... trips through the event loop: one of them lands while
    # the process is being created, before the tool holds it.
    m = marker()
    for spins in range(40):
        task = asyncio.create_task(call(ctx, command=f"sleep {m} & sleep {m}"))
        for _ in range(spins):
            await asyncio.sleep(0)
        task.cancel()
        if spins % 2:
            await asyncio.sleep(0)
            task.cancel()  # a second Ctrl+C while the first is being handled
        try:
            await task
        except asyncio.CancelledError:
            pass
        assert await survivors_after(m, 0.5) == [], f"survivor after {spins} spins"


async def test_a_second_cancel_does_not_abandon_the_stop(ctx: ToolContext) -> None:
    m = marker()
    flag = ctx.workspace / "started"
    tool = bash(kill_grace_s=1.0)
    # The shell ignores SIGTERM, so stopping takes the whole grace period.
    command = f"trap '' TERM; sleep {m} & touch {flag}; wait; wait"
    task = asyncio.create_task(call(ctx, tool, command=command))
    while not flag.exists():
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.sleep(0.1)
    task.cancel()  # a second Ctrl+C while the first stop is in its grace period
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await survivors_after(m, 30.0) == []


async def test_output_is_written_as_it_comes(ctx: ToolContext) -> None:
    seen: list[tuple[float, str]] = []
    ctx.on_output = lambda text: seen.append((time.monotonic(), text))
    flag = ctx.workspace / "go"
    task = asyncio.create_task(
        call(ctx, command=f"echo first; while [ ! -e {flag} ]; do sleep 0.01; done; echo second")
    )
    deadline = time.monotonic() + 60
    while not seen and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert [text for _, text in seen] == ["first\n"]
    assert not task.done()
    flag.touch()
    out = await task
    assert "".join(text for _, text in seen) == "first\nsecond\n"
    assert out.output == "first\nsecond\n[exit code 0]"


def test_tau_dying_stops_the_calls_processes(tmp_path: Path, sandboxed: str) -> None:
    m = marker()
    flag = tmp_path / "started"
    script = textwrap.dedent(f"""
        import asyncio
        from pathlib import Path
        from tau_engine.safety.profiles import load_profile
        from tau_engine.safety.shell_sandbox import ShellSandbox
        from tau_engine.safety.workspace import WorkspaceGuard
        from tau_engine.tools.base import ToolContext
        from tau_engine.tools.bash import BashTool

        async def main():
            root = Path({str(tmp_path)!r})
            sandbox = ShellSandbox(load_profile("balanced"), root) if {sandboxed!r} == "bwrap" \\
                else None
            tool = BashTool(kill_grace_s=0.2, sandbox=sandbox)
            args = tool.parse_args({{"command": "setsid sleep {m} & sleep {m} & "
                                                "touch {flag}; wait"}})
            await tool.run(args, ToolContext(workspace=root, guard=WorkspaceGuard(root)))

        asyncio.run(main())
    """)
    tau = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert tau.poll() is None, "the tau stand-in exited early"
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.01)
        # The flag can come before both children have exec'd sleep.
        while len(running_with(m)) < 2:
            assert time.monotonic() < deadline, "the sleeps never started"
            time.sleep(0.01)
        os.kill(tau.pid, signal.SIGKILL)
        tau.wait()
        assert asyncio.run(survivors_after(m, 10.0)) == []
    finally:
        if tau.poll() is None:
            tau.kill()
            tau.wait()


async def test_without_supervision_the_process_group_is_still_stopped(tmp_path: Path) -> None:
    # The fallback where prctl and /proc are missing: one process group, stopped whole.
    m = marker()
    proc = await CommandProcess.start(
        ["bash", "-c", f"sleep {m} & sleep {m}"],
        cwd=tmp_path,
        env=None,
        grace_s=0.2,
        drain_s=1,
        supervised=False,
    )
    while len(running_with(m)) < 2:
        await asyncio.sleep(0.01)
    await proc.stop()
    assert proc.returncode is not None and proc.returncode < 0
    assert await survivors_after(m, 30.0) == []
