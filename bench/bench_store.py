"""Benchmark of the session store (a script, not a test): ``python bench/bench_store.py``.

Measures, in a temporary workspace:

1. durable append: 10,000 ``SqliteSessionStore.append`` calls (one transaction each,
   ~500-character messages), median per call through the public async API;
2. loading the last 200 messages of that 10,000-message session after a
   reopen, median of 20 runs, and the same read handed to a worker thread
   (how the store read it before), interleaved with it;
2b. the history a request is built from, for a 10,000-message session
   compacted 200 messages before its end: parsed from the last compaction on
   (``request_history``) against parsing the whole path (``history``), both
   followed by ``request_view``;
3. ``EventWriter``: 15,000 ``text_delta`` events written as fast as possible
   then closed (total), the median flush of a 100-row batch, and the same
   answer paced at ``--rate`` events/s on a simulated clock, so that the
   100 ms flush policy produces one small transaction per interval as in a
   real stream (the total store time and the flush latency spread).

Each figure is printed next to a baseline measured in the same run on an
equivalent bare SQLite table with the same pragmas, and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tau_engine.conversation import Message, Usage
from tau_engine.events import TextDelta
from tau_engine.paths import WorkspacePaths
from tau_engine.store.sqlite.event_writer import EventWriter
from tau_engine.store.sqlite.schema import connect
from tau_engine.store.sqlite.sessions import SqliteSessionStore

WORDS = (
    "the",
    "parser",
    "returns",
    "a",
    "token",
    "stream",
    "that",
    "checker",
    "walks",
    "once",
    "per",
    "file",
    "while",
    "tests",
    "cover",
    "every",
    "branch",
    "of",
    "new",
    "code",
    "path",
    "and",
    "diff",
    "stays",
    "small",
    "function",
    "module",
    "error",
)


def realistic_text(rng: random.Random, chars: int = 500) -> str:
    words: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)[:chars]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f} ms"


def report(name: str, measured: float, baseline: float) -> None:
    ratio = measured / baseline if baseline > 0 else float("inf")
    print(f"{name:<44} {ms(measured)}   baseline {ms(baseline)}   x{ratio:5.1f}")


def bare_table(path: Path) -> sqlite3.Connection:
    conn = connect(path)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS plain (id TEXT PRIMARY KEY, session_id TEXT, "
        "parent_id TEXT, created_at REAL, role TEXT, body TEXT)"
    )
    return conn


def time_each(count: int, action: Callable[[int], None]) -> list[float]:
    samples = []
    for i in range(count):
        start = time.perf_counter()
        action(i)
        samples.append(time.perf_counter() - start)
    return samples


async def bench_appends(store: SqliteSessionStore, texts: list[str]) -> tuple[str, list[float]]:
    info = await store.create_session(model="bench/model")
    samples = []
    for i, text in enumerate(texts):
        message = Message(role="user" if i % 2 == 0 else "assistant", content=text)
        start = time.perf_counter()
        await store.append(
            info.id, message, usage=Usage(input_tokens=100, output_tokens=50), cost_usd=0.001
        )
        samples.append(time.perf_counter() - start)
    return info.id, samples


async def bench_request_history(
    store: SqliteSessionStore, texts: list[str], runs: int
) -> tuple[list[float], list[float]]:
    """(from the last compaction, from the start) timings of the request history."""
    from tau_engine.agent.compaction import compaction_message, request_view

    info = await store.create_session(model="bench/model")
    cut = len(texts) - 200
    older = await store.append_many(
        info.id,
        [
            Message(role="user" if i % 2 == 0 else "assistant", content=text)
            for i, text in enumerate(texts[:cut])
        ],
    )
    await store.append(
        info.id,
        compaction_message("summary " + texts[0], keep_from=older[-20].id, before_tokens=500_000),
    )
    await store.append_many(
        info.id,
        [
            Message(role="user" if i % 2 == 0 else "assistant", content=text)
            for i, text in enumerate(texts[cut:])
        ],
    )
    partial: list[float] = []
    whole: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        view = request_view(await store.request_history(info.id))
        partial.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert request_view(await store.history(info.id)) == view
        whole.append(time.perf_counter() - start)
    return partial, whole


async def bench_recent(
    store: SqliteSessionStore, session_id: str, runs: int
) -> tuple[list[float], list[float]]:
    """``recent(200)`` as the store does it (inline, see ``InlineReader``), interleaved
    with the same read handed to a worker thread, so both meet the same machine load."""
    from tau_engine.store.sql.queries import session_path

    inline: list[float] = []
    threaded: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        loaded = await store.recent(session_id, 200)
        inline.append(time.perf_counter() - start)
        start = time.perf_counter()
        hopped = await asyncio.to_thread(store._read, session_path, session_id, None, 200)
        threaded.append(time.perf_counter() - start)
        assert len(loaded) == 200 and hopped == loaded
    return inline, threaded


def bench_event_writer(db_path: Path, session_id: str, deltas: int) -> tuple[float, list[float]]:
    writer = EventWriter(db_path, session_id)
    events = [
        TextDelta(text=f"word{i} ", seq=i + 1, ts=float(i), session_id=session_id)
        for i in range(deltas)
    ]
    start = time.perf_counter()
    for event in events:
        writer.write(event)
    writer.close()
    total = time.perf_counter() - start

    # Flush cost of one 100-row batch, with a frozen clock so only flush() writes.
    frozen = EventWriter(db_path, session_id, clock=lambda: 0.0)
    flushes = []
    seq = deltas
    for _ in range(50):
        for _ in range(100):
            seq += 1
            frozen.write(TextDelta(text="x ", seq=seq, ts=0.0, session_id=session_id))
        start = time.perf_counter()
        frozen.flush()
        flushes.append(time.perf_counter() - start)
    frozen.close()
    return total, flushes


def bench_paced_stream(
    db_path: Path, session_id: str, deltas: int, rate: float, first_seq: int
) -> tuple[float, list[float]]:
    """The same answer streamed at ``rate`` events/s (simulated clock): total store time."""
    now = [0.0]
    writer = EventWriter(db_path, session_id, clock=lambda: now[0])
    flushes: list[float] = []
    plain_flush = writer.flush

    def timed_flush() -> None:
        start = time.perf_counter()
        plain_flush()
        flushes.append(time.perf_counter() - start)

    writer.flush = timed_flush  # type: ignore[method-assign]
    events = [
        TextDelta(text=f"word{i} ", seq=first_seq + i, ts=float(i), session_id=session_id)
        for i in range(deltas)
    ]
    start = time.perf_counter()
    for event in events:
        now[0] += 1 / rate
        writer.write(event)
    writer.close()
    return time.perf_counter() - start, flushes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--deltas", type=int, default=15_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--rate",
        type=float,
        default=50.0,
        help="events/s of the paced stream (flushes every 100 ms)",
    )
    args = parser.parse_args()
    rng = random.Random(7)
    texts = [realistic_text(rng) for _ in range(args.messages)]

    with tempfile.TemporaryDirectory(prefix="tau-bench-") as tmp:
        root = Path(tmp)
        # Baseline: bare INSERT + COMMIT of the same rows, same pragmas.
        plain = bare_table(root / "plain.db")
        ids = [f"{i:032x}" for i in range(len(texts))]

        def plain_insert(i: int) -> None:
            plain.execute("BEGIN IMMEDIATE")
            plain.execute(
                "INSERT INTO plain VALUES (?, 's', ?, ?, 'user', ?)",
                (
                    ids[i],
                    ids[i - 1] if i else None,
                    time.time(),
                    Message(role="user", content=texts[i]).model_dump_json(),
                ),
            )
            plain.execute("COMMIT")

        base_append = time_each(len(texts), plain_insert)
        plain.close()

        paths = WorkspacePaths(root / "ws")
        store = SqliteSessionStore.open(paths)
        session_id, appends = asyncio.run(bench_appends(store, texts))
        store.close()

        store = SqliteSessionStore.open(paths)
        recent, recent_threaded = asyncio.run(bench_recent(store, session_id, args.runs))
        store.close()
        store = SqliteSessionStore.open(paths)
        request_partial, request_whole = asyncio.run(
            bench_request_history(store, texts, max(5, args.runs // 4))
        )
        store.close()
        plain = sqlite3.connect(root / "plain.db")

        def plain_recent(_: int) -> None:
            rows = plain.execute(
                "SELECT id, parent_id, created_at, body FROM plain ORDER BY rowid DESC LIMIT 200"
            ).fetchall()
            [Message.model_validate_json(row[3]) for row in rows]

        base_recent = time_each(args.runs, plain_recent)
        plain.close()

        # The store stays open, as it is in the app: the writer is then not the
        # database's last connection, whose close would checkpoint the WAL.
        store = SqliteSessionStore.open(paths)
        total, flushes = bench_event_writer(paths.db_path, session_id, args.deltas)
        paced_total, paced_flushes = bench_paced_stream(
            paths.db_path, session_id, args.deltas, args.rate, first_seq=10 * args.deltas
        )
        store.close()
        plain = bare_table(root / "plain.db")
        plain.execute(
            "CREATE TABLE ev (session_id TEXT, seq INTEGER, type TEXT, ts REAL, "
            "json TEXT, PRIMARY KEY (session_id, seq)) WITHOUT ROWID"
        )
        rows = [("s", i, "text_delta", 0.0, f'{{"text": "word{i} "}}') for i in range(args.deltas)]
        start = time.perf_counter()
        plain.execute("BEGIN IMMEDIATE")
        plain.executemany("INSERT INTO ev VALUES (?, ?, ?, ?, ?)", rows)
        plain.execute("COMMIT")
        base_events = time.perf_counter() - start

        def plain_batch(i: int) -> None:
            plain.execute("BEGIN IMMEDIATE")
            plain.executemany(
                "INSERT INTO ev VALUES (?, ?, ?, ?, ?)",
                [("t", i * 100 + j, "text_delta", 0.0, '{"text": "x "}') for j in range(100)],
            )
            plain.execute("COMMIT")

        base_flush = time_each(50, plain_batch)
        plain.close()

    print(
        f"session store benchmark (sqlite {sqlite3.sqlite_version}, python "
        f"{sys.version.split()[0]}); medians unless noted"
    )
    report(
        f"durable append (x{args.messages:,}, async API)",
        statistics.median(appends),
        statistics.median(base_append),
    )
    print(f"{'  p95 append':<44} {ms(statistics.quantiles(appends, n=20)[-1])}")
    report(
        f"load last 200 after reopen (x{args.runs})",
        statistics.median(recent),
        statistics.median(base_recent),
    )
    report(
        "  same read via a worker thread (vs inline)",
        statistics.median(recent_threaded),
        statistics.median(recent),
    )
    report(
        "request history, compacted 10,000 (vs whole)",
        statistics.median(request_partial),
        statistics.median(request_whole),
    )
    report(f"event writer: {args.deltas:,} text_delta (total)", total, base_events)
    report(
        "event writer: flush of 100 rows", statistics.median(flushes), statistics.median(base_flush)
    )
    paced_flushes.sort()
    label = f"event writer: same answer at {args.rate:g} events/s"
    print(
        f"{label:<44} {ms(paced_total)} "
        f"total store time in {len(paced_flushes)} flushes; flush median "
        f"{ms(statistics.median(paced_flushes)).strip()}, p99 "
        f"{ms(paced_flushes[int(len(paced_flushes) * 0.99)]).strip()}, "
        f"max {ms(paced_flushes[-1]).strip()}"
    )


if __name__ == "__main__":
    main()
