"""The data of learned memory, shared by every backend: entries, writes, hits, errors.

A memory *entry* is one short fact or decision, filed under a namespace path
(``project/build``, ``user/preferences``), optionally under a *subject key*
(a write with the subject of a live entry replaces it), with where it came
from (``source``: user, model, tool or import, with the session and tool call)
and whether it may be offered to the model (``trust``). Entries are never
deleted: a correction *retires* the old entry (``retired_at``, ``superseded_by``)
and keeps it for the record.

The normalized content hash (``content_hash``) is computed here, once for all
backends, so the SQLite store and a later PostgreSQL one agree on what "the
same text" means.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from tau_engine.errors import UsageError

Source = Literal["user", "model", "tool", "import"]
Trust = Literal["trusted", "untrusted"]
SOURCES: tuple[Source, ...] = ("user", "model", "tool", "import")
TRUST_LEVELS: tuple[Trust, ...] = ("trusted", "untrusted")


class MemoryNotFoundError(UsageError):
    """No memory entry has the given id."""

    def __init__(self, message: str, *, entry_id: int, newest_id: int | None) -> None:
        super().__init__(message)
        self.entry_id = entry_id
        self.newest_id = newest_id


class MemoryStateError(UsageError):
    """The entry exists but is in the wrong state for the request (retired, quarantined)."""

    def __init__(self, message: str, *, entry: MemoryEntry) -> None:
        super().__init__(message)
        self.entry = entry


_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """The form two texts are compared in: NFKC, case-folded, whitespace collapsed,
    trailing sentence punctuation dropped ("Use tabs." and "use  tabs" are one fact)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", folded).strip().rstrip(".!;").rstrip()


def content_hash(text: str) -> str:
    """The hash of ``normalize_text(text)`` that deduplication compares (hex SHA-256)."""
    return hashlib.sha256(normalize_text(text).encode("utf-8", "replace")).hexdigest()


_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*")
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def identifier_parts(text: str) -> str:
    """The words inside the camelCase and PascalCase identifiers of ``text``, space-separated.

    The full-text tokenizer already splits ``snake_case``, ``kebab-case``, dotted names and
    paths into words; it keeps ``parseArgs`` whole. Indexing its parts too lets a search
    for ``args`` find it, without a trigram index (see docs/memory.md)."""
    parts: list[str] = []
    seen: set[str] = set()
    for match in _IDENTIFIER.finditer(text):
        pieces = _PART.findall(match.group(0))
        if len(pieces) < 2:
            continue
        for piece in pieces:
            key = piece.lower()
            if key not in seen:
                seen.add(key)
                parts.append(key)
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class MemoryEntry:
    """One stored entry, live or retired."""

    id: int
    namespace: str
    subject: str | None
    text: str
    tags: tuple[str, ...]
    source: Source
    session_id: str | None
    tool_call_id: str | None
    trust: Trust
    trust_reason: str | None
    created_at: float
    updated_at: float
    approved_at: float | None
    retired_at: float | None
    retired_reason: str | None
    supersedes: int | None
    superseded_by: int | None
    content_hash: str

    @property
    def live(self) -> bool:
        """Not retired: found by search (and offered, if trusted)."""
        return self.retired_at is None

    @property
    def quarantined(self) -> bool:
        """Live but untrusted: kept from the model until the user approves it."""
        return self.live and self.trust == "untrusted"

    @property
    def state(self) -> str:
        """``live``, ``quarantined``, ``superseded`` or ``retired``, for people."""
        if self.retired_at is not None:
            return "superseded" if self.superseded_by is not None else "retired"
        return "quarantined" if self.trust == "untrusted" else "live"

    def to_json(self) -> dict[str, Any]:
        """Every field, JSON-ready (the export format and ``--json`` output)."""
        return {
            "id": self.id,
            "namespace": self.namespace,
            "subject": self.subject,
            "text": self.text,
            "tags": list(self.tags),
            "source": self.source,
            "session_id": self.session_id,
            "tool_call_id": self.tool_call_id,
            "trust": self.trust,
            "trust_reason": self.trust_reason,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "approved_at": self.approved_at,
            "retired_at": self.retired_at,
            "retired_reason": self.retired_reason,
            "supersedes": self.supersedes,
            "superseded_by": self.superseded_by,
            "content_hash": self.content_hash,
            "state": self.state,
        }


@dataclass(frozen=True, slots=True)
class NewMemory:
    """One write, already validated and redacted by the memory service."""

    namespace: str
    text: str
    tags: tuple[str, ...] = ()
    subject: str | None = None
    supersedes: int | None = None
    source: Source = "user"
    session_id: str | None = None
    tool_call_id: str | None = None
    trust: Trust = "trusted"
    trust_reason: str | None = None

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """What a write (or an approval) did.

    ``entry`` holds the text now: the new entry, or the live one that already said the
    same (``created`` is then False). ``retired`` are the entries it superseded in the
    same transaction. ``pending`` are the live entries an untrusted write will supersede
    once the user approves it (nothing is retired by a quarantined write)."""

    entry: MemoryEntry
    created: bool
    retired: tuple[MemoryEntry, ...] = ()
    pending: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class MemoryHit:
    """One search result: the entry, its BM25 score (higher is better), a snippet of its
    text with the matched words in ``**``, and the words that matched."""

    entry: MemoryEntry
    score: float
    snippet: str
    matched: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NamespaceCount:
    """How many entries one namespace holds, by state."""

    namespace: str
    live: int
    quarantined: int
    retired: int


@dataclass(frozen=True, slots=True)
class ImportedMemory:
    """One entry read from an export file, to be recreated (ids are reassigned)."""

    old_id: int
    new: NewMemory
    created_at: float
    updated_at: float
    retired_at: float | None = None
    retired_reason: str | None = None
    superseded_by: int | None = None  # an id of the same file


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: old id -> new id of the entries created, and what was skipped."""

    created: dict[int, int] = field(default_factory=dict)
    duplicates: dict[int, int] = field(default_factory=dict)  # old id -> live id with its text
    retired: tuple[int, ...] = ()  # live entries of this store that imported ones superseded
