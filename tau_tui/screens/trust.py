"""``TrustModal``: asks once whether tau may load a workspace's own settings files.

Shown before the engine starts, only when the workspace has settings that need
trust (they could redirect the user's API keys or widen what tau may do) and
the user never decided about it. It lists each setting, the file it comes
from and why it needs trust. Trust (``t``) or Don't trust (``n``/Esc); the
answer is kept in the user config dir (``tau trust [--revoke]`` changes it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

if TYPE_CHECKING:
    from tau_engine.config import Withheld


def render_items(items: list[Withheld]) -> Content:
    """One line per setting: key = value, then where it comes from and why it matters."""
    lines = []
    for item in items:
        lines.append(
            Content.assemble(
                (item.key, "bold"),
                " = ",
                item.shown_value(),
                ("  from ", "$text-muted"),
                (item.source, "$text-accent"),
                (f"  {item.reason}", "$text-muted"),
            )
        )
    return Content("\n").join(lines)


class TrustModal(ModalScreen[bool]):
    """Trust this workspace? Dismissed with True (trust) or False (don't)."""

    CSS = """
    TrustModal { align: center middle; background: $background 60%; }
    #trust-box {
        width: 90%;
        max-width: 110;
        height: auto;
        max-height: 90%;
        border: thick $warning;
        background: $surface;
        padding: 1 2;
    }
    #trust-title { text-style: bold; color: $text-warning; }
    #trust-items { height: auto; max-height: 12; background: $boost; padding: 0 1;
        margin: 1 0; }
    #trust-why { color: $text-muted; }
    #trust-buttons { height: auto; margin-top: 1; align-horizontal: center; }
    #trust-buttons Button { margin: 0 1; min-width: 16; }
    """

    BINDINGS = [
        Binding(
            "t",
            "decide(True)",
            "Trust",
            id="trust.yes",
            tooltip="Load these settings now and in later runs",
        ),
        Binding(
            "n,escape",
            "decide(False)",
            "Don't trust",
            id="trust.no",
            tooltip="Keep ignoring them; tau will not ask again",
        ),
    ]

    def __init__(self, workspace_label: str, items: list[Withheld]) -> None:
        super().__init__()
        self.workspace_label = workspace_label
        self.items = items

    def compose(self) -> ComposeResult:
        with Vertical(id="trust-box"):
            yield Static(
                Content(f"Trust the settings files of {self.workspace_label}?"), id="trust-title"
            )
            yield Static(Content("This workspace sets what tau ignores until you trust it:"))
            with VerticalScroll(id="trust-items"):
                yield Static(render_items(self.items))
            yield Static(
                Content(
                    "Trust it only if you trust where it came from: these settings can send your "
                    "API keys to another server or let tau do more without asking. tau asks once; "
                    "run tau trust or tau trust --revoke to change your answer."
                ),
                id="trust-why",
            )
            with Horizontal(id="trust-buttons"):
                yield Button(Content("Trust (t)"), id="trust", variant="warning")
                yield Button(Content("Don't trust (n)"), id="dont", variant="primary")

    def on_mount(self) -> None:
        # The safe answer has the focus: Enter alone never grants trust.
        self.query_one("#dont", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_decide(event.button.id == "trust")

    def action_decide(self, trusted: bool) -> None:
        self.dismiss(trusted)
