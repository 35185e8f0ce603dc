"""What migration v6's change triggers cost the PostgreSQL job drain (a script, not a
test): ``python bench/bench_change_triggers.py [--jobs 1000] [--workers 8] [--runs 3]``.

``bench_job_queue.py``'s drain (``--jobs`` queued jobs, ``--workers`` worker processes,
zero duplicates checked) on one throwaway server, each run in a fresh database, three
ways interleaved so load on the machine falls on all of them alike:

- ``dropped``: the v6 triggers dropped after migrating (the queue as v5 ran it);
- ``triggers``: as migrated, with nobody listening on ``tau_changes``;
- ``listened``: as migrated, with a ``PgChangeFeed`` waiting on ``tau_changes`` in this
  process for the whole drain (as ``tau watch`` would), counting its wake-ups.

Jobs per second, medians of ``--runs``, and each way's ratio over ``dropped``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_job_queue import drain  # noqa: E402

from tau_engine.store.postgres.change_feed import PgChangeFeed  # noqa: E402
from tau_engine.store.postgres.change_triggers import CHANGE_TABLES  # noqa: E402
from tau_engine.store.postgres.connection import connect  # noqa: E402
from tau_engine.store.postgres.schema import migrate  # noqa: E402

WAYS = ("dropped", "triggers", "listened")


def prepare(url: str, way: str) -> None:
    conn = connect(url, "the bench database")
    try:
        migrate(conn, "the bench database")
        if way == "dropped":
            for table in CHANGE_TABLES:
                conn.execute(f"DROP TRIGGER {table}_notify_change ON {table}")
    finally:
        conn.close()


def run(url: str, way: str, jobs: int, workers: int) -> dict[str, Any]:
    prepare(url, way)
    if way != "listened":
        return drain(url, jobs, workers, kill=0)
    wakes = [0]
    done = threading.Event()

    def listen(feed: PgChangeFeed) -> None:
        while not done.is_set():
            if feed.wait(0.5):
                wakes[0] += 1

    with PgChangeFeed.open(url, "the bench database") as feed:
        thread = threading.Thread(target=listen, args=(feed,))
        thread.start()
        try:
            result = drain(url, jobs, workers, kill=0)
        finally:
            done.set()
            thread.join()
    result["feed_wakes"] = wakes[0]
    return result


def main() -> int:
    from tests.support.postgres_server import PostgresServer, find_binaries

    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    bin_dir, why = find_binaries()
    if bin_dir is None:
        print(f"no PostgreSQL: {why}", file=sys.stderr)
        return 1
    os.environ["TAU_CONFIG_DIR"] = tempfile.mkdtemp(prefix="tau-bench-config-")
    server = PostgresServer(bin_dir).start()
    rates: dict[str, list[float]] = {way: [] for way in WAYS}
    try:
        for _ in range(args.runs):
            for way in WAYS:
                url = server.database()
                result = run(url, way, args.jobs, args.workers)
                print(way, json.dumps(result), flush=True)
                ok = result["attempts"] == args.jobs and not result["ledger_twice"]
                assert ok and result["succeeded"] == args.jobs, "duplicates or losses"
                rates[way].append(result["jobs_per_s"])
                server.drop(url)
    finally:
        server.stop()
    base = statistics.median(rates["dropped"])
    for way in WAYS:
        shown = " / ".join(f"{r:.1f}" for r in rates[way])
        median = statistics.median(rates[way])
        print(f"{way}: {shown} jobs/s, median {median:.1f}, ratio {median / base:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
