"""``MemoryStore``: the protocol every learned-memory backend implements.

SQLite with FTS5 (``memory_fts.py``) implements it today; a PostgreSQL backend with its
full-text search implements the same protocol with the same query compiler
(``memory_query.py``), so the memory service, its tools, the CLI and the tests do not
know which one they talk to.

The contract, which ``tests/memory`` checks for every backend:

* ``write`` is one transaction: the explicit ``supersedes`` target and the live trusted
  entry with the same namespace and subject are retired (``superseded_by`` set) together
  with the insert. Text whose ``content_hash`` a live entry already has is not stored
  again: the outcome names that entry (``created`` False). An *untrusted* write retires
  nothing; ``approve`` applies its supersession later.
* retired entries are never returned by ``search`` and never deleted.
* ``search`` never sees untrusted entries unless ``include_untrusted``; an empty compiled
  query is not run (the service reports it); a failing backend raises ``StoreError``,
  never returns an empty list.
* ids are positive integers, never reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tau_engine.store.memory_model import (
    ImportedMemory,
    ImportReport,
    MemoryEntry,
    MemoryHit,
    NamespaceCount,
    NewMemory,
    Trust,
    WriteOutcome,
)
from tau_engine.store.memory_query import CompiledQuery


class MemoryStore(Protocol):
    """Learned memory entries with full-text search. All methods may raise ``StoreError``."""

    async def write(self, new: NewMemory, *, now: float) -> WriteOutcome:
        """Store ``new`` (or find the live entry with the same text) and supersede.
        ``MemoryNotFoundError`` / ``MemoryStateError`` if ``new.supersedes`` names no
        entry or a retired one."""
        ...

    async def get(self, entry_id: int) -> MemoryEntry:
        """The entry with ``entry_id``, in any state (``MemoryNotFoundError`` if none)."""
        ...

    async def search(self, query: CompiledQuery, *, limit: int, include_untrusted: bool = False,
                     namespace: str | None = None) -> list[MemoryHit]:
        """Live entries matching ``query``, best first (BM25, text weighted above tags);
        ``namespace`` keeps that namespace and the ones under it."""
        ...

    async def tree(self, prefix: str | None = None) -> list[NamespaceCount]:
        """Every namespace (under ``prefix``) with its entry counts, sorted by name."""
        ...

    async def entries(self, *, include_retired: bool = True, trust: Trust | None = None,
                      namespace: str | None = None, limit: int | None = None,
                      newest_first: bool = False) -> list[MemoryEntry]:
        """Entries by id (oldest first unless ``newest_first``), filtered."""
        ...

    async def retire(self, entry_id: int, reason: str, *, now: float) -> MemoryEntry:
        """Retire a live entry (kept for the record); ``MemoryStateError`` if it is not live."""
        ...

    async def approve(self, entry_id: int, *, now: float) -> WriteOutcome:
        """Mark a quarantined entry trusted and apply the supersession it was written with,
        in one transaction; ``MemoryStateError`` if it is not quarantined."""
        ...

    async def import_entries(self, records: Sequence[ImportedMemory], *,
                             now: float) -> ImportReport:
        """Recreate exported entries in one transaction (all or nothing)."""
        ...

    async def newest_id(self) -> int | None:
        """The highest id given so far (for "no memory #99; the newest is #42")."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...
