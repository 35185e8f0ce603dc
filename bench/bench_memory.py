"""Benchmark of learned memory (a script, not a test): ``python bench/bench_memory.py``.

Measures, in a temporary workspace holding ``--entries`` entries (default 10,000) of
short generated facts (words drawn with Zipf weights from a 3,000-word vocabulary, as
natural text is):

1. write: ``MemoryService.write`` through the public async API (validation, dedup and
   supersession checks, the insert and its FTS5 trigger, one transaction each), median;
   baseline: a bare ``INSERT`` into a plain table plus an FTS5 ``INSERT`` with the same
   tokenizer and pragmas, in one ``BEGIN IMMEDIATE`` transaction each;
2. search: ``MemoryService.search`` (query compiler, BM25 with column weights, the join
   to the entries, snippet and highlights), median over 250 queries of five kinds (a
   common word, a rare word, two words, a prefix, an 8-word prompt in OR mode), through
   the async API and on the calling thread (``search_sync``: the same work without the
   worker-thread hop, which a loaded machine makes noisy); baseline: the same compiled
   ``MATCH`` on the bare FTS5 table, ``ORDER BY rank LIMIT``, rowids only;
3. the per-prompt offer (``build_offer``: search, budget, labels), median;
4. for the trigram decision (docs/memory.md): the same bare inserts into an FTS5 table
   with the ``trigram`` tokenizer, and both bare indexes' size on disk.

Figures are medians; each is printed next to its baseline from the same run and their
ratio, since these shared 2-core machines are noisy.
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
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tau_engine.memory.retrieval import build_offer
from tau_engine.memory.service import MemoryService
from tau_engine.paths import WorkspacePaths
from tau_engine.store.memory_query import compile_query, to_fts5
from tau_engine.store.sqlite.memory_fts import SqliteMemoryStore
from tau_engine.store.sqlite.schema import connect

TECH = (
    "pytest",
    "deploy",
    "staging",
    "config",
    "database",
    "migration",
    "docker",
    "cache",
    "token",
    "session",
    "provider",
    "retry",
    "budget",
    "release",
    "branch",
    "commit",
    "lint",
    "format",
    "build",
    "wheel",
    "schema",
    "index",
    "query",
    "server",
    "client",
)
NAMESPACES = (
    "project",
    "project/build",
    "project/ops",
    "project/code",
    "project/docs",
    "project/tests",
    "user/preferences",
    "user/style",
    "team/process",
    "infra/ci",
)


def vocabulary(rng: random.Random, size: int = 3_000) -> list[str]:
    words = list(TECH)
    letters = "abcdefghijklmnopqrstuvwxyz"
    while len(words) < size:
        word = "".join(rng.choice(letters) for _ in range(rng.randint(3, 10)))
        if word not in words:
            words.append(word)
    return words


class Corpus:
    """Deterministic short facts over a Zipf-weighted vocabulary."""

    def __init__(self, seed: int = 15) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(self.rng)
        self.weights = [1.0 / (rank + 1) for rank in range(len(self.words))]

    def sentence(self, low: int = 8, high: int = 30) -> str:
        count = self.rng.randint(low, high)
        return " ".join(self.rng.choices(self.words, self.weights, k=count)).capitalize() + "."

    def entry(self) -> tuple[str, str, list[str]]:
        tags = self.rng.sample(TECH, self.rng.randint(0, 3))
        return self.rng.choice(NAMESPACES), self.sentence(), tags

    def queries(self, per_kind: int = 50) -> list[tuple[str, str, str]]:
        """(kind, text, mode) queries."""
        rng, words = self.rng, self.words
        out: list[tuple[str, str, str]] = []
        for _ in range(per_kind):
            out.append(("common word", rng.choice(words[:20]), "all"))
            out.append(("rare word", rng.choice(words[500:]), "all"))
            out.append(("two words", f"{rng.choice(words[:200])} {rng.choice(words[:200])}", "all"))
            out.append(("prefix", rng.choice(words[20:300])[:3] + "*", "all"))
            out.append(("8-word prompt (any)", " ".join(rng.choices(words[:1000], k=8)), "any"))
        return out


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f} ms"


def report(name: str, measured: float, baseline: float | None) -> None:
    if baseline is None:
        print(f"{name:<40} {ms(measured)}")
        return
    ratio = measured / baseline if baseline > 0 else float("inf")
    print(f"{name:<40} {ms(measured)}   baseline {ms(baseline)}   x{ratio:5.1f}")


def bare_index(path: Path, tokenizer: str) -> sqlite3.Connection:
    conn = connect(path)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS plain (id INTEGER PRIMARY KEY, text TEXT, "
        "tags TEXT, namespace TEXT)"
    )
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS bare USING fts5(text, tags, namespace, "
        f"tokenize='{tokenizer}')"
    )
    return conn


def bare_insert(conn: sqlite3.Connection, namespace: str, text: str, tags: list[str]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    cursor = conn.execute(
        "INSERT INTO plain (text, tags, namespace) VALUES (?, ?, ?)",
        (text, " ".join(tags), namespace),
    )
    conn.execute(
        "INSERT INTO bare (rowid, text, tags, namespace) VALUES (?, ?, ?, ?)",
        (cursor.lastrowid, text, " ".join(tags), namespace),
    )
    conn.execute("COMMIT")


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await action()
    return time.perf_counter() - start


def timed_sync(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


async def main(entries: int) -> None:
    corpus = Corpus()
    rows = [corpus.entry() for _ in range(entries)]
    with tempfile.TemporaryDirectory(prefix="tau-bench-memory-") as folder:
        root = Path(folder) / "ws"
        root.mkdir()
        service = MemoryService.open(WorkspacePaths(root))
        bare = bare_index(Path(folder) / "bare.db", "porter unicode61 remove_diacritics 2")
        trigram = bare_index(Path(folder) / "trigram.db", "trigram")
        writes: list[float] = []
        bare_writes: list[float] = []
        trigram_writes: list[float] = []
        for namespace, text, tags in rows:
            # Interleaved, so machine load affects both sides alike.
            writes.append(
                await timed(
                    lambda n=namespace, t=text, g=tags: service.write(t, namespace=n, tags=g)
                )
            )
            bare_writes.append(
                timed_sync(lambda n=namespace, t=text, g=tags: bare_insert(bare, n, t, g))
            )
            trigram_writes.append(
                timed_sync(lambda n=namespace, t=text, g=tags: bare_insert(trigram, n, t, g))
            )
        print(f"learned memory, {entries:,} entries (medians)\n")
        report(
            "write (async service, 1 txn each)",
            statistics.median(writes),
            statistics.median(bare_writes),
        )
        report(
            "  bare insert, trigram tokenizer",
            statistics.median(trigram_writes),
            statistics.median(bare_writes),
        )

        queries = corpus.queries()
        store = service.store
        assert isinstance(store, SqliteMemoryStore)
        # kind -> (async service, store on the calling thread, bare baseline)
        by_kind: dict[str, tuple[list[float], list[float], list[float]]] = {}
        hops: list[float] = []
        for kind, text, mode in queries:
            compiled = compile_query(text, mode)  # type: ignore[arg-type]
            match = to_fts5(compiled)
            ours, direct, bases = by_kind.setdefault(kind, ([], [], []))
            hops.append(await timed(lambda: asyncio.to_thread(lambda: None)))
            ours.append(await timed(lambda t=text, m=mode: service.search(t, limit=10, match=m)))
            direct.append(timed_sync(lambda q=compiled: store.search_sync(q, limit=10)))
            bases.append(
                timed_sync(
                    lambda q=match: bare.execute(
                        "SELECT rowid FROM bare WHERE bare MATCH ? ORDER BY rank LIMIT 10", (q,)
                    ).fetchall()
                )
            )
        every = [[x for group in by_kind.values() for x in group[i]] for i in range(3)]
        base = statistics.median(every[2])
        report("search (async service, limit 10)", statistics.median(every[0]), base)
        report("  on the calling thread", statistics.median(every[1]), base)
        report("  a worker-thread hop alone", statistics.median(hops), None)
        for kind, (_ours, direct, bases) in by_kind.items():
            report(
                f"  {kind} (calling thread)", statistics.median(direct), statistics.median(bases)
            )
        print(f"{'  slowest search (async)':<40} {ms(max(every[0]))}")

        offers = [
            await timed(lambda t=text: build_offer(service, t, []))
            for _kind, text, _mode in queries
            if _kind.startswith("8-word")
        ]
        report("per-prompt offer (build_offer)", statistics.median(offers), None)
        service.close()
        for conn in (bare, trigram):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = (Path(folder) / "bare.db").stat().st_size
        tri = (Path(folder) / "trigram.db").stat().st_size
        print(
            f"\nbare index on disk: unicode61 {size / 2**20:.1f} MB, trigram "
            f"{tri / 2**20:.1f} MB (x{tri / size:.1f})"
        )
        bare.close()
        trigram.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--entries", type=int, default=10_000)
    asyncio.run(main(parser.parse_args().entries))
