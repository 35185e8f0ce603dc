"""Benchmark of the job queue (a script, not a test): ``python bench/bench_jobs.py``.

Measures, in a temporary workspace:

1. claims per second on SQLite with 1, 4 and 8 worker processes claiming from one
   queue at once (``SqliteJobQueue.claim``: the ``BEGIN IMMEDIATE`` transaction
   with its ``UPDATE … RETURNING``, the attempt row and the log entry, busy
   retries with jitter), over a fixed window, median of ``--runs``; next to a
   bare baseline in the same run: the same processes claiming from a minimal
   table with one ``UPDATE … RETURNING`` each, same pragmas;
2. submit-to-start latency for an idle worker: a real ``tau jobs run`` process
   waits; a job is submitted (offline/echo prompt); the time from the submit's
   commit to the claim (``started_at - created_at``) and to the job's child
   process running (its ``started`` log entry), median of ``--samples``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tau_engine.jobs.queue import retry_busy  # noqa: E402
from tau_engine.paths import WorkspacePaths  # noqa: E402
from tau_engine.store.job_models import LeaseOwner, NewJob  # noqa: E402
from tau_engine.store.sqlite.jobs import SqliteJobQueue  # noqa: E402
from tau_engine.store.sqlite.schema import connect  # noqa: E402

BARE_CLAIM = (
    "UPDATE q SET state = 1, owner = ? WHERE id = (SELECT id FROM q WHERE state = 0 "
    "ORDER BY id LIMIT 1) RETURNING id"
)


# -- one claiming process ---------------------------------------------------------
def wait_for_go() -> float:
    """Say ready, wait for the parent's go (every claimer starts together); the start."""
    print("ready", flush=True)
    sys.stdin.readline()
    return time.time()


def claimer(kind: str, db: str, seconds: float) -> None:
    """Claim as fast as possible for ``seconds`` after the go."""
    if kind == "tau":
        queue = SqliteJobQueue.open(WorkspacePaths(Path(db).parent.parent))
        owner = LeaseOwner(worker="bench", host="h", pid=os.getpid())

        async def loop() -> int:
            count = 0
            end = wait_for_go() + seconds
            while time.time() < end:
                if await retry_busy(lambda: queue.claim(owner, 60.0)) is None:
                    break
                count += 1
            return count

        print(asyncio.run(loop()))
        queue.close()
        return
    conn = connect(Path(db))
    conn.execute("PRAGMA busy_timeout = 5000")
    count = 0
    end = wait_for_go() + seconds
    while time.time() < end:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(BARE_CLAIM, (os.getpid(),)).fetchone()
        conn.execute("COMMIT")
        if row is None:
            break
        count += 1
    print(count)


def fill_tau(paths: WorkspacePaths, jobs: int) -> str:
    queue = SqliteJobQueue.open(paths)

    async def fill() -> None:
        for _ in range(jobs):
            await queue.submit(NewJob(id=uuid.uuid4().hex, kind="prompt", inputs={"prompt": "x"}))

    asyncio.run(fill())
    queue.close()
    return str(paths.db_path)


def fill_bare(folder: Path, jobs: int) -> str:
    db = folder / "bare.db"
    conn = connect(db)
    conn.execute("CREATE TABLE q (id INTEGER PRIMARY KEY, state INTEGER NOT NULL, owner INT)")
    conn.execute("CREATE INDEX q_waiting ON q(state, id)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO q (state) VALUES (0)", [() for _ in range(jobs)])
    conn.execute("COMMIT")
    conn.close()
    return str(db)


def claims_per_second(kind: str, workers: int, seconds: float, jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if kind == "tau":
            root = folder / "ws"
            root.mkdir()
            db = fill_tau(WorkspacePaths(root), jobs)
        else:
            db = fill_bare(folder, jobs)
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--claimer", kind, db, str(seconds)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for _ in range(workers)
        ]
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        total = sum(int(p.communicate()[0].strip() or 0) for p in procs)
        return total / seconds


# -- submit to start ----------------------------------------------------------------
def submit_to_start(samples: int) -> tuple[list[float], list[float]]:
    from tau_engine.jobs.service import JobService

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        root.mkdir()
        env = {**os.environ, "TAU_CONFIG_DIR": str(Path(tmp) / "config")}
        os.environ["TAU_CONFIG_DIR"] = env["TAU_CONFIG_DIR"]
        paths = WorkspacePaths(root)
        service = JobService.open(paths)
        worker = subprocess.Popen(
            [sys.executable, "-m", "tau_tui.cli", "jobs", "run"],
            cwd=root,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        to_claim: list[float] = []
        to_child: list[float] = []

        async def measure() -> None:
            for _ in range(samples):
                await asyncio.sleep(1.0)  # the worker is idle, waiting
                made = await service.submit("prompt", {"prompt": "hi", "model": "offline/echo"})
                job_id = made.job.id
                while True:
                    job = await service.get(job_id)
                    if job.settled:
                        break
                    await asyncio.sleep(0.02)
                events = await service.queue.events(job_id)
                started = next(e.ts for e in events if e.type == "started")
                assert job.started_at is not None
                to_claim.append(job.started_at - job.created_at)
                to_child.append(started - job.created_at)

        try:
            asyncio.run(measure())
        finally:
            worker.terminate()
            worker.wait(timeout=60)
            service.close()
        return to_claim, to_child


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--claimer", nargs=3, metavar=("KIND", "DB", "SECONDS"))
    args = parser.parse_args()
    if args.claimer:
        kind, db, seconds = args.claimer
        claimer(kind, db, float(seconds))
        return
    print(f"{'workers':>7}  {'tau claims/s':>12}  {'bare claims/s':>13}  {'ratio':>6}")
    for workers in (1, 4, 8):
        tau = statistics.median(
            claims_per_second("tau", workers, args.seconds, 40_000) for _ in range(args.runs)
        )
        bare = statistics.median(
            claims_per_second("bare", workers, args.seconds, 200_000) for _ in range(args.runs)
        )
        print(f"{workers:>7}  {tau:>12.0f}  {bare:>13.0f}  {tau / bare:>6.2f}")
    to_claim, to_child = submit_to_start(args.samples)
    print(
        f"submit to claim (idle worker):        median {statistics.median(to_claim) * 1000:6.1f}"
        f" ms  (p90 {sorted(to_claim)[int(len(to_claim) * 0.9)] * 1000:.1f} ms)"
    )
    print(
        f"submit to child process started:      median {statistics.median(to_child) * 1000:6.1f}"
        f" ms  (p90 {sorted(to_child)[int(len(to_child) * 0.9)] * 1000:.1f} ms)"
    )


if __name__ == "__main__":
    main()
