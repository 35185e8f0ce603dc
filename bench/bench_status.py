"""Benchmark of the operator snapshot (a script, not a test): ``python bench/bench_status.py``.

Measures, in a temporary workspace seeded with ``--sessions`` sessions (default 1,000) and
``--jobs`` jobs (default 10,000; a few running, the rest settled or queued):

1. ``read_snapshot`` in process (the read-only transaction and every section), median of
   ``--runs``; next to it, in the same run, the bare cost of one ``SELECT count(*)`` over
   the jobs table on a fresh read-only connection (what any reader pays);
2. ``tau status`` as a whole process (markers to a pipe), median of ``--runs``, against
   ``python -c pass`` run by the same interpreter, interleaved: the ratio is the figure
   (the issue's target is at most 3x with 1,000 sessions), in wall time and in CPU time
   (less sensitive to other work on the machine); once on a workspace with the sessions
   only, once with the jobs too.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tau_engine.status.snapshot import read_snapshot  # noqa: E402
from tests.support.operator_seed import (  # noqa: E402
    add_job,
    add_session,
    gone_owner,
    open_store,
    seed_workspace,
)


def seed(root: Path, sessions: int, jobs: int) -> None:
    now = time.time()
    seed_workspace(root, now=now)
    conn = open_store(root)
    conn.execute("BEGIN IMMEDIATE")
    for index in range(sessions):
        add_session(conn, f"{index:032x}", updated_at=now - 10_000 + index)
    states = ["succeeded", "succeeded", "failed", "cancelled", "queued"]
    for index in range(jobs):
        state = states[index % len(states)]
        add_job(conn, f"{index:032x}", state=state, created_at=now - 50_000 + index)
    for index in range(5):  # a few running with expired leases: liveness is checked
        add_job(conn, f"{jobs + index:032x}", state="running", owner=gone_owner(),
                lease_expires_at=now - 5, progress_at=now - 10, created_at=now)
    conn.execute("COMMIT")
    conn.close()


def timed(call: object) -> float:
    start = time.perf_counter()
    call()  # type: ignore[operator]
    return time.perf_counter() - start


def bare_count(db: Path) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.execute("SELECT count(*) FROM jobs").fetchone()
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        seed(root, args.sessions, args.jobs)
        db = root / ".tau" / "tau.db"
        read_snapshot(root)  # warm the page cache as a polling reader has it
        snaps, bares = [], []
        for _ in range(args.runs):
            snaps.append(timed(lambda: read_snapshot(root)))
            bares.append(timed(lambda: bare_count(db)))
        snap, bare = statistics.median(snaps), statistics.median(bares)
        print(f"read_snapshot ({args.sessions} sessions, {args.jobs} jobs): median "
              f"{snap * 1000:.1f} ms; bare count(*) on a fresh connection "
              f"{bare * 1000:.1f} ms; ratio {snap / bare:.1f}x")
        small = root / "sessions-only"
        small.mkdir()
        seed(small, args.sessions, 0)
        for name, where in (("1,000 sessions", small), ("and 10,000 jobs", root)):
            process_ratio(name, where, args.runs)


def process_ratio(name: str, root: Path, runs_wanted: int) -> None:
    """``tau status`` as a process against ``python -c pass``, interleaved."""
    env = {**os.environ, "NO_COLOR": "1"}
    # The installed console script, as a user runs it (``-m`` would add runpy's import).
    script = Path(sys.executable).with_name("tau")
    entry = [str(script)] if script.exists() else [sys.executable, "-m", "tau_tui.cli"]
    status = [*entry, "status", "-w", str(root)]
    empty = [sys.executable, "-c", "pass"]
    runs: dict[str, list[float]] = {"status": [], "pass": []}
    cpu: dict[str, list[float]] = {"status": [], "pass": []}
    for _ in range(runs_wanted):
        for which, command in (("status", status), ("pass", empty)):
            before = _child_cpu()
            start = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True)
            runs[which].append(time.perf_counter() - start)
            cpu[which].append(_child_cpu() - before)
            if done.returncode not in (0, 1):
                raise SystemExit(f"{command} failed: {done.stderr.decode()}")
    whole, base = statistics.median(runs["status"]), statistics.median(runs["pass"])
    print(f"tau status process ({name}): median {whole * 1000:.1f} ms wall; python -c pass "
          f"{base * 1000:.1f} ms; ratio {whole / base:.2f}x (target <= 3x)")
    whole, base = statistics.median(cpu["status"]), statistics.median(cpu["pass"])
    print(f"  the same in CPU time (user+sys, less sensitive to a loaded machine): "
          f"{whole * 1000:.1f} ms vs {base * 1000:.1f} ms; ratio {whole / base:.2f}x")


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
