"""The ``bash`` tool: run one shell command in the workspace.

The command runs as ``bash -c`` (never a login shell, so no profile scripts)
with stdin from /dev/null and stderr merged into stdout, as a
``CommandProcess``: on Linux under a per-call subreaper that owns every
process the command starts. A timeout, or the cancellation of the task
awaiting the tool, stops all of them (SIGTERM, then SIGKILL after a grace
period); processes the command leaves running are stopped once it has
finished. Output is kept as head and tail within the output cap, and written
to ``ctx.on_output`` as it arrives.

With a ``ShellSandbox`` (given to the constructor), the chain is: the per-call
supervisor, then ``bwrap`` with the profile's mounts, then ``bash -c``; the
supervisor's guarantee holds for everything inside the sandbox too. A sandbox
the profile requires but this machine cannot provide refuses the command.

Every command runs with ``core.fsmonitor=false`` added to git's configuration
(through ``GIT_CONFIG_COUNT``, as ``git -c`` would): a repository's own
``.git/config`` cannot make an allowed ``git status`` run a program that way.
"""

from __future__ import annotations

import asyncio
import copy
import os
import signal
from typing import Any

from pydantic import Field

from tau_engine.config.store_setting import STORE_URL_ENV
from tau_engine.conversation import ToolSpec
from tau_engine.errors import ToolError
from tau_engine.safety.permissions import ToolCall as PolicyCall
from tau_engine.safety.shell_sandbox import ShellSandbox
from tau_engine.tools.args import ToolArgs, parse_model
from tau_engine.tools.base import OutputWriter, Tool, ToolContext, ToolOutcome
from tau_engine.tools.command_process import CommandProcess
from tau_engine.tools.live_output import OutputCapture

MAX_TIMEOUT_S = 3600.0
# How long output may keep flowing after bash exits (from background jobs
# still holding the pipe) before those jobs are stopped.
DRAIN_S = 1.0
# git settings forced for every command (git >= 2.31 reads them from the environment with
# command-line precedence): .git/config must not be able to run a program on `git status`.
GIT_HARDENING = (("core.fsmonitor", "false"),)


def hardened_env(base: dict[str, str]) -> dict[str, str]:
    """``base`` with tau's forced git settings added after any the user set this way, and
    without tau's own store URL."""
    env = dict(base)
    # The store URL may carry a database password, and a job's child has it in its
    # environment: it is tau's own setting, never needed by the model's commands.
    env.pop(STORE_URL_ENV, None)
    try:
        count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
    except ValueError:
        count = 0
    for key, value in GIT_HARDENING:
        env[f"GIT_CONFIG_KEY_{count}"] = key
        env[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    env["GIT_CONFIG_COUNT"] = str(count)
    return env


class BashArgs(ToolArgs):
    command: str
    timeout_s: float | None = Field(None, gt=0, le=MAX_TIMEOUT_S)


async def _pump(
    stream: asyncio.StreamReader, capture: OutputCapture, on_output: OutputWriter | None
) -> None:
    while chunk := await stream.read(65536):
        text = capture.feed(chunk)
        if on_output is not None and text:
            on_output(text)


def _status(returncode: int | None, timed_out: bool, timeout_s: float) -> str:
    if timed_out:
        return f"[timed out after {timeout_s:g}s; the command and its child processes were killed]"
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"[killed by signal {name}]"
    return f"[exit code {returncode}]"


class BashTool(Tool):
    """Run a shell command in the workspace root."""

    name = "bash"
    kind = "exec"
    description = (
        "Run a command with 'bash -c' in the workspace root and return its combined stdout "
        "and stderr with the exit code. Each call is a fresh non-interactive shell: no stdin, "
        "no state kept between calls (use 'cd dir && cmd'). Long output keeps its start and "
        "end. Background processes are stopped when the command ends. Prefer read, grep and "
        "glob for looking at files."
    )

    parameters = {
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The bash command line to run."},
            "timeout_s": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_TIMEOUT_S,
                "description": "Seconds before the command is killed. Default: "
                "the configured bash timeout.",
            },
        },
        "required": ["command"],
        "additionalProperties": False,
    }

    def __init__(
        self,
        *,
        default_timeout_s: float = 120.0,
        kill_grace_s: float = 2.0,
        sandbox: ShellSandbox | None = None,
    ) -> None:
        self.default_timeout_s = default_timeout_s
        self.kill_grace_s = kill_grace_s
        self.sandbox = sandbox

    def spec(self) -> ToolSpec:
        # The model sees the actual default timeout, which comes from settings.
        parameters = copy.deepcopy(self.parameters)
        parameters["properties"]["timeout_s"]["description"] = (
            f"Seconds before the command is killed. Default {self.default_timeout_s:g}."
        )
        return ToolSpec(self.name, self.description, parameters)

    def parse_args(self, arguments: dict[str, Any]) -> BashArgs:
        args = parse_model(self.name, BashArgs, arguments, self.parameters)
        if not args.command.strip():
            raise ToolError("bash: 'command' is empty; give a command to run")
        return args

    def target(self, args: BashArgs) -> str:
        first = args.command.strip().splitlines()[0]
        more = first != args.command.strip()
        return first[:80] + ("…" if more or len(first) > 80 else "")

    def policy_call(self, args: BashArgs) -> PolicyCall:
        return PolicyCall(self.name, self.kind, command=args.command)

    def result_source(self, args: BashArgs) -> str:
        return f"bash:{self.target(args)}"

    async def preview(self, args: BashArgs, ctx: ToolContext) -> str:
        return args.command

    async def _argv(self, command: str) -> list[str]:
        if self.sandbox is None:
            return ["bash", "-c", command]
        status = await self.sandbox.status()
        if status.refuses:
            raise ToolError(status.refusal())
        return self.sandbox.argv(command, status)

    async def run(self, args: BashArgs, ctx: ToolContext) -> ToolOutcome:
        timeout_s = args.timeout_s or self.default_timeout_s
        env = hardened_env({**os.environ, **(ctx.env or {})})
        argv = await self._argv(args.command)
        try:
            proc = await CommandProcess.start(
                argv, cwd=ctx.workspace, env=env, grace_s=self.kill_grace_s, drain_s=DRAIN_S
            )
        except OSError as exc:
            raise ToolError(f"cannot start bash: {exc.strerror or exc}") from exc
        capture = OutputCapture(ctx.max_output_chars)
        reader = asyncio.create_task(_pump(proc.stdout, capture, ctx.on_output))
        timed_out = False
        try:
            try:
                await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                timed_out = True
                await proc.stop()
            try:
                await asyncio.wait_for(asyncio.shield(reader), DRAIN_S)
            except TimeoutError:
                # Something outside the call's process tree holds the pipe (or, without
                # supervision, a background job): stop the call's group and move on.
                await proc.stop()
                await asyncio.wait({reader}, timeout=DRAIN_S)
            await proc.finish()
        except asyncio.CancelledError:
            await proc.stop()
            # Keep what was printed up to the stop: the runner reports it as the
            # interrupted call's output.
            await asyncio.wait({reader}, timeout=DRAIN_S)
            raise
        finally:
            reader.cancel()
        output = capture.text().rstrip("\n") or "(no output)"
        status = _status(proc.returncode, timed_out, timeout_s)
        return ToolOutcome(
            output=f"{output}\n{status}",
            ok=not timed_out and proc.returncode == 0,
            data={"exit_code": proc.returncode, "timed_out": timed_out},
        )
