"""A job kind for the race and chaos tests: a short child process with one "commit".

Its child sleeps a little (so kills land mid-job), then does what a mission does
before its irreversible step: checks its fence in the database, checks whether
its "commit" already exists (a line with the job's id in the ledger file, as a
mission looks for its ``Tau-Job`` trailer), and only then appends it. The
worker, queue, lease and process code it runs under are the real ones; only
the work is small, so 200 jobs take seconds instead of minutes of ``tau -p``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tau_engine.jobs.kinds import AttemptContext, ChildSpec, Observation
from tau_engine.store.job_models import AttemptRecord, JobRecord, JobState, Outcome, Progress

CHILD = r"""
import os, sqlite3, sys, time
db, job_id, fence, ledger, sleep_s = sys.argv[1:6]
time.sleep(float(sleep_s))
conn = sqlite3.connect(db, timeout=30)
row = conn.execute("SELECT 1 FROM jobs WHERE id = ? AND fence = ? AND state = 'running'",
                   (job_id, int(fence))).fetchone()
if row is None:
    print("fence is stale: not committing", flush=True)
    sys.exit(3)
with open(ledger, "a+") as handle:
    handle.seek(0)
    if any(line.split()[0] == job_id for line in handle if line.strip()):
        print("already committed", flush=True)
        sys.exit(0)
    handle.write(f"{job_id} {fence} {os.getpid()}\n")
print("committed", flush=True)
"""


class MarkerObserver:
    def __init__(self) -> None:
        self.progress = Progress(phase="running")
        self.side_effects = False

    def feed(self, stream: str, line: str) -> Observation | None:
        self.progress = Progress(phase="running", last_line=line)
        if line == "committed":
            self.side_effects = True
            return Observation(event=("committed", {}))
        return None

    def outcome(self, exit_code: int, *, cancelled: bool, now: float) -> Outcome:
        if exit_code == 0:
            return Outcome(state=JobState.SUCCEEDED, reason="completed", exit_code=0)
        return Outcome(
            state=JobState.FAILED,
            reason="run-failed",
            exit_code=exit_code,
            error=self.progress.last_line,
        )


class MarkerKind:
    name = "marker"

    def __init__(self, ledger: Path, sleep_s: float) -> None:
        self.ledger = ledger
        self.sleep_s = sleep_s

    def validate(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return dict(inputs)

    def prepare(self, inputs: dict[str, Any], job_dir: Path) -> dict[str, Any]:
        return inputs

    def child(self, ctx: AttemptContext, inputs: dict[str, Any]) -> ChildSpec:
        argv = [
            sys.executable,
            "-S",
            "-c",
            CHILD,
            str(ctx.paths.db_path),
            ctx.job.id,
            str(ctx.fence.token),
            str(self.ledger),
            str(inputs.get("sleep", self.sleep_s)),
        ]
        return ChildSpec(argv=argv, cwd=ctx.paths.root, env=ctx.child_environ())

    def observer(self, ctx: AttemptContext) -> MarkerObserver:
        return MarkerObserver()

    def summary(self, inputs: dict[str, Any]) -> str:
        return json.dumps(inputs)

    def submit_argv(self, inputs: dict[str, Any], job_dir: Path) -> list[str]:
        return []

    def replay_safe(self, job: JobRecord, attempts: list[AttemptRecord]) -> bool:
        return True

    def replay_inputs(
        self,
        job: JobRecord,
        attempts: list[AttemptRecord],
        *,
        offline: bool,
        paths: Any,
        new_job_dir: Path,
    ) -> dict[str, Any]:
        return dict(job.inputs)
