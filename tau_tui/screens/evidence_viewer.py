"""A mission's PR.md (or, without one, its report.json), read-only in a modal.

Evidence quotes commands and model output: it is shown as plain text, stripped
of terminal controls, never as markup. The file is read by the caller, in a thread.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from tau_engine.text.terminal import strip_terminal_controls
from tau_tui.screens.pickers import PICKER_CSS

MAX_CHARS = 200_000  # a page, not a pager: the folder holds the whole file
SHOWN_FILES = ("PR.md", "report.json")


def read_evidence(folder: Path) -> tuple[str, str]:
    """The file to show from a mission's evidence folder, and its text (blocking)."""
    for name in SHOWN_FILES:
        path = folder / name
        if path.is_file() and not path.is_symlink():
            with path.open(encoding="utf-8", errors="replace") as handle:
                return name, handle.read(MAX_CHARS)
    return "", f"no {' or '.join(SHOWN_FILES)} in {folder}"


class EvidenceViewer(ModalScreen[None]):
    """One evidence file; escape, q or enter closes it."""

    CSS = (
        "EvidenceViewer { align: center middle; background: $background 60%; }\n"
        + PICKER_CSS
        + "#evidence-body { height: auto; max-height: 70vh; }\n"
        "#evidence-text { padding: 0 1; }\n"
    )

    BINDINGS = [
        Binding("escape", "close", "Close", id="evidence.close", tooltip="Close the file"),
        Binding("q", "close", "Close", show=False, id="evidence.quit"),
        Binding("enter", "close", "Close", show=False, id="evidence.enter"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="picker-box"):
            yield Static(Content(self.title_text), classes="picker-title")
            with VerticalScroll(id="evidence-body"):
                yield Static(Content(strip_terminal_controls(self.text)), id="evidence-text")
            yield Static("esc close · ↑/↓ scroll", classes="picker-hint")

    def on_mount(self) -> None:
        self.query_one("#evidence-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
