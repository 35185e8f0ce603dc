"""Whether the model's memory writes in a session may be trusted.

The rule (docs/memory.md): a memory write by the model is stored *untrusted* (quarantined)
once untrusted content has entered the session, that is from the first result of a tool
that brings in outside content (``http``: a fetched page) that was not denied, or the
first tool result flagged as a possible prompt injection, until the session ends. This
is wider than "after an http call in the same turn": a fetched page stays in the model's
context after the turn that fetched it (and a compaction summary carries what it said),
so a page that says "remember this next time" is caught whenever the model acts on it.
In a tainted session the model also may not retire entries: a poisoned page could
otherwise erase good memory.

The tracker learns this from the engine's event bus (``observe`` is a bus sink: tool call
and tool result events), from the session's stored history when a session is resumed
(``seed``), and from the safety layer (``flag``). It also remembers the id of the tool
call in flight, so an entry records the call that wrote it. ``bash`` output is not
tracked (``curl`` through bash is not recognised); the injection flag covers it once the
safety layer sets it on tool results (``meta["injection"]``).
"""

from __future__ import annotations

from collections.abc import Iterable

from tau_engine.conversation import Message
from tau_engine.events import BaseEvent, ToolCallEvent, ToolResultEvent

UNTRUSTED_TOOLS: dict[str, str] = {
    "http": "this session read a web page fetched with http",
}
"""Tools whose results are outside content, with the reason a later write is untrusted."""

INJECTION_META_KEY = "injection"
"""A tool result message whose ``meta`` has this key set was flagged by the safety layer."""
INJECTION_REASON = "a tool result in this session was flagged as a possible prompt injection"


class WriteProvenance:
    """The trust of the model's memory writes in one session, and the call in flight."""

    def __init__(self, session_id: str = "") -> None:
        self.session_id = session_id
        self.untrusted_reason: str | None = None
        self._calls: dict[str, str] = {}

    @property
    def trusted(self) -> bool:
        return self.untrusted_reason is None

    def flag(self, reason: str) -> None:
        """Mark the session untrusted from now on (the first reason is kept)."""
        if self.untrusted_reason is None:
            self.untrusted_reason = reason

    def seed(self, history: Iterable[Message]) -> None:
        """Taint from a resumed session's stored messages."""
        for message in history:
            if message.role != "tool":
                continue
            if message.meta.get(INJECTION_META_KEY):
                self.flag(INJECTION_REASON)
            elif message.name in UNTRUSTED_TOOLS and not message.meta.get("denied"):
                self.flag(UNTRUSTED_TOOLS[message.name])

    def observe(self, event: BaseEvent) -> None:
        """Bus sink: remember calls, and taint on results of outside content."""
        if self.session_id and event.session_id and event.session_id != self.session_id:
            return
        if isinstance(event, ToolCallEvent):
            self._calls[event.name] = event.call_id
        elif (
            isinstance(event, ToolResultEvent)
            and event.name in UNTRUSTED_TOOLS
            and not event.denied
        ):
            self.flag(UNTRUSTED_TOOLS[event.name])

    def call_id(self, tool_name: str) -> str | None:
        """The id of the latest call of ``tool_name`` (the one running: tools that change
        memory never run in parallel with another call)."""
        return self._calls.get(tool_name)
