"""The session's raised risk: set by a prompt-injection flag, cleared only by the user.

After a tool result or fetched page looked like a prompt injection, every call with side
effects (write, edit, bash, http other than GET) asks in every approval mode, ``full-auto``
included, until the user clears the flag (``/clear-risk`` in the app and the line REPL). Nothing
the model does can clear it. A resumed session whose history holds a flagged result starts with
the risk raised again: a clearing is not kept, so the user decides again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tau_engine.safety.injection import InjectionHit


@dataclass(frozen=True, slots=True)
class InjectionFlag:
    """One flagged span of one tool result."""

    rule: str
    category: str
    excerpt: str
    source: str  # the provenance of the text: "file:notes.md", "http:https://…", "bash:…"
    tool: str = ""
    call_id: str = ""

    def to_meta(self) -> dict[str, str]:
        """How the flag is kept in the tool message's ``meta`` (and read back on resume)."""
        return {"rule": self.rule, "category": self.category, "excerpt": self.excerpt}


def flags_from_hits(
    hits: Sequence[InjectionHit], *, source: str, tool: str = "", call_id: str = ""
) -> list[InjectionFlag]:
    return [InjectionFlag(h.rule, h.category, h.excerpt, source, tool, call_id) for h in hits]


def describe_flags(flags: Sequence[InjectionFlag]) -> str:
    """``ignore-instructions, hidden-html-comment in file:README.md``: rules and where."""
    rules = ", ".join(dict.fromkeys(f.rule for f in flags))
    sources = ", ".join(dict.fromkeys(f.source for f in flags))
    return f"{rules} in {sources}"


@dataclass
class RiskState:
    """Whether side effects ask in every mode, and which flags raised that."""

    flags: list[InjectionFlag] = field(default_factory=list)

    @property
    def raised(self) -> bool:
        return bool(self.flags)

    def raise_for(self, flags: Iterable[InjectionFlag]) -> None:
        self.flags.extend(flags)

    def clear(self) -> int:
        """Clear the flag (the user's decision); returns how many flags it held."""
        count = len(self.flags)
        self.flags.clear()
        return count

    def summary(self) -> str:
        """One line for the status view: what raised the risk, or '' when it is not raised."""
        if not self.flags:
            return ""
        return f"possible prompt injection ({describe_flags(self.flags[-3:])})"

    def restore(self, metas: Iterable[dict[str, Any]]) -> None:
        """Raise the risk again for flagged results of a resumed session's history."""
        for meta in metas:
            for item in meta.get("injection") or []:
                if isinstance(item, dict):
                    self.flags.append(
                        InjectionFlag(
                            str(item.get("rule", "?")),
                            str(item.get("category", "?")),
                            str(item.get("excerpt", "")),
                            str(meta.get("source", "tool")),
                            str(meta.get("tool", "")),
                        )
                    )
