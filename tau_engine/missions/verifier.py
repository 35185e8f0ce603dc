"""Run the verifier, the guard and the setup command in a mission's worktree.

A command runs as ``bash -c`` the way the bash tool runs one: stdin from
/dev/null, stderr merged into stdout, and nothing it starts outliving it; a
timeout stops all of it. Its output is kept whole up to ``MAX_LOG_CHARS`` (then head
and tail), because the log is evidence.

The environment is the user's, less the provider API keys (the code under test
may have been written by a model, and has no business with them), plus two
settings that keep test runs from writing into the worktree or reaching out of
it: ``PYTHONDONTWRITEBYTECODE=1``, and pytest's ``--confcutdir`` at the
worktree root, since the worktree sits inside the user's checkout and pytest
would otherwise load the checkout's ``conftest.py`` files too.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tau_engine.missions.model import CommandRun, MissionError
from tau_engine.missions.test_output import parse_test_names
from tau_engine.tools.command_process import CommandProcess
from tau_engine.tools.live_output import OutputCapture

MAX_LOG_CHARS = 2_000_000
KILL_GRACE_S = 2.0
DRAIN_S = 1.0  # how long what a command leaves running may go on after it exits
READ_S = 5.0  # how long its output may keep coming after that
TIMEOUT_EXIT_CODE = 124  # what timeout(1) reports, so a timed-out run reads as a failure

_SECRET_NAME = re.compile(r"(^|_)(API_KEY|APIKEY|ACCESS_KEY|SECRET|SECRET_KEY|TOKEN|PASSWORD)$")
# Provider keys by their vendors' names, whatever their suffix.
_PROVIDER_KEYS = frozenset(
    {
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "OPENROUTER_API_KEY",
        "DEEPSEEK_API_KEY",
        "XAI_API_KEY",
        "MISTRAL_API_KEY",
    }
)


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name says it holds a credential."""
    upper = name.upper()
    return upper in _PROVIDER_KEYS or bool(_SECRET_NAME.search(upper))


@dataclass(frozen=True)
class CommandOutput:
    """What one command did."""

    exit_code: int
    timed_out: bool
    duration_s: float
    text: str
    total_chars: int


def command_environ(worktree: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a verifier, guard or setup command runs with."""
    source = os.environ if base is None else base
    env = {
        k: v
        for k, v in source.items()
        if not (k.upper().endswith("_API_KEY") or k.upper() in _PROVIDER_KEYS)
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    extra = f"--confcutdir={worktree}"
    env["PYTEST_ADDOPTS"] = (
        f"{env['PYTEST_ADDOPTS']} {extra}" if env.get("PYTEST_ADDOPTS") else extra
    )
    return env


async def _pump(stream: asyncio.StreamReader, capture: OutputCapture) -> None:
    while chunk := await stream.read(65536):
        capture.feed(chunk)


async def run_command(
    command: str,
    cwd: Path,
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    max_chars: int = MAX_LOG_CHARS,
) -> CommandOutput:
    """Run ``command`` with ``bash -c`` in ``cwd``; never raises for the command's failure.

    It runs as the bash tool's commands do (``CommandProcess``): under a per-call
    subreaper where the platform has one, so nothing it starts outlives the run."""
    started = time.monotonic()
    try:
        proc = await CommandProcess.start(
            ["bash", "-c", command], cwd=cwd, env=env, grace_s=KILL_GRACE_S, drain_s=DRAIN_S
        )
    except OSError as exc:
        raise MissionError(f"cannot start bash to run {command!r}: {exc.strerror or exc}") from exc
    capture = OutputCapture(max_chars)
    reader = asyncio.create_task(_pump(proc.stdout, capture))
    timed_out = False
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            timed_out = True
            await proc.stop()
        try:
            await asyncio.wait_for(asyncio.shield(reader), READ_S)
        except TimeoutError:
            # Something outside the run's process tree holds the pipe: the run is over.
            await proc.stop()
            await asyncio.wait({reader}, timeout=1.0)
        await proc.finish()
    except asyncio.CancelledError:
        await proc.stop()
        raise
    finally:
        reader.cancel()
    code = proc.returncode if proc.returncode is not None else -1
    if timed_out:
        code = TIMEOUT_EXIT_CODE
    return CommandOutput(
        exit_code=code,
        timed_out=timed_out,
        duration_s=time.monotonic() - started,
        text=capture.text(),
        total_chars=capture.total_chars,
    )


def log_text(command: str, output: CommandOutput) -> str:
    """A command's log as evidence shows it: the command, its output, how it ended."""
    status = (
        f"timed out after {output.duration_s:.1f}s (counted as exit {TIMEOUT_EXIT_CODE})"
        if output.timed_out
        else f"exit {output.exit_code}"
    )
    body = output.text if output.text.endswith("\n") or not output.text else output.text + "\n"
    return f"$ {command}\n{body}# {status} after {output.duration_s:.2f}s\n"


def command_run(command: str, output: CommandOutput, log: str) -> CommandRun:
    """The persisted record of one run, with the test names its output states."""
    names = parse_test_names(output.text)
    return CommandRun(
        command=command,
        exit_code=output.exit_code,
        timed_out=output.timed_out,
        duration_s=round(output.duration_s, 3),
        log=log,
        output_chars=output.total_chars,
        framework=names.framework,
        failing=sorted(names.failing),
        passing=sorted(names.passing),
    )


def same_result(a: CommandRun, b: CommandRun) -> bool:
    """Whether two runs agree: the same exit code and the same failing tests."""
    return a.exit_code == b.exit_code and set(a.failing) == set(b.failing)
