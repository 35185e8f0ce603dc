"""Per-turn retrieval: the learned memory offered to the model with each user prompt.

At the start of a run the user's prompt (as typed, without attached files) is searched
in OR mode, stopwords left out, and the best trusted entries are offered within a
token budget, each labelled ``memory #id (source, date; may be stale)``, followed by
the budget line ``memories: 5 shown, 640/1,500 tokens``. Entries already offered in
the conversation the model still sees are not offered again; quarantined matches are
never offered (they are listed for ``tau memory why``).

What was offered is recorded in the user message's ``meta["memory"]`` (``OfferRecord``):
the exact context block, the entries with their scores and matched words, and what was
skipped and why. The prompt itself is stored as typed; ``with_memory_context`` puts the
recorded block in front of it in every request, so the session's history says exactly
what the model was shown, and later requests (and a resumed session) send the same.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tau_engine.conversation import Message
from tau_engine.errors import TauError
from tau_engine.event_kinds import MemoryOfferNote, NoticeKind
from tau_engine.memory.service import MemoryService
from tau_engine.memory.stopwords import STOPWORDS
from tau_engine.store.memory_model import MemoryEntry
from tau_engine.store.memory_query import compile_query

META_KEY = "memory"
DEFAULT_BUDGET_TOKENS = 1_500
MAX_CANDIDATES = 8
CHARS_PER_TOKEN = 4  # the same rough measure as compaction's estimate
_WORD_EDGES = re.compile(r"^\W+|\W+$")
_TAG = re.compile(r"<(/?)(memory)", re.IGNORECASE)
_HEADER = (
    "Learned memory that may help with this message: notes saved earlier in this "
    "workspace by the user or by you. They may be out of date; the user's words and "
    "the files win. Correct a wrong one with memory_write (supersedes: its id)."
)


def estimate_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


def entry_date(timestamp: float) -> str:
    """The date of a timestamp, in UTC (the same on every machine)."""
    return _dt.datetime.fromtimestamp(timestamp, _dt.UTC).date().isoformat()


def entry_label(entry: MemoryEntry) -> str:
    """``memory #12 (user, 2026-01-03; may be stale)``."""
    return f"memory #{entry.id} ({entry.source}, {entry_date(entry.created_at)}; may be stale)"


def budget_line(shown: int, used: int, budget: int) -> str:
    return f"memories: {shown} shown, {used:,}/{budget:,} tokens"


def query_from_prompt(prompt: str) -> str:
    """The words of a prompt worth searching for: stopwords and one-letter words dropped."""
    kept: list[str] = []
    for word in prompt.split():
        bare = _WORD_EDGES.sub("", word).casefold()
        if len(bare) < 2 or bare in STOPWORDS:
            continue
        kept.append(word)
    return " ".join(kept)


@dataclass
class OfferedEntry:
    """One entry shown to the model, and why."""

    id: int
    label: str
    namespace: str
    score: float
    tokens: int
    matched: list[str]


@dataclass
class OfferRecord:
    """What one prompt was offered (``meta["memory"]`` of the user message)."""

    query: str
    budget_tokens: int
    used_tokens: int = 0
    shown: list[OfferedEntry] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"id", "reason"}
    line: str = ""
    context: str = ""
    error: str | None = None

    def to_meta(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_meta(cls, data: dict[str, Any]) -> OfferRecord:
        shown = [OfferedEntry(**item) for item in data.get("shown", [])]
        return cls(
            query=data.get("query", ""),
            budget_tokens=data.get("budget_tokens", 0),
            used_tokens=data.get("used_tokens", 0),
            shown=shown,
            skipped=list(data.get("skipped", [])),
            line=data.get("line", ""),
            context=data.get("context", ""),
            error=data.get("error"),
        )


def offered_ids(messages: Sequence[Message]) -> set[int]:
    """Ids of the entries already offered in ``messages`` (the conversation the model sees)."""
    ids: set[int] = set()
    for message in messages:
        record = message.meta.get(META_KEY) if message.role == "user" else None
        if isinstance(record, dict):
            for item in record.get("shown", []):
                if isinstance(item, dict) and isinstance(item.get("id"), int):
                    ids.add(item["id"])
    return ids


def _entry_line(entry: MemoryEntry) -> str:
    text = _TAG.sub(r"‹\1\2", entry.text).replace("\n", "\n  ")
    return f"- {entry_label(entry)}: {text}"


def render_context(lines: Sequence[str], line: str) -> str:
    return "<memory>\n" + _HEADER + "\n" + "\n".join(lines) + "\n" + line + "\n</memory>"


async def build_offer(
    service: MemoryService,
    prompt: str,
    messages: Sequence[Message],
    *,
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
) -> OfferRecord | None:
    """What to offer for ``prompt``; None when memory holds no live entry (nothing to say).

    A failing store is not "nothing found": the record carries the error."""
    query = query_from_prompt(prompt)
    record = OfferRecord(query=query, budget_tokens=budget_tokens)
    try:
        compiled = compile_query(query, "any")
        found = await service.search_compiled(
            compiled, limit=MAX_CANDIDATES * 2, include_untrusted=True
        )
        if not found.hits and await service.is_empty():
            return None  # asked only when nothing matched: one store call per prompt
    except TauError as exc:
        record.error = str(exc)
        record.line = f"memories: not searched ({exc})"
        return record
    already = offered_ids(messages)
    lines: list[str] = []
    considered = 0
    for hit in found.hits:
        entry = hit.entry
        if entry.trust != "trusted":
            record.skipped.append(
                {
                    "id": entry.id,
                    "reason": "quarantined: waiting for the "
                    f"user's approval (tau memory approve {entry.id})",
                }
            )
            continue
        if considered >= MAX_CANDIDATES:
            break
        considered += 1
        if entry.id in already:
            record.skipped.append(
                {
                    "id": entry.id,
                    "score": hit.score,
                    "reason": "already offered earlier in this conversation",
                }
            )
            continue
        text = _entry_line(entry)
        tokens = estimate_tokens(text)
        if record.used_tokens + tokens > budget_tokens:
            record.skipped.append(
                {
                    "id": entry.id,
                    "score": hit.score,
                    "reason": f"over the budget ({tokens:,} tokens; "
                    f"{budget_tokens - record.used_tokens:,} left)",
                }
            )
            continue
        lines.append(text)
        record.used_tokens += tokens
        record.shown.append(
            OfferedEntry(
                entry.id, entry_label(entry), entry.namespace, hit.score, tokens, list(hit.matched)
            )
        )
    record.line = budget_line(len(record.shown), record.used_tokens, budget_tokens)
    if lines:
        record.context = render_context(lines, record.line)
    return record


def with_memory_context(messages: Sequence[Message]) -> list[Message]:
    """The messages of a request: each user message that was offered memory carries its
    recorded context block in front of the prompt."""
    out: list[Message] = []
    for message in messages:
        record = message.meta.get(META_KEY) if message.role == "user" else None
        context = record.get("context") if isinstance(record, dict) else None
        if isinstance(context, str) and context:
            message = message.model_copy(update={"content": f"{context}\n\n{message.content}"})
        out.append(message)
    return out


Emit = Callable[[NoticeKind, str, MemoryOfferNote | None], None]
"""(notice kind, message, data): how the retriever tells front ends what it offered."""


class TurnRetriever:
    """The agent loop's memory hook: offers memory for a prompt and records it."""

    def __init__(
        self,
        service: MemoryService,
        *,
        budget_tokens: int = DEFAULT_BUDGET_TOKENS,
        emit: Emit | None = None,
    ) -> None:
        self.service = service
        self.budget_tokens = budget_tokens
        self.emit = emit

    async def offer(
        self, prompt: str, meta: dict[str, Any] | None, messages: Sequence[Message]
    ) -> dict[str, Any] | None:
        """The user message's ``meta`` with the offer recorded in it (unchanged when memory
        is empty or the budget is zero)."""
        if self.budget_tokens <= 0:
            return meta
        typed = (meta or {}).get("typed")
        record = await build_offer(
            self.service,
            typed if isinstance(typed, str) else prompt,
            messages,
            budget_tokens=self.budget_tokens,
        )
        if record is None:
            return meta
        self._announce(record)
        return {**(meta or {}), META_KEY: record.to_meta()}

    def _announce(self, record: OfferRecord) -> None:
        if self.emit is None:
            return
        if record.error is not None:
            self.emit(NoticeKind.MEMORY_ERROR, f"memory was not searched: {record.error}", None)
            return
        held = [s["id"] for s in record.skipped if str(s["reason"]).startswith("quarantined")]
        if not record.shown and not held:
            return
        message = record.line
        if record.shown:
            message += " (" + ", ".join(f"#{e.id}" for e in record.shown) + ")"
        if held:
            message += (
                f"; {len(held)} quarantined match(es) not offered: "
                + ", ".join(f"#{i}" for i in held)
                + " (tau memory approve ID)"
            )
        self.emit(
            NoticeKind.MEMORY,
            message,
            MemoryOfferNote(
                shown=[e.id for e in record.shown],
                quarantined=held,
                used_tokens=record.used_tokens,
                budget_tokens=record.budget_tokens,
            ),
        )
