"""Prompt jobs: one headless run of ``tau -p`` in the workspace, in a child process.

The child is ``tau --prompt=- --output-format stream-json --record FILE …`` with the
prompt on its stdin. Its session, with every engine event, is written to the store
by the child itself; the worker links the attempt to that session (the first
``session_started`` event names it) and turns the stream into progress
(``run_finished`` says how the run ended). Every attempt records its provider
exchanges (``attempt-N.replay.json`` in the job's folder), so ``tau jobs replay ID
--offline`` can play them back with ``offline/replay``: a reproducible run that
costs nothing.

A failed run is retried (with backoff, up to ``--max-attempts``) only when the
provider failed in a way that may pass (rate limit, overload, a dropped
connection) and the attempt ran no tool that could have changed anything.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tau_engine.errors import UsageError
from tau_engine.jobs.kinds import AttemptContext, ChildSpec, Observation, job_dir
from tau_engine.paths import WorkspacePaths
from tau_engine.store.job_models import (
    AttemptRecord,
    JobRecord,
    JobState,
    Outcome,
    Progress,
    Reason,
)

SCRIPT_NAME = "script.json"
READ_ONLY_TOOLS = frozenset({"read", "glob", "grep", "search"})
RETRYABLE_ERRORS = frozenset(
    {"rate_limit", "overloaded", "server", "connection", "timeout", "stream"}
)
LAST_LINE_CHARS = 200
RESULT_CHARS = 4000


class PromptInputs(BaseModel):
    """What a prompt job runs with. Everything that carries authority is here, signed."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1)
    model: str | None = None
    base_url: str | None = None
    approval: Literal["read-only", "ask", "auto-edit", "full-auto"] = "auto-edit"
    max_turns: int | None = Field(default=None, ge=1)
    max_cost: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, ge=1)
    script: str | None = None  # after submit: a file name inside the job's folder


def recording_name(attempt: int) -> str:
    return f"attempt-{attempt}.replay.json"


def _retry_delay(attempt: int) -> float:
    base: float = min(300.0, 5.0 * 2.0 ** max(0, attempt - 1))
    return base * random.uniform(0.5, 1.0)


class PromptObserver:
    """Reads a ``tau -p`` stream-json output."""

    def __init__(self, attempt: int) -> None:
        self.attempt = attempt
        self.progress = Progress(phase="starting")
        self.side_effects = False
        self.session_id: str | None = None
        self.finished: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.stderr_tail = ""
        self._partial = ""
        self._tools: dict[str, str] = {}

    def _line(self, text: str) -> None:
        text = " ".join(text.split())
        if text:
            self.progress = self.progress.model_copy(update={"last_line": text[:LAST_LINE_CHARS]})

    def _phase(self, phase: str, data: dict[str, Any]) -> Observation:
        self.progress = self.progress.model_copy(update={"phase": phase})
        return Observation(event=("phase", {"phase": phase, **data}))

    def feed(self, stream: str, line: str) -> Observation | None:
        if stream == "stderr" or not line.startswith("{"):
            if line.strip():
                self.stderr_tail = line.strip()[:1000]
                self._line(line)
            return None
        try:
            event = json.loads(line)
        except ValueError:
            return None
        if not isinstance(event, dict):
            return None
        return self._event(event)

    def _event(self, event: dict[str, Any]) -> Observation | None:
        kind = event.get("type")
        if kind == "text_delta":
            self._text(str(event.get("text", "")))
        elif kind == "tool_output_delta":
            self._line(str(event.get("text", "")).rstrip("\n").rsplit("\n", 1)[-1])
        elif kind == "session_started" and self.session_id is None:
            self.session_id = str(event.get("session_id") or "") or None
            self.progress = self.progress.model_copy(update={"phase": "started"})
            return Observation(
                session_id=self.session_id,
                event=("session", {"session_id": self.session_id, "model": event.get("model", "")}),
            )
        elif kind == "turn_started":
            return self._phase(f"turn {event.get('turn', '?')}", {})
        elif kind == "tool_call":
            name = str(event.get("name", "?"))
            self._tools[str(event.get("call_id", ""))] = name
            self._line(f"tool={name}")
            return self._phase(f"tool {name}", {"call_id": event.get("call_id")})
        elif kind == "tool_result":
            name = str(event.get("name", "?"))
            if not event.get("denied") and name not in READ_ONLY_TOOLS:
                self.side_effects = True
            status = "denied" if event.get("denied") else ("ok" if event.get("ok") else "error")
            self._line(f"tool={name} {status}")
        elif kind == "error":
            self.error = {
                "message": str(event.get("message", "")),
                "kind": str(event.get("kind", "error")),
            }
            return Observation(event=("error", dict(self.error)))
        elif kind == "run_finished":
            # The run's end (schema v2); the session_finished after it, at close, carries
            # no outcome.
            self.finished = event
            return self._phase(
                "finishing", {"stop_reason": event.get("stop_reason"), "turns": event.get("turns")}
            )
        return None

    def _text(self, text: str) -> None:
        self._partial += text
        if "\n" in self._partial:
            done, self._partial = self._partial.rsplit("\n", 1)
            for line in reversed(done.split("\n")):
                if line.strip():
                    self._line(line)
                    break
        if self._partial.strip():
            self._line(self._partial[-LAST_LINE_CHARS:])

    def outcome(self, exit_code: int, *, cancelled: bool, now: float) -> Outcome:
        effects = self.side_effects
        if cancelled:
            return Outcome(
                state=JobState.CANCELLED,
                reason=Reason.OPERATOR_CANCEL,
                message="cancelled by the operator",
                exit_code=exit_code,
                side_effects=effects,
                result=self._result(),
            )
        finished = self.finished or {}
        stop = str(finished.get("stop_reason", ""))
        error = (self.error or {}).get("message") or self.stderr_tail
        if exit_code == 0:
            return Outcome(
                state=JobState.SUCCEEDED,
                reason=Reason.COMPLETED,
                message=f"{stop or 'done'} after {finished.get('turns', '?')} turn(s)",
                exit_code=0,
                side_effects=effects,
                result=self._result(),
            )
        if exit_code < 0 or exit_code == 130:
            how = f"signal {-exit_code}" if exit_code < 0 else "an interrupt"
            return Outcome(
                state=JobState.QUEUED,
                reason=Reason.CRASHED,
                error=f"the job's process was stopped by {how}",
                retry_at=now + _retry_delay(self.attempt),
                exit_code=exit_code,
                side_effects=effects,
                result=self._result(),
            )
        if exit_code == 2:
            return Outcome(
                state=JobState.FAILED,
                reason=Reason.BAD_INPUT,
                error=error,
                exit_code=2,
                side_effects=effects,
            )
        reason: str = Reason.RUN_FAILED
        if stop == "max_turns":
            reason = Reason.MAX_TURNS
        elif stop == "budget":
            reason = Reason.BUDGET
        elif (self.error or {}).get("kind") in RETRYABLE_ERRORS and not effects:
            return Outcome(
                state=JobState.QUEUED,
                reason=Reason.RETRY,
                error=error,
                retry_at=now + _retry_delay(self.attempt),
                exit_code=exit_code,
                side_effects=effects,
                result=self._result(),
            )
        return Outcome(
            state=JobState.FAILED,
            reason=reason,
            error=error,
            exit_code=exit_code,
            side_effects=effects,
            result=self._result(),
        )

    def _result(self) -> dict[str, Any]:
        finished = self.finished or {}
        return {
            "session_id": self.session_id,
            "stop_reason": finished.get("stop_reason"),
            "turns": finished.get("turns"),
            "result": str(finished.get("result", ""))[:RESULT_CHARS],
            "cost_usd": finished.get("cost_usd"),
            "usage": finished.get("usage"),
        }


class PromptKind:
    """The ``prompt`` job kind."""

    name = "prompt"

    def __init__(self, tau_argv: list[str] | None = None) -> None:
        # How to run tau itself: this interpreter, the CLI module.
        self.tau_argv = tau_argv or [sys.executable, "-m", "tau_tui.cli"]

    def _parse(self, inputs: dict[str, Any]) -> PromptInputs:
        try:
            return PromptInputs.model_validate(inputs)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "inputs"
            raise UsageError(f"prompt job: {where}: {first['msg']}") from exc

    def validate(self, inputs: dict[str, Any]) -> dict[str, Any]:
        parsed = self._parse(inputs)
        if not parsed.prompt.strip():
            raise UsageError("prompt job: the prompt is empty")
        return parsed.model_dump(exclude_none=True)

    def prepare(self, inputs: dict[str, Any], job_dir: Path) -> dict[str, Any]:
        script = inputs.get("script")
        if not script:
            return inputs
        source = Path(script).expanduser()
        if not source.is_file():
            raise UsageError(f"--script {script}: no such file")
        job_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, job_dir / SCRIPT_NAME)
        return {**inputs, "script": SCRIPT_NAME}

    def child(self, ctx: AttemptContext, inputs: dict[str, Any]) -> ChildSpec:
        parsed = self._parse(inputs)
        folder = ctx.job_dir
        folder.mkdir(parents=True, exist_ok=True)
        record = folder / recording_name(ctx.fence.attempt)
        argv = [
            *self.tau_argv,
            "--prompt=-",
            "--output-format",
            "stream-json",
            "--no-color",
            "--workspace",
            str(ctx.paths.root),
            "--approval",
            parsed.approval,
            "--record",
            str(record),
        ]
        for flag, value in (
            ("--model", parsed.model),
            ("--base-url", parsed.base_url),
            ("--max-turns", parsed.max_turns),
            ("--max-cost", parsed.max_cost),
            ("--max-tokens", parsed.max_tokens),
        ):
            if value is not None:
                argv += [flag, str(value)]
        if parsed.script is not None:
            if parsed.script != Path(parsed.script).name:
                raise UsageError("prompt job: its script must be a file in the job's folder")
            argv += ["--script", str(folder / parsed.script)]
        return ChildSpec(
            argv=argv,
            cwd=ctx.paths.root,
            env=ctx.child_environ(),
            stdin=parsed.prompt,
            detail={"recording": str(record.relative_to(ctx.paths.state_dir))},
        )

    def observer(self, ctx: AttemptContext) -> PromptObserver:
        return PromptObserver(ctx.fence.attempt)

    def summary(self, inputs: dict[str, Any]) -> str:
        prompt = " ".join(str(inputs.get("prompt", "")).split())
        if len(prompt) > 60:
            prompt = prompt[:59] + "…"
        model = inputs.get("model")
        return f"{prompt}" + (f" ({model})" if model else "")

    def submit_argv(self, inputs: dict[str, Any], job_dir: Path) -> list[str]:
        parsed = self._parse(inputs)
        argv = ["-p", parsed.prompt]
        for flag, value in (
            ("--model", parsed.model),
            ("--base-url", parsed.base_url),
            ("--max-turns", parsed.max_turns),
            ("--max-cost", parsed.max_cost),
            ("--max-tokens", parsed.max_tokens),
        ):
            if value is not None:
                argv += [flag, str(value)]
        if parsed.approval != "auto-edit":
            argv += ["--approval", parsed.approval]
        if parsed.script is not None:
            argv += ["--script", str(job_dir / Path(parsed.script).name)]
        return argv

    def replay_safe(self, job: JobRecord, attempts: list[AttemptRecord]) -> bool:
        return not any(attempt.side_effects for attempt in attempts)

    def replay_inputs(
        self,
        job: JobRecord,
        attempts: list[AttemptRecord],
        *,
        offline: bool,
        paths: WorkspacePaths,
        new_job_dir: Path,
    ) -> dict[str, Any]:
        inputs = self.validate(job.inputs)
        old_dir = job_dir(paths, job.id)
        if not offline:
            if inputs.get("script"):
                new_job_dir.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(old_dir / str(inputs["script"]), new_job_dir / SCRIPT_NAME)
                inputs["script"] = SCRIPT_NAME
            return inputs
        recorded = [
            old_dir / recording_name(a.attempt)
            for a in reversed(attempts)
            if (old_dir / recording_name(a.attempt)).is_file()
        ]
        if not recorded:
            raise UsageError(
                f"job {job.id[:8]} has no recorded provider exchanges to replay "
                "(it never reached its model)"
            )
        new_job_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(recorded[0], new_job_dir / SCRIPT_NAME)
        inputs.pop("base_url", None)
        inputs.update(model="offline/replay", script=SCRIPT_NAME)
        return inputs
