"""Benchmark of draining a job queue with many worker processes (a script, not a test):
``python bench/bench_job_queue.py [--jobs 1000] [--workers 8] [--runs 3]``.

For each backend (SQLite in the workspace's ``.tau/tau.db``; PostgreSQL on a throwaway
server, ``tests/support/postgres_server.py``), in a temporary workspace:

1. drain: ``--jobs`` jobs are queued, then ``--workers`` worker processes (the real
   ``Worker``, one slot each, the real lease, heartbeats and child processes) start
   together and run until every job has ended; jobs per second from the go to the last
   job settled, median of ``--runs``. The job kind is the cheapest one that still runs
   the whole path: its child is ``/bin/sh`` appending the job's id and fencing token to a
   ledger (once), so the figure is the queue's and the worker's, not a model's. Zero
   duplicates: every job ran one attempt, and the ledger holds each job once;
2. kill: the same drain, and once a third of the jobs have ended two workers are killed
   with SIGKILL; the others recover their jobs when the lease runs out. Every job must
   still end ``succeeded`` exactly once: one succeeded attempt per job, none lost.

The ratio is PostgreSQL's jobs per second over SQLite's, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tau_engine.jobs.kinds import AttemptContext, ChildSpec, Observation  # noqa: E402
from tau_engine.jobs.service import JobService  # noqa: E402
from tau_engine.jobs.worker import WorkerConfig  # noqa: E402
from tau_engine.paths import WorkspacePaths  # noqa: E402
from tau_engine.store.job_models import (  # noqa: E402
    AttemptRecord,
    JobRecord,
    JobState,
    Outcome,
    Progress,
)

LEASE_S, HEARTBEAT_S = 3.0, 0.5
LIVE = {JobState.QUEUED, JobState.RUNNING, JobState.RECOVERING}


class LedgerObserver:
    def __init__(self) -> None:
        self.progress = Progress(phase="running")
        self.side_effects = False

    def feed(self, stream: str, line: str) -> Observation | None:
        return None

    def outcome(self, exit_code: int, *, cancelled: bool, now: float) -> Outcome:
        if exit_code == 0:
            return Outcome(state=JobState.SUCCEEDED, reason="completed", exit_code=0)
        return Outcome(state=JobState.FAILED, reason="run-failed", exit_code=exit_code)


class LedgerKind:
    """A job whose child appends ``JOB_ID FENCE`` to the ledger and exits, unless the
    ledger holds the job already (a side effect made idempotent, as a mission's commit
    is by its ``Tau-Job`` trailer: a job whose worker died after its child wrote runs
    again, and must not write twice)."""

    name = "ledger"

    def __init__(self, ledger: Path) -> None:
        self.ledger = ledger

    def validate(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return dict(inputs)

    def prepare(self, inputs: dict[str, Any], job_dir: Path) -> dict[str, Any]:
        return inputs

    def child(self, ctx: AttemptContext, inputs: dict[str, Any]) -> ChildSpec:
        script = (
            'grep -q "^$TAU_JOB_ID " "$1" || '
            'printf "%s %s\\n" "$TAU_JOB_ID" "$TAU_JOB_FENCE" >> "$1"'
        )
        argv = ["/bin/sh", "-c", script, "sh", str(self.ledger)]
        return ChildSpec(argv=argv, cwd=ctx.paths.root, env=ctx.child_environ())

    def observer(self, ctx: AttemptContext) -> LedgerObserver:
        return LedgerObserver()

    def summary(self, inputs: dict[str, Any]) -> str:
        return "ledger"

    def submit_argv(self, inputs: dict[str, Any], job_dir: Path) -> list[str]:
        return []

    def replay_safe(self, job: JobRecord, attempts: list[AttemptRecord]) -> bool:
        return True

    def replay_inputs(self, job: JobRecord, attempts: list[AttemptRecord], **_: Any) -> Any:
        return dict(job.inputs)


def _service(workspace: Path, url: str, ledger: Path) -> JobService:
    kinds: Any = {"ledger": LedgerKind(ledger)}
    return JobService.open(WorkspacePaths(workspace), store_url=url, kinds=kinds)


# -- one worker process ----------------------------------------------------------------
def worker(workspace: Path, url: str, ledger: Path) -> None:
    """Open the queue, say ready, wait for the go, then run until told to drain."""
    service = _service(workspace, url, ledger)
    config = WorkerConfig(
        lease_s=LEASE_S,
        heartbeat_s=HEARTBEAT_S,
        recover_every_s=LEASE_S / 2,
        idle_wait_s=0.2,
    )

    async def run() -> None:
        running = service.worker(config, environ=dict(os.environ))
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, running.drain)
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        report = await running.run()
        print(json.dumps({"ran": report.ran, "recovered": report.recovered}), flush=True)

    try:
        asyncio.run(run())
    finally:
        service.close()


# -- one drain -----------------------------------------------------------------------------
def drain(url: str, jobs: int, workers: int, kill: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tau-bench-queue-") as tmp:
        workspace = Path(tmp) / "ws"
        workspace.mkdir()
        ledger = Path(tmp) / "ledger"
        ledger.touch()
        service = _service(workspace, url, ledger)
        try:
            return asyncio.run(_drain(service, workspace, url, ledger, jobs, workers, kill))
        finally:
            service.close()


async def _drain(
    service: JobService,
    workspace: Path,
    url: str,
    ledger: Path,
    jobs: int,
    workers: int,
    kill: int,
) -> dict[str, Any]:
    submit = service.submit  # three attempts: a killed worker's job is run again
    ids = [(await submit("ledger", {"n": n}, max_attempts=3)).job.id for n in range(jobs)]
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", str(workspace), url, str(ledger)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(workers)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    start = time.monotonic()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    killed = False
    while True:
        live = await service.list_jobs(states=LIVE, limit=jobs)
        if not live:
            break
        if kill and not killed and len(live) <= jobs * 2 // 3:
            for proc in procs[:kill]:
                proc.send_signal(signal.SIGKILL)
            killed = True
        await asyncio.sleep(0.02)
    elapsed = time.monotonic() - start
    for proc in procs[kill:]:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.communicate(timeout=60)
    return await _check(service, ids, ledger, elapsed, kill)


async def _check(
    service: JobService, ids: list[str], ledger: Path, elapsed: float, kill: int
) -> dict[str, Any]:
    states: Counter[str] = Counter()
    attempts = succeeded_twice = reruns = 0
    for job_id in ids:
        job = await service.get(job_id)
        states[job.state.value] += 1
        tries = await service.queue.attempts(job_id)
        attempts += len(tries)
        reruns += len(tries) > 1
        succeeded_twice += sum(1 for a in tries if a.outcome == "succeeded") > 1
    lines = [line.split()[0] for line in ledger.read_text().splitlines() if line.strip()]
    in_ledger = Counter(lines)
    return {
        "jobs_per_s": len(ids) / elapsed,
        "succeeded": states["succeeded"],
        "states": dict(states),
        "attempts": attempts,
        "rerun_jobs": reruns,
        "succeeded_twice": succeeded_twice,
        "ledger_missing": sum(1 for job_id in ids if job_id not in in_ledger),
        "ledger_twice": sum(1 for count in in_ledger.values() if count > 1),
        "killed": kill,
    }


# -- the report ------------------------------------------------------------------------------
def backend_urls(only: str | None) -> tuple[dict[str, str], Any]:
    from tests.support.postgres_server import PostgresServer, find_binaries

    urls = {"sqlite": "sqlite"}
    server = None
    if only in (None, "postgresql"):
        bin_dir, why = find_binaries()
        if bin_dir is None:
            print(f"PostgreSQL skipped: {why}", file=sys.stderr)
        else:
            server = PostgresServer(bin_dir).start()
            urls["postgresql"] = server.url()
    if only == "postgresql":
        urls.pop("sqlite")
    return urls, server


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--worker", nargs=3, metavar=("WS", "URL", "LEDGER"))
    args = parser.parse_args()
    if args.worker:
        workspace, url, ledger = args.worker
        worker(Path(workspace), url, Path(ledger))
        return 0
    # The jobs are signed with a key in the user config dir: a throwaway one.
    os.environ["TAU_CONFIG_DIR"] = tempfile.mkdtemp(prefix="tau-bench-config-")
    urls, server = backend_urls(args.only)
    medians: dict[str, float] = {}
    try:
        for name, url in urls.items():
            runs = []
            for _ in range(args.runs):
                if name == "postgresql":
                    url = server.database()
                result = drain(url, args.jobs, args.workers, kill=0)
                print(name, "drain", json.dumps(result), flush=True)
                ok = result["attempts"] == args.jobs and not result["ledger_twice"]
                assert ok and result["succeeded"] == args.jobs, "duplicates or losses"
                runs.append(result["jobs_per_s"])
            medians[name] = statistics.median(runs)
            if name == "postgresql":
                url = server.database()
            result = drain(url, args.jobs, args.workers, kill=2)
            print(name, "kill 2", json.dumps(result), flush=True)
            assert result["succeeded"] == args.jobs and not result["succeeded_twice"]
            assert not result["ledger_missing"]
        for name, value in medians.items():
            print(f"{name}: {value:,.0f} jobs/s (median of {args.runs})")
        if len(medians) == 2:
            print(f"ratio postgresql/sqlite: {medians['postgresql'] / medians['sqlite']:.2f}")
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
