"""What the session store hands back: session summaries and undo/redo reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from tau_engine.conversation import Usage

TITLE_MAX_CHARS = 60


class SessionInfo(BaseModel):
    """One session's row: identity, head, usage totals and metadata.

    ``usage`` and ``cost_usd`` are what the session has spent, undone turns
    included; ``cost_usd`` sums the calls whose price was known and is ``None``
    when none was. ``message_count`` counts every branch, not only the head path.
    """

    id: str
    title: str = ""
    model: str = ""
    created_at: float
    updated_at: float
    head_id: str | None = None
    workspace: str = ""
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    message_count: int = 0


@dataclass(frozen=True)
class FileRestoreFailure:
    """A file undo or redo could not put back, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class UndoReport:
    """What one undo or redo did to the conversation and to the workspace."""

    action: Literal["undo", "redo"]
    session_id: str
    messages: int  # messages removed from (undo) or put back on (redo) the head path
    head_id: str | None  # the session's head afterwards
    restored: list[str] = field(default_factory=list)  # workspace-relative paths
    failed: list[FileRestoreFailure] = field(default_factory=list)
    shell_commands: int = 0  # bash calls in the undone or redone turns

    @property
    def note(self) -> str:
        """A plain warning about what neither undo nor redo can reverse, or ``""``."""
        if not self.shell_commands:
            return ""
        if self.action == "undo":
            return (
                f"{self.shell_commands} shell command(s) ran in the undone turns; "
                "their side effects are not undone."
            )
        return (
            f"{self.shell_commands} shell command(s) of the redone turns were not run again."
        )

    def summary(self) -> str:
        """Plain lines for any front end: what moved, what was restored, what was not."""
        verb = "undid" if self.action == "undo" else "redid"
        lines = [f"{verb} {self.messages} message(s) of session {self.session_id[:8]}"]
        if self.restored:
            lines[0] += "; restored " + ", ".join(self.restored)
        lines += [f"could not restore {f.path}: {f.reason}" for f in self.failed]
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (``--json`` output)."""
        return {
            "action": self.action,
            "session_id": self.session_id,
            "messages": self.messages,
            "head_id": self.head_id,
            "restored": list(self.restored),
            "failed": [{"path": f.path, "reason": f.reason} for f in self.failed],
            "shell_commands": self.shell_commands,
            "note": self.note,
        }


def title_from_prompt(prompt: str) -> str:
    """A session title: the prompt's first non-blank line, cut to about 60 characters."""
    for line in prompt.splitlines():
        line = " ".join(line.split())
        if line:
            if len(line) <= TITLE_MAX_CHARS:
                return line
            return line[: TITLE_MAX_CHARS - 1].rstrip() + "…"
    return ""
