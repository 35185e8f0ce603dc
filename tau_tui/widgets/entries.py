"""The transcript's data: one plain record per thing shown (prompt, answer, tool call, notice).

The transcript keeps every entry of the session in memory as these light
records and mounts widgets only for the entries near the viewport; a widget is
always rebuilt from its entry, so unmounting and remounting loses nothing.
Building entries from stored messages (``entries_from_history``) is how a
resumed session, or an undo, re-renders from the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tau_engine.tools.label import tool_label
from tau_tui.widgets.entry_ids import next_entry_id
from tau_tui.widgets.mission_entry import MissionEntry

if TYPE_CHECKING:
    from tau_engine.conversation import StoredMessage


ToolStatus = Literal["running", "waiting", "ok", "error", "denied", "interrupted"]
NoticeLevel = Literal["info", "warning", "error"]


def _next_uid() -> int:
    return next_entry_id()


@dataclass(eq=False)
class UserEntry:
    """A prompt the user sent (as typed), with the files its ``@`` mentions attached."""

    text: str
    attachments: list[str] = field(default_factory=list)
    uid: int = field(default_factory=_next_uid)


@dataclass(eq=False)
class AssistantEntry:
    """An answer of the model: Markdown, possibly still streaming."""

    text: str = ""
    streaming: bool = False
    interrupted: bool = False
    incomplete: bool = False
    thinking: str = ""
    uid: int = field(default_factory=_next_uid)


@dataclass(eq=False)
class ToolEntry:
    """One tool call and, once it ran, its result."""

    call_id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    status: ToolStatus = "running"
    output: str = ""
    diff: str | None = None
    duration_ms: float | None = None
    expanded: bool = False
    uid: int = field(default_factory=_next_uid)

    @property
    def target(self) -> str:
        """What the call acts on, as one line: a path, a command, a URL or a pattern."""
        return tool_label(self.name, self.arguments).value


@dataclass(eq=False)
class NoticeEntry:
    """A line that is not part of the conversation: a retry, a fallback, an error, help."""

    message: str
    kind: str = "info"
    level: NoticeLevel = "info"
    uid: int = field(default_factory=_next_uid)


Entry = UserEntry | AssistantEntry | ToolEntry | NoticeEntry | MissionEntry


def entries_from_history(messages: Iterable[StoredMessage]) -> list[Entry]:
    """The transcript of stored messages (root to head), as the live view would show it."""
    entries: list[Entry] = []
    tools: dict[str, ToolEntry] = {}
    for stored in messages:
        message = stored.message
        meta = message.meta or {}
        if meta.get("compaction"):
            entries.append(
                NoticeEntry(
                    "earlier turns were compacted into a summary for the "
                    "model; they stay shown above",
                    kind="compaction",
                )
            )
            continue
        if message.role == "user":
            typed = meta.get("typed")
            attached = meta.get("attachments")
            entries.append(
                UserEntry(
                    typed if isinstance(typed, str) else message.content,
                    [str(p) for p in attached] if isinstance(attached, list) else [],
                )
            )
        elif message.role == "assistant":
            if message.content.strip() or meta.get("interrupted"):
                entries.append(
                    AssistantEntry(
                        text=message.content,
                        interrupted=bool(meta.get("interrupted")),
                        incomplete=bool(meta.get("incomplete")),
                        thinking=str((message.extra or {}).get("thinking", "")),
                    )
                )
            for call in message.tool_calls:
                tool = ToolEntry(
                    call_id=call.id, name=call.name, arguments=call.arguments, status="interrupted"
                )
                tools[call.id] = tool
                entries.append(tool)
        elif message.role == "tool" and message.tool_call_id:
            tool = tools.get(message.tool_call_id) or ToolEntry(
                call_id=message.tool_call_id, name=message.name or "tool"
            )
            if tool.call_id not in tools:
                entries.append(tool)
            tool.output = message.content
            diff = meta.get("diff")
            tool.diff = diff if isinstance(diff, str) else None
            if meta.get("denied"):
                tool.status = "denied"
            elif meta.get("interrupted"):
                tool.status = "interrupted"
            else:
                tool.status = "error" if message.is_error else "ok"
    return entries
