"""``MissionCard``: a ``/mission`` in the transcript, live.

It shows each phase as it happens (each edit attempt and its GREEN check
numbered), the outcome (green, already-green, blocked with its reason and unblock
command, failed, or stopped with how to resume) and the timings. Focused (it is
when the mission starts), one key does each next step: copy the evidence folder,
copy the commands that publish it (PR.md's ``git push`` and ``gh pr create``), copy
the unblock or resume command, show PR.md, stop the mission. Any other key goes
back to the prompt and is typed there. The notes quote commands and model output:
they are stripped of terminal controls.
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widget import Widget

from tau_engine.text.terminal import strip_terminal_controls as plain
from tau_tui.widgets.mission_entry import MissionEntry, PhaseRow
from tau_tui.widgets.tool_card import format_duration

ROW_ICONS = {
    "running": ("◌", "$tool-running"),
    "done": ("✓", "$tool-ok"),
    "stopped": ("■", "$text-warning"),
}
OUTCOME_STYLES = {
    "green": ("✓", "$tool-ok"),
    "already-green": ("✓", "$tool-ok"),
    "blocked": ("⊘", "$text-warning"),
    "failed": ("✗", "$tool-error"),
}
NOTE_MAX_CHARS = 160
CARD_KEYS = frozenset("egupx")
# (key, long words, short words): each shown only when it does something for the card.
KEYS = (
    ("e", "copy evidence path", "evidence"),
    ("g", "copy gh command", "gh"),
    ("u", "copy unblock command", "unblock"),
    ("u", "copy resume command", "resume"),
    ("p", "PR.md", "PR.md"),
    ("x", "stop", "stop"),
)


def _seconds(value: float | None) -> str:
    return "" if value is None else format_duration(value * 1000)


ROW_PREFIX = 22  # "  ✓ green #1   650ms  ": the note starts after it


def _row(row: PhaseRow, width: int) -> Content:
    icon, style = ROW_ICONS[row.status]
    # One line per phase: the note is cut to the card (the evidence has it whole).
    note = _clip(plain(" ".join(row.note.split())), min(NOTE_MAX_CHARS, width - ROW_PREFIX))
    if row.status == "running":
        note = note or "running…"
    elif row.status == "stopped":
        note = note or "stopped"
    return Content.assemble(
        "  ",
        (icon, style),
        " ",
        (f"{row.label:<9}", "bold"),
        (f" {_seconds(row.duration_s):>6}  ", "$text-muted"),
        (note, "$text-muted" if row.status == "done" else style),
    )


def _line(indent: int, *parts: str | tuple[str, str] | Content) -> Content:
    # The indent is its own unstyled span: a styled leading run of spaces was not drawn.
    return Content.assemble(" " * indent, *parts)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def _hanging(label: str, text: str, style: str, width: int) -> list[Content]:
    """``text`` after ``label`` at 4 cells in, its wrapped lines under its start (the
    commands are copied with a key, whole, whatever their display)."""
    import textwrap

    indent = 4 + len(label)
    parts = textwrap.wrap(
        text, max(20, width - indent), break_on_hyphens=False, break_long_words=True
    ) or [""]
    first = _line(4, (label, "$text-muted"), (parts[0], style))
    return [first, *(_line(indent, (part, style)) for part in parts[1:])]


def _outcome(entry: MissionEntry, width: int) -> list[Content]:
    took = _seconds(entry.elapsed_s)
    if entry.error is not None:
        return [_line(2, (f"✗ {plain(entry.error)}", "$text-error"))]
    if entry.running:
        return []
    if entry.stopped:
        where = entry.current_phase or "intake"
        lines = [_line(2, (f"■ stopped in phase {where}  {took}", "$text-warning"))]
    else:
        icon, style = OUTCOME_STYLES.get(entry.outcome or "", ("?", "$text-muted"))
        head = f"{icon} {entry.outcome}" + (f" ({entry.reason})" if entry.reason else "")
        if entry.commit:
            head += f" · committed {entry.commit[:12]} on {entry.branch}"
        lines = [_line(2, (head, f"bold {style}"), (f"  {took}", "$text-muted"))]
        if entry.message and entry.outcome in ("blocked", "failed"):
            lines += _hanging("", plain(entry.message), style, width)
    follow = entry.next_command
    if follow:
        label = "to unblock" if entry.outcome == "blocked" else "to resume"
        lines += _hanging(f"{label}  ", plain(follow), "", width)
    if entry.evidence_dir is not None and not entry.stopped:
        lines += _hanging("evidence  ", plain(str(entry.evidence_dir)), "", width)
    return lines


def keys_hint(entry: MissionEntry, *, short: bool = False) -> str:
    """The card's keys that do something now: evidence and PR.md once there is evidence,
    gh for a green mission, the unblock or resume command, stop while it runs."""
    usable = {
        "copy evidence path": entry.evidence_dir is not None,
        "copy gh command": bool(entry.publish_commands),
        "copy unblock command": entry.outcome == "blocked" and bool(entry.unblock_command),
        "copy resume command": entry.stopped and entry.mission_id is not None,
        "PR.md": entry.evidence_dir is not None,
        "stop": entry.running,
    }
    words = [f"{key} {brief if short else long}" for key, long, brief in KEYS if usable[long]]
    if not entry.publish_commands:  # no PR.md: p shows report.json
        words = [w.replace("p PR.md", "p report") for w in words]
    words.append("esc stop" if entry.running else "esc back")
    return " · ".join(words)


def render_mission_card(entry: MissionEntry, *, focused: bool = False, width: int = 200) -> Content:
    """The card: its title line, one line per phase, the outcome, and its keys if focused;
    ``width`` is the card's, in cells."""
    ident = f" {entry.mission_id}" if entry.mission_id else ""
    title = plain(entry.title or entry.task or "(the last prompt)")
    state = "running" if entry.running else ""
    lines = [
        Content.assemble(
            ("◆ ", "$accent"),
            (f"mission{ident}", "bold"),
            "  ",
            (_clip(title, max(10, width - len(ident) - 20)), "$text-secondary"),
            (f"  {state}" if state else "", "$tool-running"),
        )
    ]
    lines += [_row(row, width) for row in entry.rows]
    lines += _outcome(entry, width)
    if focused:
        lines.append(_line(2, (keys_hint(entry, short=width < 100), "$text-muted italic")))
    return Content("\n").join(lines)


class MissionCard(Widget, can_focus=True):
    """A mission, live. Its keys act on it when it has focus."""

    DEFAULT_CSS = """
    MissionCard {
        height: auto;
        width: 1fr;
        padding: 0 1;
        margin: 1 0 0 0;
        border-left: outer $accent;
    }
    MissionCard:focus {
        background: $primary 15%;
    }
    """

    BINDINGS = [
        Binding("e", "copy_evidence", "Copy evidence path", id="mission.copy_evidence"),
        Binding("g", "copy_publish", "Copy gh command", id="mission.copy_gh"),
        Binding("u", "copy_next", "Copy unblock/resume command", id="mission.copy_next"),
        Binding("p", "show_report", "Show PR.md", id="mission.show_report"),
        Binding("x", "stop", "Stop mission", id="mission.stop"),
        Binding("escape", "leave", "Stop / back", id="mission.escape"),
    ]

    class StopRequested(Message):
        """Stop this (running) mission."""

        def __init__(self, entry: MissionEntry) -> None:
            super().__init__()
            self.entry = entry

    class ReportWanted(Message):
        """Show this mission's PR.md (or its report)."""

        def __init__(self, entry: MissionEntry) -> None:
            super().__init__()
            self.entry = entry

    class Left(Message):
        """Focus goes back to the prompt, with the character typed on the card (if any)."""

        def __init__(self, character: str | None) -> None:
            super().__init__()
            self.character = character

    def __init__(self, entry: MissionEntry) -> None:
        super().__init__(id=f"entry-{entry.uid}")
        self.entry = entry

    def render(self) -> Content:
        # The card's width less its padding and border (the gutter).
        width = (self.size.width - self.styles.gutter.width) or 200
        return render_mission_card(self.entry, focused=self.has_focus, width=width)

    def update_entry(self) -> None:
        self.refresh(layout=True)

    def on_focus(self) -> None:
        self.refresh(layout=True)

    def on_blur(self) -> None:
        self.refresh(layout=True)

    def _copy(self, text: str | None, what: str) -> None:
        if not text:
            self.notify(f"this mission has no {what} yet", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"copied: {text}", timeout=4)

    def action_copy_evidence(self) -> None:
        path = self.entry.evidence_dir
        self._copy(str(path) if path is not None else None, "evidence folder")

    def action_copy_publish(self) -> None:
        # PR.md lists both: the branch must be pushed before gh can open the PR.
        self._copy(" && ".join(self.entry.publish_commands), "PR.md (only a green mission has)")

    def action_copy_next(self) -> None:
        self._copy(self.entry.next_command, "unblock or resume command")

    def action_show_report(self) -> None:
        if self.entry.evidence_dir is None:
            self.notify("the mission has no evidence yet", severity="warning")
            return
        self.post_message(self.ReportWanted(self.entry))

    def action_stop(self) -> None:
        if not self.entry.running:
            self.notify("the mission is not running", severity="warning")
            return
        self.post_message(self.StopRequested(self.entry))

    def action_leave(self) -> None:
        if self.entry.running:
            self.action_stop()
        else:
            self.post_message(self.Left(None))

    def on_key(self, event: events.Key) -> None:
        # A key the card does not use starts a prompt: the user is typing, not lost.
        if event.is_printable and event.character and event.key not in CARD_KEYS:
            event.stop()
            event.prevent_default()
            self.post_message(self.Left(event.character))
        elif event.key == "enter":
            event.stop()
            self.post_message(self.Left(None))
