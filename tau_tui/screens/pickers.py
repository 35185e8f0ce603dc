"""Modal pickers: a filterable choice list (models, themes, approval modes) and sessions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tau_engine.commands import Choice

if TYPE_CHECKING:
    from tau_engine.store import SessionInfo

__all__ = ["PICKER_CSS", "Choice", "ChoicePicker", "SessionPicker"]

PICKER_CSS = """
.picker-box {
    width: 90%;
    max-width: 100;
    height: auto;
    max-height: 85%;
    border: round $primary;
    background: $surface;
    padding: 0 1;
}
.picker-title { text-style: bold; color: $text-primary; padding: 0 1; }
.picker-hint { color: $text-muted; padding: 0 1; }
.picker-box OptionList { height: auto; max-height: 60vh; border: none; }
.picker-box Input { border: none; height: 1; padding: 0 1; background: $boost;
    margin-bottom: 1; }
"""


class ChoicePicker(ModalScreen[str | None]):
    """Pick one value from a list; typing filters it. Dismissed with the value or None."""

    CSS = "ChoicePicker { align: center middle; background: $background 60%; }\n" + PICKER_CSS

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel", tooltip="Close without choosing"),
        Binding("down", "move(1)", "Next", show=False, id="picker.next"),
        Binding("up", "move(-1)", "Previous", show=False, id="picker.previous"),
    ]

    def __init__(
        self,
        title: str,
        choices: Sequence[Choice],
        *,
        current: str | None = None,
        filterable: bool = True,
        note: str = "",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.note = note  # a muted line under the title
        self.choices = list(choices)
        self.current = current
        self.filterable = filterable
        self._shown: list[Choice] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="picker-box"):
            yield Static(self.title_text, classes="picker-title")
            if self.note:
                yield Static(Content(self.note), classes="picker-hint")
            if self.filterable:
                yield Input(placeholder="type to filter", id="picker-filter")
            yield OptionList(id="picker-options")
            yield Static("enter choose · esc cancel", classes="picker-hint")

    def on_mount(self) -> None:
        self._fill("")
        if self.filterable:
            self.query_one(Input).focus()
        else:
            self.query_one(OptionList).focus()

    def _fill(self, needle: str) -> None:
        needle = needle.lower().strip()
        self._shown = [
            c
            for c in self.choices
            if not needle or needle in c.value.lower() or needle in c.label.lower()
        ]
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(
            [
                Option(
                    Content.assemble(
                        ("● " if c.value == self.current else "  ", "$text-accent"),
                        (c.label, "bold"),
                        ("  " + c.detail, "$text-muted") if c.detail else "",
                    )
                )
                for c in self._shown
            ]
        )
        if self._shown:
            index = next((i for i, c in enumerate(self._shown) if c.value == self.current), 0)
            options.highlighted = index
            # Before the first layout the list has no height to scroll in: bring the
            # current choice into view once it has.
            options.call_after_refresh(options.scroll_to_highlight)

    @on(Input.Changed, "#picker-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#picker-filter")
    def _submit_filter(self, event: Input.Submitted) -> None:
        highlighted = self.query_one(OptionList).highlighted
        if highlighted is not None and 0 <= highlighted < len(self._shown):
            self.dismiss(self._shown[highlighted].value)

    @on(OptionList.OptionSelected, "#picker-options")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._shown[event.option_index].value)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if self._shown:
            options.highlighted = ((options.highlighted or 0) + step) % len(self._shown)

    def action_cancel(self) -> None:
        self.dismiss(None)


def format_age(seconds: float) -> str:
    """``just now``, ``5m ago``, ``3h ago``, ``2d ago``."""
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    return f"{int(seconds // 86400)}d ago"


class SessionPicker(ModalScreen[tuple[str, str] | None]):
    """Earlier sessions of the workspace: Enter resumes one, ``f`` forks it.

    Dismissed with ``("resume" | "fork", session_id)`` or None.
    """

    CSS = "SessionPicker { align: center middle; background: $background 60%; }\n" + PICKER_CSS

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="sessions.cancel", tooltip="Close"),
        Binding(
            "f",
            "choose('fork')",
            "Fork",
            id="sessions.fork",
            tooltip="Branch the highlighted session into a new one",
        ),
        Binding(
            "r",
            "choose('resume')",
            "Resume",
            id="sessions.resume",
            tooltip="Continue the highlighted session",
        ),
    ]

    def __init__(
        self, sessions: Sequence[SessionInfo], *, current_id: str | None, now: float
    ) -> None:
        super().__init__()
        self.sessions = list(sessions)
        self.current_id = current_id
        self.now = now

    def compose(self) -> ComposeResult:
        with Vertical(classes="picker-box"):
            yield Static("Sessions", classes="picker-title")
            yield OptionList(*[self._option(s) for s in self.sessions], id="session-options")
            yield Static(
                "enter/r resume · f fork · esc cancel"
                if self.sessions
                else "no sessions yet in this workspace · esc close",
                classes="picker-hint",
            )

    def _option(self, session: SessionInfo) -> Option:
        marker = "● " if session.id == self.current_id else "  "
        detail = (
            f"{session.id[:8]} · {session.message_count} messages · "
            f"{session.model or '?'} · {format_age(self.now - session.updated_at)}"
        )
        return Option(
            Content.assemble(
                (marker, "$text-accent"),
                (session.title or "(untitled)", "bold"),
                ("  " + detail, "$text-muted"),
            ),
            id=session.id,
        )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(("resume", event.option.id))

    def action_choose(self, action: str) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None and self.sessions:
            self.dismiss((action, self.sessions[options.highlighted].id))

    def action_cancel(self) -> None:
        self.dismiss(None)
