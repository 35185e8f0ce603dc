"""``SqliteMemoryStore``: learned memory in ``.tau/tau.db``, searched with FTS5 and BM25.

The entries live in ``memory_entries`` (their writes are ``SqlMemoryStore``'s, shared
with PostgreSQL); the FTS5 table ``memory_fts`` indexes the text, the tags, the
namespace and the parts of camelCase identifiers of the live entries (triggers keep it
in step, in the same transaction as the row). Ranking is BM25 with the text weighted
above the tags, and the tags above the namespace; ties go to the newer entry.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, cast

from tau_engine.errors import StoreError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.memory_model import MemoryHit
from tau_engine.store.memory_query import CompiledQuery, to_fts5
from tau_engine.store.sql.memory_records import E_COLUMNS, entry_from_row, like_prefix
from tau_engine.store.sql.memory_store import SqlMemoryStore
from tau_engine.store.sql.protocol import SqlConnection
from tau_engine.store.sqlite.database import Database
from tau_engine.store.sqlite.schema import connect, migrate

# BM25 column weights, in the index's column order: text, tags, namespace, identifier parts.
BM25_WEIGHTS = (4.0, 2.0, 1.0, 1.0)
SNIPPET_TOKENS = 24
_HIT_START, _HIT_END = "\x01", "\x02"
_RANK = "bm25(" + ", ".join(str(w) for w in BM25_WEIGHTS) + ")"


def _matched(*highlighted: str) -> tuple[str, ...]:
    """The distinct words FTS5 marked as matching, in the order they appear."""
    found: list[str] = []
    for text in highlighted:
        for piece in text.split(_HIT_START)[1:]:
            word = piece.split(_HIT_END, 1)[0].strip().lower()
            if word and word not in found:
                found.append(word)
    return tuple(found)


class SqliteMemoryStore(SqlMemoryStore):
    """The SQLite + FTS5 ``MemoryStore``. Open with ``SqliteMemoryStore.open``."""

    @classmethod
    def open(cls, paths: WorkspacePaths) -> SqliteMemoryStore:
        """Open (creating or migrating) the workspace's ``tau.db``. Blocking."""
        paths.ensure()
        return cls.open_file(paths.db_path)

    @classmethod
    def open_file(cls, db_path: Path) -> SqliteMemoryStore:
        conn = connect(db_path)
        try:
            migrate(conn, db_path)
        except BaseException:
            conn.close()
            raise
        return cls(Database(conn, db_path))

    def _insert_returning_id(self, conn: SqlConnection, sql: str, params: tuple[Any, ...]) -> int:
        # ``lastrowid`` rather than ``RETURNING``: that needs SQLite 3.35.
        return int(cast(int, conn.execute(sql, params).lastrowid))

    def search_sync(
        self,
        query: CompiledQuery,
        *,
        limit: int,
        include_untrusted: bool = False,
        namespace: str | None = None,
    ) -> list[MemoryHit]:
        """``search`` on the calling thread (the benchmark measures it both ways)."""
        if query.empty:
            return []
        # ``rank MATCH`` sets the weights and lets FTS5 return rows best first itself, so
        # SQLite needs no sort: with the LIMIT, snippets and highlights are made for the
        # rows returned only, not for every match (6x faster for an 8-word OR query).
        where = ["memory_fts MATCH ?", "rank MATCH ?", "e.retired_at IS NULL"]
        params: list[Any] = [to_fts5(query), _RANK]
        if not include_untrusted:
            where.append("e.trust = 'trusted'")
        if namespace:
            where.append("(e.namespace = ? OR e.namespace LIKE ? ESCAPE '\\')")
            params += [namespace, like_prefix(namespace)]
        params.append(limit)
        sql = (
            f"SELECT {E_COLUMNS}, rank, "
            f"snippet(memory_fts, 0, '**', '**', '…', {SNIPPET_TOKENS}), "
            f"highlight(memory_fts, 0, char(1), char(2)), "
            f"highlight(memory_fts, 1, char(1), char(2)), "
            f"highlight(memory_fts, 3, char(1), char(2)) "
            f"FROM memory_fts JOIN memory_entries e ON e.id = memory_fts.rowid "
            f"WHERE {' AND '.join(where)} ORDER BY rank LIMIT ?"
        )
        with self._db.read() as conn:
            rows = conn.execute(sql, params).fetchall()
        hits = [
            MemoryHit(
                entry=entry_from_row(row[:18]),
                score=-float(row[18]),
                snippet=row[19],
                matched=_matched(row[20], row[21], row[22]),
            )
            for row in rows
        ]
        # Equal scores: the newer entry first (FTS5 leaves ties in no stated order).
        return sorted(hits, key=lambda hit: (-hit.score, -hit.entry.id))

    # -- maintenance -------------------------------------------------------------------
    def check_index(self) -> None:
        """FTS5's integrity check of the index against the live entries (``StoreError``)."""
        with self._db.write() as conn:
            try:
                conn.execute(
                    "INSERT INTO memory_fts(memory_fts, rank) VALUES ('integrity-check', 1)"
                )
            except sqlite3.DatabaseError as exc:
                raise StoreError(
                    f"the memory index is damaged ({exc}); rebuild it with tau memory reindex"
                ) from exc

    def rebuild_index(self) -> None:
        """Rebuild the FTS5 index from the live entries."""
        with self._db.write() as conn:
            conn.execute("INSERT INTO memory_fts(memory_fts) VALUES ('rebuild')")
