"""``SqliteMemoryStore``: learned memory in ``.tau/tau.db``, searched with FTS5 and BM25.

The entries live in ``memory_entries``; the FTS5 table ``memory_fts`` indexes the text,
the tags, the namespace and the parts of camelCase identifiers of the live entries
(triggers keep it in step, in the same transaction as the row). Ranking is BM25 with
the text weighted above the tags, and the tags above the namespace; ties go to the
newer entry. Every method runs its SQL on a worker thread (``asyncio.to_thread``) in
one transaction of the shared ``Database``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

from tau_engine.errors import StoreError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.memory_model import (
    ImportedMemory,
    ImportReport,
    MemoryEntry,
    MemoryHit,
    MemoryNotFoundError,
    MemoryStateError,
    NamespaceCount,
    NewMemory,
    Source,
    Trust,
    WriteOutcome,
    identifier_parts,
)
from tau_engine.store.memory_query import CompiledQuery, to_fts5
from tau_engine.store.sqlite.database import Database
from tau_engine.store.sqlite.schema import connect, migrate

P = ParamSpec("P")
T = TypeVar("T")

# BM25 column weights, in the index's column order: text, tags, namespace, identifier parts.
BM25_WEIGHTS = (4.0, 2.0, 1.0, 1.0)
SNIPPET_TOKENS = 24
_HIT_START, _HIT_END = "\x01", "\x02"

_COLUMNS = (
    "id, namespace, subject, text, tags, source, session_id, tool_call_id, trust, "
    "trust_reason, created_at, updated_at, approved_at, retired_at, retired_reason, "
    "supersedes, superseded_by, content_hash"
)
_E_COLUMNS = ", ".join(f"e.{name.strip()}" for name in _COLUMNS.split(","))
_RANK = "bm25(" + ", ".join(str(w) for w in BM25_WEIGHTS) + ")"


def _entry(row: Sequence[Any]) -> MemoryEntry:
    return MemoryEntry(
        id=row[0],
        namespace=row[1],
        subject=row[2],
        text=row[3],
        tags=tuple(row[4].split()) if row[4] else (),
        source=cast(Source, row[5]),
        session_id=row[6],
        tool_call_id=row[7],
        trust=cast(Trust, row[8]),
        trust_reason=row[9],
        created_at=row[10],
        updated_at=row[11],
        approved_at=row[12],
        retired_at=row[13],
        retired_reason=row[14],
        supersedes=row[15],
        superseded_by=row[16],
        content_hash=row[17],
    )


def _matched(*highlighted: str) -> tuple[str, ...]:
    """The distinct words FTS5 marked as matching, in the order they appear."""
    found: list[str] = []
    for text in highlighted:
        for piece in text.split(_HIT_START)[1:]:
            word = piece.split(_HIT_END, 1)[0].strip().lower()
            if word and word not in found:
                found.append(word)
    return tuple(found)


def _like_prefix(namespace: str) -> str:
    escaped = namespace.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%"


class SqliteMemoryStore:
    """The SQLite + FTS5 ``MemoryStore``. Open with ``SqliteMemoryStore.open``."""

    def __init__(self, db: Database) -> None:
        self._db = db

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

    def close(self) -> None:
        self._db.close()

    async def _run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(func, *args, **kwargs)

    # -- reads -------------------------------------------------------------------------
    def _get(self, conn: sqlite3.Connection, entry_id: int) -> MemoryEntry:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM memory_entries WHERE id = ?", (entry_id,)
        ).fetchone()
        if row is None:
            newest = self._newest(conn)
            shown = f"the newest is #{newest}" if newest else "memory is empty"
            raise MemoryNotFoundError(
                f"no memory #{entry_id} ({shown})", entry_id=entry_id, newest_id=newest
            )
        return _entry(row)

    @staticmethod
    def _newest(conn: sqlite3.Connection) -> int | None:
        row = conn.execute("SELECT max(id) FROM memory_entries").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    async def get(self, entry_id: int) -> MemoryEntry:
        def work() -> MemoryEntry:
            with self._db.read() as conn:
                return self._get(conn, entry_id)

        return await self._run(work)

    async def newest_id(self) -> int | None:
        def work() -> int | None:
            with self._db.read() as conn:
                return self._newest(conn)

        return await self._run(work)

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
            params += [namespace, _like_prefix(namespace)]
        params.append(limit)
        sql = (
            f"SELECT {_E_COLUMNS}, rank, "
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
                entry=_entry(row[:18]),
                score=-float(row[18]),
                snippet=row[19],
                matched=_matched(row[20], row[21], row[22]),
            )
            for row in rows
        ]
        # Equal scores: the newer entry first (FTS5 leaves ties in no stated order).
        return sorted(hits, key=lambda hit: (-hit.score, -hit.entry.id))

    async def search(
        self,
        query: CompiledQuery,
        *,
        limit: int,
        include_untrusted: bool = False,
        namespace: str | None = None,
    ) -> list[MemoryHit]:
        return await self._run(
            self.search_sync,
            query,
            limit=limit,
            include_untrusted=include_untrusted,
            namespace=namespace,
        )

    async def tree(self, prefix: str | None = None) -> list[NamespaceCount]:
        def work() -> list[NamespaceCount]:
            sql = (
                "SELECT namespace, "
                "sum(retired_at IS NULL AND trust = 'trusted'), "
                "sum(retired_at IS NULL AND trust = 'untrusted'), "
                "sum(retired_at IS NOT NULL) FROM memory_entries"
            )
            params: list[Any] = []
            if prefix:
                sql += " WHERE namespace = ? OR namespace LIKE ? ESCAPE '\\'"
                params = [prefix, _like_prefix(prefix)]
            sql += " GROUP BY namespace ORDER BY namespace"
            with self._db.read() as conn:
                rows = conn.execute(sql, params).fetchall()
            return [NamespaceCount(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows]

        return await self._run(work)

    async def entries(
        self,
        *,
        include_retired: bool = True,
        trust: Trust | None = None,
        namespace: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[MemoryEntry]:
        def work() -> list[MemoryEntry]:
            where: list[str] = []
            params: list[Any] = []
            if not include_retired:
                where.append("retired_at IS NULL")
            if trust is not None:
                where.append("trust = ?")
                params.append(trust)
            if namespace:
                where.append("(namespace = ? OR namespace LIKE ? ESCAPE '\\')")
                params += [namespace, _like_prefix(namespace)]
            sql = f"SELECT {_COLUMNS} FROM memory_entries"
            if where:
                sql += " WHERE " + " AND ".join(where)
            sql += " ORDER BY id" + (" DESC" if newest_first else "")
            if limit is not None:
                sql += " LIMIT ?"
                params.append(limit)
            with self._db.read() as conn:
                return [_entry(row) for row in conn.execute(sql, params).fetchall()]

        return await self._run(work)

    # -- writes ------------------------------------------------------------------------
    def write_sync(self, new: NewMemory, *, now: float) -> WriteOutcome:
        """``write`` on the calling thread."""
        with self._db.write() as conn:
            return self._write(conn, new, now)

    async def write(self, new: NewMemory, *, now: float) -> WriteOutcome:
        return await self._run(self.write_sync, new, now=now)

    def _targets(
        self, conn: sqlite3.Connection, supersedes: int | None, namespace: str, subject: str | None
    ) -> list[MemoryEntry]:
        """The live entries a write replaces: its explicit target and the trusted holder
        of its subject key."""
        targets: list[MemoryEntry] = []
        if supersedes is not None:
            target = self._get(conn, supersedes)
            if target.retired_at is not None:
                raise MemoryStateError(_not_live(target), entry=target)
            targets.append(target)
        if subject:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM memory_entries WHERE namespace = ? AND subject = ? "
                "AND retired_at IS NULL AND trust = 'trusted'",
                (namespace, subject),
            ).fetchone()
            if row is not None and all(t.id != row[0] for t in targets):
                targets.append(_entry(row))
        return targets

    def _live_with_hash(self, conn: sqlite3.Connection, digest: str) -> MemoryEntry | None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM memory_entries WHERE content_hash = ? AND retired_at IS NULL",
            (digest,),
        ).fetchone()
        return _entry(row) if row is not None else None

    @staticmethod
    def _mark_retired(
        conn: sqlite3.Connection,
        targets: Sequence[MemoryEntry],
        now: float,
        keep: int | None = None,
    ) -> list[int]:
        """Retire ``targets`` (but ``keep``); ``_supersede`` then says by what. Done first
        because the partial unique index allows one live trusted holder of a subject."""
        ids = [entry_id for entry_id in dict.fromkeys(t.id for t in targets) if entry_id != keep]
        for entry_id in ids:
            conn.execute(
                "UPDATE memory_entries SET retired_at = ?, updated_at = ? WHERE id = ?",
                (now, now, entry_id),
            )
        return ids

    def _supersede(
        self, conn: sqlite3.Connection, ids: Sequence[int], by: int, note: str = ""
    ) -> tuple[MemoryEntry, ...]:
        for entry_id in ids:
            conn.execute(
                "UPDATE memory_entries SET superseded_by = ?, retired_reason = ? WHERE id = ?",
                (by, f"superseded by #{by}{note}", entry_id),
            )
        if ids:
            # An entry that replaced one by its subject key links back to it too.
            conn.execute(
                "UPDATE memory_entries SET supersedes = ? WHERE id = ? AND supersedes IS NULL",
                (ids[0], by),
            )
        return tuple(self._get(conn, entry_id) for entry_id in ids)

    def _insert(
        self,
        conn: sqlite3.Connection,
        new: NewMemory,
        *,
        created_at: float,
        updated_at: float,
        retired_at: float | None = None,
        retired_reason: str | None = None,
    ) -> int:
        cursor = conn.execute(
            "INSERT INTO memory_entries (namespace, subject, text, tags, identifier_parts, "
            "source, session_id, tool_call_id, trust, trust_reason, created_at, updated_at, "
            "retired_at, retired_reason, supersedes, content_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.namespace,
                new.subject,
                new.text,
                " ".join(new.tags),
                identifier_parts(new.text),
                new.source,
                new.session_id,
                new.tool_call_id,
                new.trust,
                new.trust_reason,
                created_at,
                updated_at,
                retired_at,
                retired_reason,
                new.supersedes,
                new.content_hash,
            ),
        )
        return int(cast(int, cursor.lastrowid))

    def _write(self, conn: sqlite3.Connection, new: NewMemory, now: float) -> WriteOutcome:
        targets = self._targets(conn, new.supersedes, new.namespace, new.subject)
        trusted = new.trust == "trusted"
        same = self._live_with_hash(conn, new.content_hash)
        if same is not None and trusted and any(t.id == same.id for t in targets):
            if (same.namespace, same.subject, same.tags) == (new.namespace, new.subject, new.tags):
                return WriteOutcome(same, created=False)  # a correction that changes nothing
            same = None  # the same text filed again (new tags, namespace): it replaces it
        if same is not None and not (trusted and same.trust == "untrusted"):
            # The text is already stored: nothing new. A trusted write still retires what
            # it was meant to replace, in favour of the entry that says it.
            if not trusted:
                pending = tuple(t.id for t in targets if t.id != same.id)
                return WriteOutcome(same, created=False, pending=pending)
            ids = self._mark_retired(conn, targets, now, keep=same.id)
            retired = self._supersede(conn, ids, same.id)
            return WriteOutcome(self._get(conn, same.id), created=False, retired=retired)
        if not trusted:
            # Quarantined: it changes nothing else until the user approves it.
            new_id = self._insert(conn, new, created_at=now, updated_at=now)
            return WriteOutcome(
                self._get(conn, new_id), created=True, pending=tuple(t.id for t in targets)
            )
        if same is not None:
            # A trusted write of a quarantined entry's text replaces the quarantined copy.
            targets.append(same)
        ids = self._mark_retired(conn, targets, now)
        new_id = self._insert(conn, new, created_at=now, updated_at=now)
        retired = self._supersede(conn, ids, new_id)
        return WriteOutcome(self._get(conn, new_id), created=True, retired=retired)

    async def retire(self, entry_id: int, reason: str, *, now: float) -> MemoryEntry:
        def work() -> MemoryEntry:
            with self._db.write() as conn:
                entry = self._get(conn, entry_id)
                if entry.retired_at is not None:
                    raise MemoryStateError(_not_live(entry), entry=entry)
                conn.execute(
                    "UPDATE memory_entries SET retired_at = ?, retired_reason = ?, "
                    "updated_at = ? WHERE id = ?",
                    (now, reason, now, entry_id),
                )
                return self._get(conn, entry_id)

        return await self._run(work)

    async def approve(self, entry_id: int, *, now: float) -> WriteOutcome:
        def work() -> WriteOutcome:
            with self._db.write() as conn:
                entry = self._get(conn, entry_id)
                if not entry.quarantined:
                    raise MemoryStateError(
                        f"memory #{entry_id} is {entry.state}, not waiting for approval",
                        entry=entry,
                    )
                targets: list[MemoryEntry] = []
                if entry.supersedes is not None:
                    target = self._get(conn, entry.supersedes)
                    if target.live:
                        targets.append(target)
                if entry.subject:
                    targets += self._targets(conn, None, entry.namespace, entry.subject)
                ids = self._mark_retired(conn, targets, now, keep=entry_id)
                retired = self._supersede(conn, ids, entry_id)
                conn.execute(
                    "UPDATE memory_entries SET trust = 'trusted', approved_at = ?, "
                    "updated_at = ? WHERE id = ?",
                    (now, now, entry_id),
                )
                return WriteOutcome(self._get(conn, entry_id), created=False, retired=retired)

        return await self._run(work)

    async def import_entries(
        self, records: Sequence[ImportedMemory], *, now: float
    ) -> ImportReport:
        def work() -> ImportReport:
            with self._db.write() as conn:
                return self._import(conn, records, now)

        return await self._run(work)

    def _import(
        self, conn: sqlite3.Connection, records: Sequence[ImportedMemory], now: float
    ) -> ImportReport:
        created: dict[int, int] = {}
        duplicates: dict[int, int] = {}
        retired: list[int] = []
        ordered = sorted(records, key=lambda r: r.old_id)
        for record in ordered:
            new = record.new
            holders: list[int] = []
            if record.retired_at is None:
                same = self._live_with_hash(conn, new.content_hash)
                if same is not None:
                    duplicates[record.old_id] = same.id
                    continue
                if new.trust == "trusted" and new.subject:
                    # The imported entry is the later word on its subject.
                    found = self._targets(conn, None, new.namespace, new.subject)
                    holders = self._mark_retired(conn, found, now)
            new_id = self._insert(
                conn,
                new,
                created_at=record.created_at,
                updated_at=record.updated_at,
                retired_at=record.retired_at,
                retired_reason=record.retired_reason,
            )
            created[record.old_id] = new_id
            self._supersede(conn, holders, new_id, " (import)")
            retired += holders
        # Links inside the file name the file's ids: map them to the new ones.
        for record in ordered:
            made = created.get(record.old_id)
            if made is None:
                continue
            by, target = record.superseded_by, record.new.supersedes
            by_id = (created.get(by) or duplicates.get(by)) if by is not None else None
            target_id = created.get(target) if target is not None else None
            conn.execute(
                "UPDATE memory_entries SET superseded_by = ?, supersedes = ? WHERE id = ?",
                (by_id, target_id, made),
            )
        return ImportReport(created=created, duplicates=duplicates, retired=tuple(retired))

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


def _not_live(entry: MemoryEntry) -> str:
    if entry.superseded_by is not None:
        return f"memory #{entry.id} is retired: superseded by #{entry.superseded_by}"
    reason = f" ({entry.retired_reason})" if entry.retired_reason else ""
    return f"memory #{entry.id} is retired{reason}"
