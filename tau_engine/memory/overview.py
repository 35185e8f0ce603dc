"""The two kinds of memory side by side, for ``/memory`` and ``tau memory why``.

*Instructions* are the guidance files the system prompt holds (``AGENTS.md``,
``.tau/AGENTS.md``, ``.tau/identity/*.md``), written by people and always sent.
*Learned memory* is the store's entries, searched and offered per prompt. The overview
lists both, and what the last prompt of the session was offered (read back from the
user message's record, so it is what the model was really shown).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tau_engine.conversation import Message
from tau_engine.memory.retrieval import META_KEY, OfferRecord
from tau_engine.memory.service import MemoryService
from tau_engine.store.memory_model import MemoryEntry, NamespaceCount

PENDING_SHOWN = 10


@dataclass(frozen=True, slots=True)
class InstructionFile:
    """One guidance file: its workspace-relative path, size, and whether it is in the
    prompt (``status`` says why not)."""

    path: str
    chars: int
    in_prompt: bool
    status: str


@dataclass(frozen=True, slots=True)
class LastOffer:
    """What the last prompt of a session was offered (``record`` None: nothing)."""

    prompt: str
    record: OfferRecord | None


@dataclass
class MemoryOverview:
    """Instructions, learned memory and the last offer, as the app shows them."""

    instructions: list[InstructionFile]
    enabled: bool
    namespaces: list[NamespaceCount] = field(default_factory=list)
    pending: list[MemoryEntry] = field(default_factory=list)
    last: LastOffer | None = None

    @property
    def live(self) -> int:
        return sum(n.live for n in self.namespaces)

    @property
    def quarantined(self) -> int:
        return sum(n.quarantined for n in self.namespaces)

    @property
    def retired(self) -> int:
        return sum(n.retired for n in self.namespaces)


def last_offer(messages: Sequence[Message]) -> LastOffer | None:
    """The last user message's offer (None when the session has no user message)."""
    for message in reversed(messages):
        if message.role != "user":
            continue
        typed = message.meta.get("typed")
        prompt = typed if isinstance(typed, str) else message.content
        data = message.meta.get(META_KEY)
        record = OfferRecord.from_meta(data) if isinstance(data, dict) else None
        return LastOffer(prompt, record)
    return None


async def build_overview(
    instructions: list[InstructionFile], service: MemoryService | None, messages: Sequence[Message]
) -> MemoryOverview:
    """The overview from the instruction files (``agent/instructions.py`` finds them), the
    memory service (None: memory is off) and the session's ``messages``."""
    if service is None:
        return MemoryOverview(instructions, enabled=False, last=last_offer(messages))
    return MemoryOverview(
        instructions,
        enabled=True,
        namespaces=await service.tree(),
        pending=(await service.pending())[:PENDING_SHOWN],
        last=last_offer(messages),
    )
