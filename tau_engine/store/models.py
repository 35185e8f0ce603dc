"""The store's backend-neutral data: session summaries, messages to append, undo/redo
reports and mission rows. Every backend takes and hands back these types.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field

from tau_engine.conversation import Message, Usage

TITLE_MAX_CHARS = 60


class _Head(Enum):
    HEAD = "head"


HEAD: Literal[_Head.HEAD] = _Head.HEAD
"""Default ``parent_id`` of ``append``: continue from the session's current head."""

ParentRef = str | None | Literal[_Head.HEAD]


def new_session_id() -> str:
    """A fresh session id: 32 lowercase hex digits."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class NewMessage:
    """One message to append, with what its provider call cost (if it was one)."""

    message: Message
    usage: Usage | None = None
    cost_usd: float | None = None
    model: str | None = None


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
        return f"{self.shell_commands} shell command(s) of the redone turns were not run again."

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


@dataclass(frozen=True)
class MissionRow:
    """One stored mission: its whole record (``state``, the mission's JSON) and the
    columns lists and status views sort and filter on."""

    id: str
    created_at: float
    updated_at: float
    title: str
    phase: str
    outcome: str | None
    reason: str | None
    commit: str | None
    state: dict[str, Any]
    revision: int = 0
