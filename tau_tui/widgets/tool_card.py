"""``ToolCard``: one tool call as a compact line that expands to its arguments and output.

While a call runs (bash), the card shows the tail of what it has printed so
far under its summary line; an interrupted call keeps that tail. Output is
untrusted: it is stripped of terminal controls before it is shown.
"""

from __future__ import annotations

import json

from textual.binding import Binding
from textual.content import Content
from textual.events import Click
from textual.message import Message
from textual.widget import Widget

from tau_engine.text.terminal import strip_terminal_controls
from tau_tui.widgets.diff import diff_stats, render_diff
from tau_tui.widgets.entries import ToolEntry

STATUS_ICONS = {
    "running": ("◌", "$tool-running"),
    "waiting": ("?", "$tool-running"),
    "ok": ("✓", "$tool-ok"),
    "error": ("✗", "$tool-error"),
    "denied": ("⊘", "$tool-denied"),
    "interrupted": ("■", "$text-muted"),
}
STATUS_WORDS = {"waiting": "waiting for approval", "denied": "denied", "interrupted": "interrupted"}
MAX_ARGUMENT_LINES = 20
MAX_OUTPUT_LINES = 40
MAX_DIFF_LINES = 200
# Lines of a running (or interrupted) call's output shown under its collapsed card.
LIVE_TAIL_LINES = 6
LIVE_STATUSES = ("running", "interrupted")


def format_duration(ms: float) -> str:
    """A short human duration: ``85ms``, ``1.2s``, ``2m05s``."""
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def _clip(text: str, max_lines: int) -> tuple[str, int]:
    lines = text.rstrip("\n").split("\n")
    if len(lines) <= max_lines:
        return "\n".join(lines), 0
    return "\n".join(lines[:max_lines]), len(lines) - max_lines


def _tail(text: str, max_lines: int) -> tuple[str, int]:
    lines = text.rstrip("\n").split("\n")
    if len(lines) <= max_lines:
        return "\n".join(lines), 0
    return "\n".join(lines[-max_lines:]), len(lines) - max_lines


def _live_output(output: str, max_lines: int) -> list[Content]:
    """The last ``max_lines`` lines of a running call's output, under a muted gutter."""
    tail, hidden = _tail(output, max_lines)
    lines = [Content.styled(f"  │ … {hidden} earlier lines", "$text-muted")] if hidden else []
    return lines + [Content.assemble(("  │ ", "$text-muted"), line) for line in tail.split("\n")]


def render_tool_card(entry: ToolEntry) -> Content:
    """The card's content: the summary line and, when expanded, arguments, diff and output."""
    icon, icon_style = STATUS_ICONS[entry.status]
    parts: list[Content | tuple[str, str] | str] = [
        ("▾ " if entry.expanded else "▸ ", "$text-muted"),
        (icon, icon_style),
        " ",
        (entry.name, "bold"),
    ]
    target = strip_terminal_controls(entry.target)
    if target:
        parts += ["  ", (target if len(target) <= 120 else target[:119] + "…", "$text-secondary")]
    if entry.diff:
        added, removed = diff_stats(entry.diff)
        parts += ["  ", (f"+{added}", "$diff-added"), " ", (f"−{removed}", "$diff-removed")]
    if entry.status in STATUS_WORDS:
        parts += ["  ", (STATUS_WORDS[entry.status], icon_style)]
    if entry.duration_ms is not None and entry.status not in ("running", "waiting"):
        parts += ["  ", (format_duration(entry.duration_ms), "$text-muted")]
    summary = Content.assemble(*parts)
    output = strip_terminal_controls(entry.output) if entry.output else ""
    live = entry.status in LIVE_STATUSES and bool(output.strip())
    if not entry.expanded:
        if not live:
            return summary
        return Content("\n").join([summary, *_live_output(output, LIVE_TAIL_LINES)])
    body: list[Content] = [summary]
    if entry.arguments:
        args, hidden = _clip(
            strip_terminal_controls(json.dumps(entry.arguments, indent=2, ensure_ascii=False)),
            MAX_ARGUMENT_LINES,
        )
        body.append(Content.styled("arguments", "$text-muted italic"))
        body.append(Content(args))
        if hidden:
            body.append(Content.styled(f"… {hidden} more lines", "$text-muted"))
    if entry.diff:
        body.append(Content.styled("changes", "$text-muted italic"))
        body.append(render_diff(strip_terminal_controls(entry.diff), MAX_DIFF_LINES))
    if live:
        body.append(Content.styled("output", "$text-muted italic"))
        body += _live_output(output, MAX_OUTPUT_LINES)
    elif output:
        clipped, hidden = _clip(output, MAX_OUTPUT_LINES)
        body.append(Content.styled("output", "$text-muted italic"))
        body.append(Content(clipped))
        if hidden:
            body.append(Content.styled(f"… {hidden} more lines", "$text-muted"))
    elif entry.status in ("ok", "error"):
        body.append(Content.styled("(no output)", "$text-muted"))
    return Content("\n").join(body)


class ToolCard(Widget, can_focus=True):
    """A tool call. Click it, or focus it and press Enter, to show arguments and output."""

    DEFAULT_CSS = """
    ToolCard {
        height: auto;
        width: 1fr;
        padding: 0 1;
    }
    ToolCard.-expanded {
        background: $boost;
    }
    ToolCard:focus {
        background: $primary 15%;
    }
    """

    BINDINGS = [
        Binding(
            "enter,space",
            "toggle_details",
            "Expand",
            id="tool_card.toggle",
            tooltip="Show or hide the call's arguments and output",
        ),
    ]

    class Toggled(Message):
        """The user expanded or collapsed a card."""

        def __init__(self, entry: ToolEntry) -> None:
            super().__init__()
            self.entry = entry

    def __init__(self, entry: ToolEntry) -> None:
        super().__init__(id=f"entry-{entry.uid}")
        self.entry = entry
        self.set_class(entry.expanded, "-expanded")

    def render(self) -> Content:
        return render_tool_card(self.entry)

    def update_entry(self) -> None:
        """Re-render after the entry changed (status, output, expansion)."""
        self.set_class(self.entry.expanded, "-expanded")
        self.refresh(layout=True)

    def action_toggle_details(self) -> None:
        self.entry.expanded = not self.entry.expanded
        self.update_entry()
        self.post_message(self.Toggled(self.entry))

    def on_click(self, event: Click) -> None:
        event.stop()
        self.action_toggle_details()
