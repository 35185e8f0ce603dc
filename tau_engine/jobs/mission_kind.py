"""Mission jobs: ``tau mission run ARGS…`` in a child process, resumed after a crash.

The first attempt runs ``tau mission run ARGS… --repo WORKSPACE --json``. The
mission's first progress line names it (``tau mission ID: intake: …``); the
attempt records the id, and every later attempt (after a dead worker, a crash,
or a replay) runs ``tau mission resume ID`` instead, so a job drives one mission
from wherever it stopped. Its phases are idempotent: a commit already on the
mission's branch is found by its trailer and not made again, and right before
``git commit`` the mission checks the job's fence (``store/job_fence.py``), so an
attempt that has lost its job commits nothing. The commit carries ``Tau-Job: ID``
beside ``Tau-Mission: ID``.

Files the arguments name (``--patch``, ``--issue``) are copied into the job's
folder at submit, so the job's recorded inputs are all it needs to run again.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tau_engine.errors import UsageError
from tau_engine.jobs.kinds import AttemptContext, ChildSpec, Observation
from tau_engine.paths import WorkspacePaths
from tau_engine.store.job_models import AttemptRecord, JobRecord, JobState, Outcome, Progress
from tau_engine.store.job_models import Reason as JobReason

FILE_FLAGS = {"--patch": "patch", "--issue": "issue.md"}
REFUSED_FLAGS = ("--repo", "-w", "--json", "--debug")  # the job decides these
AUTHORITY_REASONS = frozenset({"missing-edit-authority", "missing-credentials"})
EXIT_BLOCKED = 3
_PROGRESS = re.compile(r"^tau mission ([0-9A-Za-z._-]+): ([a-z-]+): (.*)$")
_MISSION_ID = re.compile(r"^[0-9A-Za-z._-]{1,80}$")


class MissionInputs(BaseModel):
    """A mission job's inputs: the ``tau mission run`` arguments (and, for a replay, the
    mission to resume)."""

    model_config = ConfigDict(extra="forbid")

    args: list[str] = Field(min_length=1)
    mission_id: str | None = None


def _split_flags(args: list[str]) -> list[str]:
    """``--flag=value`` as two items, so flags are found whatever form was typed."""
    out: list[str] = []
    for arg in args:
        flag, eq, value = arg.partition("=")
        if eq and flag.startswith("--"):
            out += [flag, value]
        else:
            out.append(arg)
    return out


class MissionObserver:
    """Reads ``tau mission … --json``: progress lines on stderr, the result on stdout."""

    def __init__(self, known_id: str | None) -> None:
        self.progress = Progress(phase="starting")
        self.side_effects = False  # a mission works in its own worktree and branch
        self.mission_id = known_id
        self.result: dict[str, Any] | None = None
        self.last_error = ""

    def feed(self, stream: str, line: str) -> Observation | None:
        text = line.strip()
        if not text:
            return None
        if stream == "stdout" and text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            if isinstance(data, dict) and "outcome" in data:
                self.result = data
                return None
        match = _PROGRESS.match(text)
        if match is None:
            if stream == "stderr":
                self.last_error = text[:1000]
            self.progress = self.progress.model_copy(update={"last_line": text[:200]})
            return None
        mission_id, phase, message = match.groups()
        self.progress = Progress(phase=phase, last_line=message[:200])
        seen = Observation(event=("phase", {"phase": phase, "mission_id": mission_id}))
        if self.mission_id != mission_id and _MISSION_ID.match(mission_id):
            self.mission_id = mission_id
            seen = Observation(
                event=("mission", {"mission_id": mission_id, "phase": phase}),
                detail={"mission_id": mission_id},
            )
        return seen

    def outcome(self, exit_code: int, *, cancelled: bool, now: float) -> Outcome:
        result = dict(self.result or {})
        if self.mission_id:
            result.setdefault("id", self.mission_id)
            result["next_command"] = f"tau mission show {self.mission_id}"
        if cancelled:
            return Outcome(
                state=JobState.CANCELLED,
                reason=JobReason.OPERATOR_CANCEL,
                message="cancelled by the operator",
                exit_code=exit_code,
                result=result,
            )
        reason = str(result.get("reason") or "")
        if exit_code == 0:
            return Outcome(
                state=JobState.SUCCEEDED,
                reason=JobReason.COMPLETED,
                message=f"mission {result.get('outcome', 'done')}"
                + (f" ({result['commit'][:12]})" if result.get("commit") else ""),
                exit_code=0,
                result=result,
            )
        if exit_code == EXIT_BLOCKED:
            if result.get("unblock_command"):
                result["next_command"] = result["unblock_command"]
            code = (
                JobReason.NEEDS_AUTHORITY
                if reason in AUTHORITY_REASONS
                else JobReason.MISSION_BLOCKED
            )
            return Outcome(
                state=JobState.BLOCKED,
                reason=code,
                message=f"the mission is blocked ({reason or 'no reason'})",
                exit_code=exit_code,
                result=result,
            )
        if exit_code < 0 or exit_code == 130:
            # Killed mid-phase: the next attempt resumes the mission where it stopped.
            how = f"signal {-exit_code}" if exit_code < 0 else "an interrupt"
            return Outcome(
                state=JobState.QUEUED,
                reason=JobReason.CRASHED,
                error=f"the mission's process was stopped by {how}",
                exit_code=exit_code,
                result=result,
            )
        if exit_code == 2:
            return Outcome(
                state=JobState.FAILED,
                reason=JobReason.BAD_INPUT,
                error=self.last_error,
                exit_code=2,
                result=result,
            )
        return Outcome(
            state=JobState.FAILED,
            reason=JobReason.RUN_FAILED,
            error=f"the mission failed ({reason})" if reason else self.last_error,
            exit_code=exit_code,
            result=result,
        )


class MissionKind:
    """The ``mission`` job kind."""

    name = "mission"

    def __init__(self, tau_argv: list[str] | None = None) -> None:
        self.tau_argv = tau_argv or [sys.executable, "-m", "tau_tui.cli"]

    def _parse(self, inputs: dict[str, Any]) -> MissionInputs:
        try:
            return MissionInputs.model_validate(inputs)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "inputs"
            raise UsageError(f"mission job: {where}: {first['msg']}") from exc

    def validate(self, inputs: dict[str, Any]) -> dict[str, Any]:
        parsed = self._parse(inputs)
        args = _split_flags(parsed.args)
        refused = [a for a in args if a in REFUSED_FLAGS]
        if refused:
            raise UsageError(
                f"mission job: {refused[0]} is not for a job (it runs in its "
                "workspace and reports as JSON)"
            )
        if parsed.mission_id is not None and not _MISSION_ID.match(parsed.mission_id):
            raise UsageError("mission job: that is not a mission id")
        return MissionInputs(args=args, mission_id=parsed.mission_id).model_dump(exclude_none=True)

    def prepare(self, inputs: dict[str, Any], job_dir: Path) -> dict[str, Any]:
        args = list(inputs["args"])
        for i, arg in enumerate(args[:-1]):
            name = FILE_FLAGS.get(arg)
            if name is None or args[i + 1] == "-":
                continue
            source = Path(args[i + 1]).expanduser()
            if not source.is_file():
                raise UsageError(f"{arg} {args[i + 1]}: no such file")
            job_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, job_dir / name)
            args[i + 1] = name
        return {**inputs, "args": args}

    def _mission_id(self, ctx: AttemptContext, inputs: dict[str, Any]) -> str | None:
        for attempt in reversed(ctx.attempts):
            found = attempt.detail.get("mission_id")
            if isinstance(found, str) and _MISSION_ID.match(found):
                return found
        found = inputs.get("mission_id")
        return found if isinstance(found, str) else None

    def child(self, ctx: AttemptContext, inputs: dict[str, Any]) -> ChildSpec:
        parsed = self._parse(inputs)
        root = str(ctx.paths.root)
        mission_id = self._mission_id(ctx, inputs)
        if mission_id is not None:
            argv = [*self.tau_argv, "mission", "resume", mission_id, "--repo", root, "--json"]
        else:
            args = list(parsed.args)
            for i, arg in enumerate(args[:-1]):
                if arg in FILE_FLAGS and args[i + 1] != "-":
                    if args[i + 1] != Path(args[i + 1]).name:
                        raise UsageError(f"mission job: its {arg} file must be in the job's folder")
                    args[i + 1] = str(ctx.job_dir / args[i + 1])
            argv = [*self.tau_argv, "mission", "run", *args, "--repo", root, "--json"]
        return ChildSpec(
            argv=argv,
            cwd=ctx.paths.root,
            env=ctx.child_environ(),
            detail={"mission_id": mission_id} if mission_id else {},
        )

    def observer(self, ctx: AttemptContext) -> MissionObserver:
        return MissionObserver(self._mission_id(ctx, ctx.job.inputs))

    def summary(self, inputs: dict[str, Any]) -> str:
        args = [str(a) for a in inputs.get("args", [])]
        for flag in ("--task", "--issue"):
            if flag in args[:-1]:
                text = " ".join(args[args.index(flag) + 1].split())
                return "mission: " + (text[:59] + "…" if len(text) > 60 else text)
        return "mission: " + " ".join(args)[:60]

    def submit_argv(self, inputs: dict[str, Any], job_dir: Path) -> list[str]:
        args = list(self._parse(inputs).args)
        for i, arg in enumerate(args[:-1]):
            if arg in FILE_FLAGS and args[i + 1] != "-":
                args[i + 1] = str(job_dir / Path(args[i + 1]).name)
        return ["--mission", *args]

    def replay_safe(self, job: JobRecord, attempts: list[AttemptRecord]) -> bool:
        return True  # every phase is idempotent, and a commit is never made twice

    def replay_inputs(
        self,
        job: JobRecord,
        attempts: list[AttemptRecord],
        *,
        offline: bool,
        paths: WorkspacePaths,
        new_job_dir: Path,
    ) -> dict[str, Any]:
        if offline:
            raise UsageError(
                "a mission job cannot be replayed --offline; replay it as is "
                "(it resumes its mission, and commits nothing twice)"
            )
        inputs = self.validate(job.inputs)
        old = paths.state_dir / "jobs" / job.id
        for name in FILE_FLAGS.values():
            if (old / name).is_file():
                new_job_dir.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(old / name, new_job_dir / name)
        mission_id = next(
            (
                a.detail["mission_id"]
                for a in reversed(attempts)
                if isinstance(a.detail.get("mission_id"), str)
            ),
            None,
        )
        if mission_id is not None and _MISSION_ID.match(mission_id):
            inputs["mission_id"] = mission_id
        return inputs
