"""The closed sets the event stream uses, each declared once.

A notice's ``kind``, the typed ``data`` some notices carry, and the phases and
outcomes a mission announces are enums here, not free strings: a renderer can
match on them, a reader of the log knows every value it can meet, and adding a
kind is one line in this module (the safety layer, hooks and jobs add theirs
here). ``docs/events.md`` lists them for readers outside Python.

This module sits at the bottom of the engine's layers (it imports only
pydantic), so every package may use it: the providers' router announces its
retries with these kinds, and ``missions/model.py`` takes its phases from here.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class NoticeKind(StrEnum):
    """What a ``notice`` event is about. The value is its name on the wire."""

    # Routing (the providers' router): retries, fallbacks, the circuit breaker.
    RETRY = "retry"
    FALLBACK = "fallback"
    CIRCUIT_OPEN = "circuit_open"
    FALLBACK_SKIPPED = "fallback_skipped"
    # The run: compaction, interruption, cut-short answers, @mentions, guidance files.
    COMPACTING = "compacting"
    COMPACTION = "compaction"
    INTERRUPTED = "interrupted"
    MAX_TOKENS = "max_tokens"
    MENTION = "mention"
    GUIDANCE = "guidance"
    # Learned memory offered with a prompt, or not searched.
    MEMORY = "memory"
    MEMORY_ERROR = "memory_error"
    # Opening the engine: workspace trust, the session to continue, the model.
    TRUST = "trust"
    SESSION = "session"
    MODEL = "model"
    # The safety layer.
    SANDBOX = "sandbox"
    PERMISSIONS = "permissions"
    REDACTION = "redaction"
    INJECTION = "injection"
    AUDIT = "audit"
    # Anything else worth a line; also what a v1 log's unknown kinds are read as.
    INFO = "info"


ROUTE_KINDS = frozenset(
    {NoticeKind.RETRY, NoticeKind.FALLBACK, NoticeKind.CIRCUIT_OPEN, NoticeKind.FALLBACK_SKIPPED}
)
"""The notice kinds the providers' router emits (``RoutedProvider.on_event``)."""

STARTUP_KINDS = frozenset({NoticeKind.TRUST, NoticeKind.SESSION, NoticeKind.MODEL})
"""The kinds of the notices an engine gives while it opens."""


# -- typed notice data ------------------------------------------------------------------


class RetryNote(BaseModel):
    """A ``retry`` notice: the route's call failed retryably and is tried again."""

    route: str
    attempt: int
    delay_s: float
    error_kind: str


class FallbackNote(BaseModel):
    """A ``fallback`` notice: the answer comes from the next route."""

    from_route: str
    to_route: str
    reason: str
    error_kind: str


class CircuitOpenNote(BaseModel):
    """A ``circuit_open`` notice: a route that keeps failing is skipped for a while."""

    route: str
    retry_in_s: float


class CompactionNote(BaseModel):
    """A ``compaction`` notice: the conversation was summarized."""

    before_tokens: int
    after_tokens: int


class MemoryOfferNote(BaseModel):
    """A ``memory`` notice: learned memory offered with the prompt."""

    shown: list[int]
    quarantined: list[int]
    used_tokens: int
    budget_tokens: int


class SandboxNote(BaseModel):
    """A ``sandbox`` notice: how tools run (``bwrap (network off)``, unsandboxed, ...)."""

    sandbox: str


class RedactionNote(BaseModel):
    """A ``redaction`` notice: the kinds of secret found in a tool's result."""

    kinds: list[str]


class InjectionNote(BaseModel):
    """An ``injection`` notice: the rules a tool's result matched, where it came from,
    and the call."""

    rules: list[str]
    source: str
    call_id: str


NoticeData = (
    RetryNote
    | FallbackNote
    | CircuitOpenNote
    | CompactionNote
    | MemoryOfferNote
    | SandboxNote
    | RedactionNote
    | InjectionNote
)

NOTICE_DATA: dict[NoticeKind, type[BaseModel]] = {
    NoticeKind.RETRY: RetryNote,
    NoticeKind.FALLBACK: FallbackNote,
    NoticeKind.CIRCUIT_OPEN: CircuitOpenNote,
    NoticeKind.COMPACTION: CompactionNote,
    NoticeKind.MEMORY: MemoryOfferNote,
    NoticeKind.SANDBOX: SandboxNote,
    NoticeKind.REDACTION: RedactionNote,
    NoticeKind.INJECTION: InjectionNote,
}
"""The notice kinds that carry ``data``, and its type; every other kind has none."""


# -- missions -------------------------------------------------------------------------------


class MissionPhase(StrEnum):
    """A mission's phases, in the order a mission goes through them (``missions/model.py``
    calls it ``Phase``)."""

    INTAKE = "intake"
    BRANCH = "branch"
    SETUP = "setup"
    RED = "red"
    EDIT = "edit"
    GREEN = "green"
    CHECKS = "checks"
    COMMIT = "commit"
    EVIDENCE = "evidence"
    PUBLISH = "publish"
    DONE = "done"


class MissionOutcome(StrEnum):
    """How a mission ended (``missions/model.py`` calls it ``Outcome``)."""

    GREEN = "green"
    ALREADY_GREEN = "already-green"
    BLOCKED = "blocked"
    FAILED = "failed"
