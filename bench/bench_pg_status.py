"""Benchmark of the operator snapshot on a PostgreSQL store (a script, not a test):
``python bench/bench_pg_status.py``.

Starts a throwaway PostgreSQL server (``tests/support/postgres_server.py``), seeds a
workspace as ``bench_status.py`` does and copies it in with ``tau store migrate``, then:

1. ``read_pg_snapshot`` in process with ``--sessions`` sessions (default 1,000) and
   ``--jobs`` jobs (default 10,000), median of ``--runs``, next to ``read_snapshot`` on
   the SQLite file holding the same rows, in the same run: the ratio is the figure;
2. ``tau status --store URL`` as a whole process with the sessions only, against
   ``python -c pass`` run by the same interpreter, interleaved (``bench_status``'s
   ``process_ratio`` with the store's URL in ``TAU_STORE_URL``);
3. the CPU share of one core of ``tau watch --json --store URL`` over ``--idle-seconds``
   ticks of 1 s with nothing changing (the sessions and jobs, none running).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_status import _process_cpu, process_ratio, seed, timed  # noqa: E402
from tau_engine.status.pg_snapshot import read_pg_snapshot  # noqa: E402
from tau_engine.status.snapshot import read_snapshot  # noqa: E402
from tests.support.postgres_server import PostgresServer, find_binaries  # noqa: E402


def migrate(root: Path, url: str) -> None:
    """Copy ``root``'s SQLite store into the database, as a user would."""
    done = subprocess.run(
        [sys.executable, "-m", "tau_tui.cli", "store", "migrate", "--to", url],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"tau store migrate failed: {done.stderr}")


def watch_idle(root: Path, url: str, seconds: float) -> None:
    """CPU share of one core of ``tau watch --json`` on the database with nothing changing,
    sampled once a second after its first read has settled (1 s ticks)."""
    watch = [sys.executable, "-m", "tau_tui.cli", "watch", "--json", "--store", url]
    child = subprocess.Popen(watch, cwd=root, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    child.stdout.readline()  # the first ADDED: start-up and the first read are over
    threading.Thread(target=child.stdout.read, daemon=True).start()  # never a full pipe
    samples: list[float] = []
    try:
        time.sleep(2.0)
        for _ in range(max(1, round(seconds)) + 1):
            samples.append(_process_cpu(child.pid))
            time.sleep(1.0)
    finally:
        child.terminate()
        child.wait(timeout=30)
    share = (samples[-1] - samples[0]) / (len(samples) - 1) * 100
    print(f"idle CPU, tau watch --json on PostgreSQL: {share:.2f}% of a core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000, help="sessions in the store")
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs (part 1 and 3)")
    parser.add_argument("--runs", type=int, default=21, help="runs a median is taken over")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle ticks of 1 s")
    args = parser.parse_args()
    bin_dir, why = find_binaries()
    if bin_dir is None:
        raise SystemExit(why)
    server = PostgresServer(bin_dir).start()
    try:
        with tempfile.TemporaryDirectory() as temp:
            root = Path(temp) / "full"
            root.mkdir()
            seed(root, args.sessions, args.jobs)
            url = server.database()
            migrate(root, url)
            read_pg_snapshot(root, url)  # warm the server's cache as a polling reader has it
            read_snapshot(root)
            pg_median, lite_median = (
                statistics.median(timed(read) for _ in range(args.runs))
                for read in (lambda: read_pg_snapshot(root, url), lambda: read_snapshot(root))
            )
            print(
                f"read_pg_snapshot ({args.sessions} sessions, {args.jobs} jobs): median "
                f"{pg_median * 1000:.1f} ms; read_snapshot on SQLite, same rows: "
                f"{lite_median * 1000:.1f} ms; ratio {pg_median / lite_median:.2f}x"
            )
            small = Path(temp) / "sessions-only"
            small.mkdir()
            seed(small, args.sessions, 0)
            small_url = server.database()
            migrate(small, small_url)
            (small / ".tau" / "tau.db").unlink()  # only the database holds them now
            config = Path(temp) / "config"
            config.mkdir()
            os.environ["TAU_STORE_URL"] = small_url
            process_ratio(f"{args.sessions:,} sessions, PostgreSQL", small, args.runs, config)
            quiet = Path(temp) / "quiet"
            quiet.mkdir()
            seed(quiet, args.sessions, args.jobs, fixture=False, running=0)
            quiet_url = server.database()
            migrate(quiet, quiet_url)
            watch_idle(quiet, quiet_url, args.idle_seconds)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
