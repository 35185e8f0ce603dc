"""``MemoryService``: learned memory as every front end and tool uses it.

It sits on a ``MemoryStore`` (SQLite + FTS5 today) and adds what must hold whoever
calls: fields are validated and cleaned (``fields.py``), text is redacted of the user's
provider keys before it is stored (``SecretRedactor``), queries go through the query
compiler, and the clock is injected. Trust is decided by the caller: ``trusted=False``
stores the entry quarantined, with the reason, and it is neither searched for the model
nor offered until the user approves it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tau_engine.memory.fields import (
    entry_id,
    memory_text,
    namespace_path,
    namespace_prefix,
    retire_reason,
    subject_key,
    tag_list,
)
from tau_engine.paths import WorkspacePaths
from tau_engine.safety.redact import SecretRedactor
from tau_engine.store.api import MemoryStore
from tau_engine.store.factory import open_store
from tau_engine.store.memory_model import (
    MemoryEntry,
    MemoryHit,
    MemoryNotFoundError,
    NamespaceCount,
    NewMemory,
    Source,
    WriteOutcome,
)
from tau_engine.store.memory_query import CompiledQuery, MatchMode, compile_query

DEFAULT_LIMIT = 10
MAX_LIMIT = 50


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Hits of one search, with the compiled query (``query.empty``: nothing to search)."""

    query: CompiledQuery
    hits: list[MemoryHit]


class MemoryService:
    """Search, write, read, retire and approve learned memory entries."""

    def __init__(
        self,
        store: MemoryStore,
        *,
        redactor: SecretRedactor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.redactor = redactor or SecretRedactor()
        self.clock = clock

    @classmethod
    def open(
        cls,
        paths: WorkspacePaths,
        *,
        redactor: SecretRedactor | None = None,
        clock: Callable[[], float] = time.time,
        store_url: str | None = None,
    ) -> MemoryService:
        """The service over the workspace's store (``store.open_store``; ``store_url``: the
        selected one, default the workspace's SQLite file). Blocking: call it at start-up
        (or through ``asyncio.to_thread``)."""
        return cls(open_store(paths, store_url).open_memory(), redactor=redactor, clock=clock)

    def close(self) -> None:
        self.store.close()

    # -- reading -----------------------------------------------------------------------
    async def search(
        self,
        query: str,
        *,
        limit: int = DEFAULT_LIMIT,
        match: MatchMode = "all",
        include_untrusted: bool = False,
        namespace: str | None = None,
    ) -> SearchResult:
        """Live entries for ``query`` (any text), best first. An empty compiled query is not
        run: the result says so through ``query.empty``."""
        compiled = compile_query(query, match)
        return await self.search_compiled(
            compiled, limit=limit, include_untrusted=include_untrusted, namespace=namespace
        )

    async def search_compiled(
        self,
        compiled: CompiledQuery,
        *,
        limit: int = DEFAULT_LIMIT,
        include_untrusted: bool = False,
        namespace: str | None = None,
    ) -> SearchResult:
        limit = max(1, min(int(limit), MAX_LIMIT))
        prefix = namespace_prefix(namespace)
        if compiled.empty:
            return SearchResult(compiled, [])
        hits = await self.store.search(
            compiled, limit=limit, include_untrusted=include_untrusted, namespace=prefix
        )
        return SearchResult(compiled, hits)

    async def read(self, value: object) -> MemoryEntry:
        """The entry with id ``value`` (``12``, ``"#12"``), in any state."""
        return await self.store.get(entry_id(value))

    async def chain(self, entry: MemoryEntry) -> list[MemoryEntry]:
        """The entry's line of corrections, oldest first: what it superseded and what
        superseded it."""
        before: list[MemoryEntry] = []
        seen = {entry.id}
        current = entry
        while current.supersedes is not None and current.supersedes not in seen:
            try:
                current = await self.store.get(current.supersedes)
            except MemoryNotFoundError:
                break
            seen.add(current.id)
            before.insert(0, current)
        after: list[MemoryEntry] = []
        current = entry
        while current.superseded_by is not None and current.superseded_by not in seen:
            try:
                current = await self.store.get(current.superseded_by)
            except MemoryNotFoundError:
                break
            seen.add(current.id)
            after.append(current)
        return [*before, entry, *after]

    async def tree(self, prefix: str | None = None) -> list[NamespaceCount]:
        return await self.store.tree(namespace_prefix(prefix))

    async def pending(self) -> list[MemoryEntry]:
        """Quarantined entries waiting for the user's approval, newest first."""
        return await self.store.entries(include_retired=False, trust="untrusted", newest_first=True)

    async def entries(self, *, include_retired: bool = True) -> list[MemoryEntry]:
        return await self.store.entries(include_retired=include_retired)

    async def newest_id(self) -> int | None:
        return await self.store.newest_id()

    async def is_empty(self) -> bool:
        return not await self.store.entries(include_retired=False, limit=1)

    # -- writing -----------------------------------------------------------------------
    async def write(
        self,
        text: str,
        *,
        namespace: str | None = None,
        tags: str | Iterable[str] | None = None,
        subject: str | None = None,
        supersedes: object = None,
        source: Source = "user",
        session_id: str | None = None,
        tool_call_id: str | None = None,
        trusted: bool = True,
        untrusted_reason: str | None = None,
    ) -> WriteOutcome:
        """Store one entry (see ``MemoryStore.write``). ``trusted=False`` quarantines it,
        with ``untrusted_reason`` recorded."""
        new = NewMemory(
            namespace=namespace_path(namespace),
            text=self.redactor.redact(memory_text(text)),
            tags=tag_list(tags),
            subject=subject_key(self.redactor.redact(subject) if subject else subject),
            supersedes=None if supersedes is None else entry_id(supersedes),
            source=source,
            session_id=session_id,
            tool_call_id=tool_call_id,
            trust="trusted" if trusted else "untrusted",
            trust_reason=None
            if trusted
            else (untrusted_reason or "written from untrusted content"),
        )
        return await self.store.write(new, now=self.clock())

    async def edit(
        self,
        value: object,
        *,
        text: str | None = None,
        tags: str | Iterable[str] | None = None,
        namespace: str | None = None,
    ) -> WriteOutcome:
        """The user's correction of an entry: a new trusted entry that supersedes it,
        keeping what is not given (text, tags, namespace, subject)."""
        old = await self.read(value)
        return await self.write(
            old.text if text is None else text,
            namespace=old.namespace if namespace is None else namespace,
            tags=old.tags if tags is None else tags,
            subject=old.subject,
            supersedes=old.id,
            source="user",
            trusted=True,
        )

    async def retire(self, value: object, reason: str | None) -> MemoryEntry:
        return await self.store.retire(entry_id(value), retire_reason(reason), now=self.clock())

    async def approve(self, value: object) -> WriteOutcome:
        """Let a quarantined entry be offered: mark it trusted and apply its supersession."""
        return await self.store.approve(entry_id(value), now=self.clock())
