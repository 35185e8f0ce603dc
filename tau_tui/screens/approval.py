"""``ApprovalModal``: what a tool wants to do, why tau asks, and the user's answer.

Allow once (``y``), Allow for this session (``a``), Deny (``n`` or Esc). The
modal is dismissed with an ``ApprovalDecision``; the screen that pushed it
resolves the engine's future with that value.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tau_engine.safety.policy import ApprovalDecision, ApprovalRequest
from tau_tui.widgets.diff import render_diff

KIND_TITLES = {"edit": "change files", "exec": "run a command",
               "network": "make a network request", "read": "read files"}


def _looks_like_diff(text: str) -> bool:
    return text.startswith(("--- ", "diff ", "@@")) or "\n@@ " in text


def render_preview(request: ApprovalRequest) -> Content:
    """The command, the diff or the URL the user is asked about."""
    preview = request.preview.rstrip("\n")
    if not preview:
        return Content.styled("(no preview)", "$text-muted")
    if _looks_like_diff(preview):
        return render_diff(preview, max_lines=400)
    if request.kind == "exec":
        return Content.assemble(("$ ", "bold $text-accent"), preview)
    return Content(preview)


class ApprovalModal(ModalScreen[ApprovalDecision]):
    """Asks the user to allow or deny one tool call."""

    CSS = """
    ApprovalModal {
        align: center middle;
        background: $background 60%;
    }
    #approval-box {
        width: 90%;
        max-width: 110;
        height: auto;
        max-height: 90%;
        border: thick $warning;
        background: $surface;
        padding: 1 2;
    }
    #approval-title { text-style: bold; color: $text-warning; }
    #approval-reason { color: $text-muted; margin-bottom: 1; }
    #approval-preview {
        height: auto;
        max-height: 24;
        background: $boost;
        padding: 0 1;
    }
    #approval-buttons { height: auto; margin-top: 1; align-horizontal: center; }
    #approval-buttons Button { margin: 0 1; min-width: 16; }
    """

    BINDINGS = [
        Binding("y", "decide('allow_once')", "Allow once", id="approval.allow_once",
                tooltip="Run this call once"),
        Binding("a", "decide('allow_session')", "Allow for session", id="approval.allow_session",
                tooltip="Run this tool without asking again in this session"),
        Binding("n,escape", "decide('deny')", "Deny", id="approval.deny",
                tooltip="Do not run it; the model is told you said no"),
    ]

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        request = self.request
        wants = KIND_TITLES.get(request.kind, request.kind)
        with Vertical(id="approval-box"):
            yield Static(Content(f"{request.tool} wants to {wants}"), id="approval-title")
            yield Static(Content(request.reason), id="approval-reason")
            with VerticalScroll(id="approval-preview"):
                yield Static(render_preview(request))
            with Horizontal(id="approval-buttons"):
                yield Button(Content("Allow once (y)"), id="allow_once", variant="success")
                yield Button(Content("Allow for session (a)"), id="allow_session",
                             variant="primary")
                yield Button(Content("Deny (n)"), id="deny", variant="error")

    def on_mount(self) -> None:
        self.query_one("#allow_once", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id:
            self.action_decide(event.button.id)

    def action_decide(self, choice: str) -> None:
        self.dismiss(ApprovalDecision(choice))
