"""The ``bash`` tool: run one shell command in the workspace.

The command runs as ``bash -c`` (never a login shell, so no profile scripts)
in its own process group, with stdin from /dev/null and stderr merged into
stdout. A timeout, or the cancellation of the task awaiting the tool, stops the
whole group (SIGTERM, then SIGKILL after a grace period), so no child outlives
the call. Background jobs a command leaves running are stopped too once the
command has finished. Output is kept as head and tail within the output cap.
"""

from __future__ import annotations

import asyncio
import codecs
import copy
import os
import signal
from typing import Any

from pydantic import Field

from tau_engine.errors import ToolError
from tau_engine.providers.base import ToolSpec
from tau_engine.tools.args import ToolArgs, parse_model
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome

MAX_TIMEOUT_S = 3600.0
# How long output may keep flowing after bash exits (from background jobs
# still holding the pipe) before those jobs are stopped.
DRAIN_S = 1.0


class BashArgs(ToolArgs):
    command: str
    timeout_s: float | None = Field(None, gt=0, le=MAX_TIMEOUT_S)


class OutputCapture:
    """The head and tail of a byte stream's text, within ``max_chars`` characters."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._head_limit = max_chars // 2
        self._tail_limit = max_chars - self._head_limit
        self._head: list[str] = []
        self._head_len = 0
        self._tail = ""
        self.total_chars = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> None:
        self._add(self._decoder.decode(data))

    def _add(self, text: str) -> None:
        self.total_chars += len(text)
        if self._head_len < self._head_limit:
            taken = text[:self._head_limit - self._head_len]
            self._head.append(taken)
            self._head_len += len(taken)
            text = text[len(taken):]
        if text:
            self._tail += text
            if len(self._tail) > 2 * self._tail_limit:
                self._tail = self._tail[-self._tail_limit:]

    def text(self) -> str:
        """Everything, or head + ``[... N characters truncated ...]`` + tail."""
        self._add(self._decoder.decode(b"", final=True))
        head = "".join(self._head)
        if self.total_chars <= self.max_chars:
            return head + self._tail
        tail = self._tail[-self._tail_limit:] if self._tail_limit else ""
        dropped = self.total_chars - len(head) - len(tail)
        return f"{head}\n[... {dropped} characters truncated ...]\n{tail}"


async def _pump(stream: asyncio.StreamReader, capture: OutputCapture) -> None:
    while chunk := await stream.read(65536):
        capture.feed(chunk)


async def wait_exit(proc: asyncio.subprocess.Process) -> int:
    """The exit status, as soon as the process has exited.

    ``Process.wait()`` also waits until its pipes close, which a background job
    holding stdout can delay indefinitely; the return code is set on exit alone.
    """
    delay = 0.001
    while proc.returncode is None:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
    return proc.returncode


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


async def kill_process_group(proc: asyncio.subprocess.Process, grace_s: float) -> None:
    """SIGTERM the process's group, wait up to ``grace_s`` for it, then SIGKILL the group."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(wait_exit(proc), grace_s)
    except TimeoutError:
        pass
    finally:
        # Also catches members that ignore SIGTERM after the leader has gone.
        _signal_group(proc.pid, signal.SIGKILL)
    await wait_exit(proc)


def _status(returncode: int | None, timed_out: bool, timeout_s: float) -> str:
    if timed_out:
        return (f"[timed out after {timeout_s:g}s; the command and its child processes "
                "were killed]")
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
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT_S,
                          "description": "Seconds before the command is killed. Default: "
                                         "the configured bash timeout."},
        },
        "required": ["command"],
        "additionalProperties": False,
    }

    def __init__(self, *, default_timeout_s: float = 120.0, kill_grace_s: float = 2.0) -> None:
        self.default_timeout_s = default_timeout_s
        self.kill_grace_s = kill_grace_s

    def spec(self) -> ToolSpec:
        # The model sees the actual default timeout, which comes from settings.
        parameters = copy.deepcopy(self.parameters)
        parameters["properties"]["timeout_s"]["description"] = (
            f"Seconds before the command is killed. Default {self.default_timeout_s:g}.")
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

    async def preview(self, args: BashArgs, ctx: ToolContext) -> str:
        return args.command

    async def run(self, args: BashArgs, ctx: ToolContext) -> ToolOutcome:
        timeout_s = args.timeout_s or self.default_timeout_s
        env = {**os.environ, **ctx.env} if ctx.env else None
        try:
            proc = await asyncio.create_subprocess_exec(
                "bash", "-c", args.command, cwd=ctx.workspace, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise ToolError(f"cannot start bash: {exc.strerror or exc}") from exc
        assert proc.stdout is not None
        capture = OutputCapture(ctx.max_output_chars)
        reader = asyncio.create_task(_pump(proc.stdout, capture))
        timed_out = False
        try:
            try:
                await asyncio.wait_for(wait_exit(proc), timeout_s)
            except TimeoutError:
                timed_out = True
                await kill_process_group(proc, self.kill_grace_s)
            try:
                await asyncio.wait_for(asyncio.shield(reader), DRAIN_S)
            except TimeoutError:
                # Background jobs still hold the pipe open: stop them.
                await kill_process_group(proc, self.kill_grace_s)
                await asyncio.wait({reader}, timeout=DRAIN_S)
        except asyncio.CancelledError:
            await kill_process_group(proc, self.kill_grace_s)
            raise
        finally:
            reader.cancel()
        output = capture.text().rstrip("\n") or "(no output)"
        status = _status(proc.returncode, timed_out, timeout_s)
        return ToolOutcome(output=f"{output}\n{status}",
                           ok=not timed_out and proc.returncode == 0,
                           data={"exit_code": proc.returncode, "timed_out": timed_out})
