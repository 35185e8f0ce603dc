"""``SqlMemoryStore``: learned memory on either backend, less its search.

Writing, superseding, retiring, approving, importing and listing entries are written
once here, in SQL both SQLite and PostgreSQL run, with the contract of ``MemoryStore``
(``store/api.py``). Search is each backend's own full-text engine: FTS5 with BM25 in
``sqlite/memory_fts.py``, ``tsvector`` with ``ts_rank`` in ``postgres/memory.py``, both
rendering the same compiled query (``memory_query.py``). Every method runs its SQL on a
worker thread (``asyncio.to_thread``) in one transaction of the backend's database.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from tau_engine.store.memory_model import (
    ImportedMemory,
    ImportReport,
    MemoryEntry,
    MemoryHit,
    MemoryStateError,
    NamespaceCount,
    NewMemory,
    Trust,
    WriteOutcome,
)
from tau_engine.store.memory_query import CompiledQuery
from tau_engine.store.sql.memory_records import (
    COLUMNS,
    MemoryRecords,
    entry_from_row,
    like_prefix,
    not_live,
)
from tau_engine.store.sql.protocol import SqlDatabase

P = ParamSpec("P")
T = TypeVar("T")


class SqlMemoryStore(MemoryRecords, ABC):
    """The ``MemoryStore`` less its search, which each backend writes in its own
    full-text language (``search_sync``)."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def close(self) -> None:
        self._db.close()

    async def _run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(func, *args, **kwargs)

    # -- what a backend provides ---------------------------------------------------------
    @abstractmethod
    def search_sync(
        self,
        query: CompiledQuery,
        *,
        limit: int,
        include_untrusted: bool = False,
        namespace: str | None = None,
    ) -> list[MemoryHit]:
        """``search`` on the calling thread: live entries matching ``query``, best first,
        ties to the newer entry (an empty query is not run: ``[]``)."""

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

    # -- reads -------------------------------------------------------------------------
    # -- reads -------------------------------------------------------------------------
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

    async def tree(self, prefix: str | None = None) -> list[NamespaceCount]:
        def work() -> list[NamespaceCount]:
            sql = (
                "SELECT namespace, "
                "sum(CASE WHEN retired_at IS NULL AND trust = 'trusted' THEN 1 ELSE 0 END), "
                "sum(CASE WHEN retired_at IS NULL AND trust = 'untrusted' THEN 1 ELSE 0 END), "
                "sum(CASE WHEN retired_at IS NOT NULL THEN 1 ELSE 0 END) FROM memory_entries"
            )
            params: list[Any] = []
            if prefix:
                sql += " WHERE namespace = ? OR namespace LIKE ? ESCAPE '\\'"
                params = [prefix, like_prefix(prefix)]
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
                params += [namespace, like_prefix(namespace)]
            sql = f"SELECT {COLUMNS} FROM memory_entries"
            if where:
                sql += " WHERE " + " AND ".join(where)
            sql += " ORDER BY id" + (" DESC" if newest_first else "")
            if limit is not None:
                sql += " LIMIT ?"
                params.append(limit)
            with self._db.read() as conn:
                return [entry_from_row(row) for row in conn.execute(sql, params).fetchall()]

        return await self._run(work)

    # -- writes ------------------------------------------------------------------------
    def write_sync(self, new: NewMemory, *, now: float) -> WriteOutcome:
        """``write`` on the calling thread."""
        with self._db.write() as conn:
            return self._write(conn, new, now)

    async def write(self, new: NewMemory, *, now: float) -> WriteOutcome:
        return await self._run(self.write_sync, new, now=now)

    async def retire(self, entry_id: int, reason: str, *, now: float) -> MemoryEntry:
        def work() -> MemoryEntry:
            with self._db.write() as conn:
                entry = self._get(conn, entry_id)
                if entry.retired_at is not None:
                    raise MemoryStateError(not_live(entry), entry=entry)
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
