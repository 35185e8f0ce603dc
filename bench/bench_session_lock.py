"""Benchmark of the lost-lock check on PostgreSQL session writes (a script, not a test):
``python bench/bench_session_lock.py [--writes 300] [--rounds 5]``.

On a throwaway local server (``tests/support/postgres_server.py``, ``fsync=off``), one
session store; two sessions, each locked on its own connection:

* checked: its lock was taken through the store (``lock_session``), so every write runs
  the check (``CHECK_HELD_SQL``) as its transaction's first statement;
* unchecked: its lock was taken outside the store (``PostgresSessionLock.acquire``), so
  the store knows no lock of it and writes as it did before the check existed.

Measured, interleaved in rounds so load from other work falls on both alike: ``append``
(one message, one transaction, through the async API) and the event writer's flush of a
1-row and of a 100-row batch; median per write of each, and the ratio checked/unchecked.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tau_engine.conversation import Message  # noqa: E402
from tau_engine.events import TextDelta  # noqa: E402
from tau_engine.paths import WorkspacePaths  # noqa: E402
from tau_engine.store.postgres.event_writer import PostgresEventWriter  # noqa: E402
from tau_engine.store.postgres.session_lock import PostgresSessionLock  # noqa: E402
from tau_engine.store.postgres.sessions import PostgresSessionStore  # noqa: E402
from tau_engine.store.sql.event_buffer import BufferedEventWriter  # noqa: E402
from tests.support.postgres_server import PostgresServer, find_binaries  # noqa: E402

TEXT = "the parser returns a token stream that the checker walks once per file " * 7


async def _timed_appends(store: PostgresSessionStore, session_id: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        await store.append(session_id, Message(role="user", content=TEXT))
        times.append(time.perf_counter() - start)
    return times


def _timed_flushes(writer: BufferedEventWriter, n: int, rows: int) -> list[float]:
    times = []
    for _ in range(n):
        for _ in range(rows):
            writer.write(TextDelta(text="token "))
        start = time.perf_counter()
        writer.flush()
        times.append(time.perf_counter() - start)
    return times


async def run(url: str, writes: int, rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        store = PostgresSessionStore.open(WorkspacePaths(Path(folder)), url, "bench")
        checked = await store.create_session(model="m")
        unchecked = await store.create_session(model="m")
        store.lock_session(checked.id)
        outside = PostgresSessionLock.acquire(url, "bench", unchecked.id)
        writers = {
            "checked": store.event_writer(checked.id),
            "unchecked": PostgresEventWriter(url, "bench", unchecked.id),
        }
        ids = {"checked": checked.id, "unchecked": unchecked.id}
        times: dict[str, list[float]] = {}
        for _ in range(rounds):
            for name in ("checked", "unchecked"):
                results = {
                    "append": await _timed_appends(store, ids[name], writes),
                    "flush 1 row": _timed_flushes(writers[name], writes, 1),
                    "flush 100 rows": _timed_flushes(writers[name], writes // 3, 100),
                }
                for what, result in results.items():
                    times.setdefault(f"{what}|{name}", []).extend(result)
        for writer in writers.values():
            writer.close()
        outside.release()
        store.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    bin_dir, why = find_binaries()
    if bin_dir is None:
        sys.exit(f"bench_session_lock: {why}")
    server = PostgresServer(bin_dir).start()
    try:
        times = asyncio.run(run(server.database(), args.writes, args.rounds))
    finally:
        server.stop()
    print(f"{'write':<16}{'checked ms':>12}{'unchecked ms':>14}{'ratio':>8}{'extra ms':>10}")
    for what in ("append", "flush 1 row", "flush 100 rows"):
        on = statistics.median(times[f"{what}|checked"]) * 1000
        off = statistics.median(times[f"{what}|unchecked"]) * 1000
        print(f"{what:<16}{on:>12.3f}{off:>14.3f}{on / off:>8.2f}{on - off:>10.3f}")


if __name__ == "__main__":
    main()
