"""``MemoryRuntime``: learned memory wired into one engine.

The engine opens it when memory is enabled (``settings.memory``) and, each time it
builds the agent loop for a session, asks ``bind`` for that session's memory tools and
per-turn retriever. ``bind`` starts a fresh ``WriteProvenance`` for the session (seeded
from its stored history, fed by the engine's bus), so whether the model's writes are
trusted is decided per session and survives a resume.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from tau_engine.config import Settings
from tau_engine.conversation import StoredMessage
from tau_engine.event_kinds import MemoryOfferNote, NoticeKind
from tau_engine.events import EventBus, Notice
from tau_engine.memory.provenance import WriteProvenance
from tau_engine.memory.retrieval import DEFAULT_BUDGET_TOKENS, TurnRetriever
from tau_engine.memory.service import MemoryService
from tau_engine.memory.tools import memory_tools
from tau_engine.paths import WorkspacePaths
from tau_engine.safety.redact import SecretRedactor
from tau_engine.tools.base import Tool


class MemoryRuntime:
    """The memory service of an engine, and the provenance of the session it runs."""

    def __init__(
        self, service: MemoryService, bus: EventBus, *, budget_tokens: int = DEFAULT_BUDGET_TOKENS
    ) -> None:
        self.service = service
        self.bus = bus
        self.budget_tokens = budget_tokens
        self.provenance: WriteProvenance | None = None

    @classmethod
    async def open(
        cls,
        paths: WorkspacePaths,
        bus: EventBus,
        *,
        redactor: SecretRedactor,
        budget_tokens: int = DEFAULT_BUDGET_TOKENS,
        store_url: str | None = None,
    ) -> MemoryRuntime:
        service = await asyncio.to_thread(
            lambda: MemoryService.open(paths, redactor=redactor, store_url=store_url)
        )
        return cls(service, bus, budget_tokens=budget_tokens)

    @classmethod
    async def open_if_enabled(
        cls, settings: Settings, paths: WorkspacePaths, bus: EventBus, redactor: SecretRedactor
    ) -> MemoryRuntime | None:
        """The runtime when ``settings.memory`` is on, else None."""
        if not settings.memory:
            return None
        return await cls.open(
            paths,
            bus,
            redactor=redactor,
            budget_tokens=settings.memory_budget_tokens,
            store_url=settings.store.url,
        )

    def bind(
        self, session_id: str, history: Iterable[StoredMessage], tools: list[Tool]
    ) -> TurnRetriever:
        """The retriever for a loop on ``session_id``, whose stored messages are
        ``history``; the memory tools are appended to ``tools`` (the default set)."""
        if self.provenance is not None:
            self.bus.unsubscribe(self.provenance.observe)
        provenance = WriteProvenance(session_id)
        provenance.seed(stored.message for stored in history)
        self.bus.subscribe(provenance.observe)
        self.provenance = provenance
        retriever = TurnRetriever(self.service, budget_tokens=self.budget_tokens, emit=self._notice)
        tools += memory_tools(self.service, provenance)
        return retriever

    def _notice(self, kind: NoticeKind, message: str, data: MemoryOfferNote | None) -> None:
        self.bus.emit(Notice(kind=kind, message=message, data=data))

    def close(self) -> None:
        if self.provenance is not None:
            self.bus.unsubscribe(self.provenance.observe)
            self.provenance = None
        self.service.close()
