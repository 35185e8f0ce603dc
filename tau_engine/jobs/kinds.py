"""Job kinds: what a job of each kind runs, how its output reads, and how it ended.

The worker knows nothing of prompts or missions. For each attempt it asks the
job's kind for a ``ChildSpec`` (the command line of the child process), feeds
every line the child prints to the kind's ``AttemptObserver`` (which turns
them into progress, a session link, log entries), and asks the observer for
the ``Outcome`` once the child has exited. A kind also validates inputs at
submit time, renders them back as the ``tau jobs submit`` command that would
make the same job, and says whether a replay of a failed job is safe.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tau_engine.errors import StoreError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.job_fence import JOB_ATTEMPT_ENV, JOB_FENCE_ENV, JOB_ID_ENV
from tau_engine.store.job_models import AttemptRecord, Fence, JobRecord, Outcome, Progress

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def job_dir(paths: WorkspacePaths, job_id: str) -> Path:
    """Where a job keeps its files: recordings of its provider exchanges, scripts.

    A job id comes from the database, which is workspace input: anything but the
    ids tau makes (32 hex digits) is refused rather than joined into a path.
    """
    if not _JOB_ID.match(job_id):
        raise StoreError(f"job id {job_id[:40]!r} is not one tau makes")
    return paths.state_dir / "jobs" / job_id


@dataclass(frozen=True)
class AttemptContext:
    """Everything a kind needs to start one attempt."""

    job: JobRecord
    fence: Fence
    paths: WorkspacePaths
    environ: Mapping[str, str]
    attempts: tuple[AttemptRecord, ...] = ()  # this one included, last

    @property
    def job_dir(self) -> Path:
        return job_dir(self.paths, self.job.id)

    def child_environ(self) -> dict[str, str]:
        """The worker's environment plus the job's identity and fence, for the child.

        ``TAU_JOB_FENCE`` lets the child check, right before an irreversible step
        (a mission's ``git commit``), that its attempt still owns the job.
        """
        env = dict(self.environ)
        env.update(
            {
                JOB_ID_ENV: self.job.id,
                JOB_FENCE_ENV: str(self.fence.token),
                JOB_ATTEMPT_ENV: str(self.fence.attempt),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env


@dataclass(frozen=True)
class ChildSpec:
    """The child process of one attempt."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]
    stdin: str | None = None  # written to the child's stdin, then closed
    detail: dict[str, Any] = field(default_factory=dict)  # recorded on the attempt


@dataclass
class Observation:
    """What one line of output changed, for the worker to write (fenced) at once."""

    event: tuple[str, dict[str, Any]] | None = None  # a log entry: (type, data)
    session_id: str | None = None
    detail: dict[str, Any] | None = None


class AttemptObserver(Protocol):
    """Reads one attempt's output; knows its progress and, at the end, its outcome."""

    progress: Progress
    side_effects: bool

    def feed(self, stream: str, line: str) -> Observation | None:
        """Take one line (``stream`` is ``stdout`` or ``stderr``)."""
        ...

    def outcome(self, exit_code: int, *, cancelled: bool, now: float) -> Outcome:
        """How the attempt ended the job, from its exit status and what it printed."""
        ...


class JobKind(Protocol):
    """One kind of job (``prompt``, ``mission``)."""

    name: str

    def validate(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The inputs in canonical form; ``UsageError`` when they are not acceptable."""
        ...

    def prepare(self, inputs: dict[str, Any], job_dir: Path) -> dict[str, Any]:
        """Copy what the inputs point to into the job's folder (at submit); new inputs."""
        ...

    def child(self, ctx: AttemptContext, inputs: dict[str, Any]) -> ChildSpec: ...

    def observer(self, ctx: AttemptContext) -> AttemptObserver: ...

    def summary(self, inputs: dict[str, Any]) -> str:
        """A short description for listings."""
        ...

    def submit_argv(self, inputs: dict[str, Any], job_dir: Path) -> list[str]:
        """The arguments of ``tau jobs submit`` that make a job with these inputs."""
        ...

    def replay_safe(self, job: JobRecord, attempts: list[AttemptRecord]) -> bool:
        """Whether running the job again from its inputs cannot repeat a side effect."""
        ...

    def replay_inputs(
        self,
        job: JobRecord,
        attempts: list[AttemptRecord],
        *,
        offline: bool,
        paths: WorkspacePaths,
        new_job_dir: Path,
    ) -> dict[str, Any]:
        """The inputs of a replay of ``job``; with ``offline``, of one that plays back
        the recorded provider exchanges instead of calling the provider."""
        ...
