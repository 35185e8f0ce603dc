"""``ApprovalModal``: what a tool wants to do, why tau asks, and the user's answer.

Allow once (``y``), Allow for this session (``a``), Always allow (``A``), Deny
(``n`` or Esc). The modal is dismissed with an ``ApprovalDecision``; the screen
that pushed it resolves the engine's future with that value.

The "why" line names the rule or setting that asks and the file and line it is
written in. "Allow for this session" and "Always allow" add one permission
rule decided by the engine (``ApprovalRequest.rule``, e.g. ``bash(touch *)``):
the modal shows it and how much it covers ("matches any `touch` invocation");
"always" saves it in ``.tau/permissions.toml``. When no rule can allow the call
(tau cannot judge part of a command) neither is offered. After a prompt-
injection flag the raised risk is shown too. The choices never scroll away: the
preview (a diff can be long) scrolls between the header and the choices, and on
a small terminal the buttons give way to one line of keys.
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

KIND_TITLES = {
    "edit": "change files",
    "exec": "run a command",
    "network": "make a network request",
    "read": "read files",
}


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


def why_line(request: ApprovalRequest) -> Content:
    """Why tau asks: the rule or setting, and where it is written."""
    return Content.assemble(("why: ", "bold"), request.reason)


def scope_line(request: ApprovalRequest) -> Content:
    """The rule "allow for this session" and "always allow" would add, or why neither is
    offered."""
    if request.rule is None:
        why = request.no_rule_reason or "this call can only be allowed once"
        return Content(f"allow for session is not offered: {why}")
    return Content.assemble(
        ("a", "bold $text-accent"),
        " allows ",
        (request.rule, "bold"),
        " for this session · ",
        ("A", "bold $text-accent"),
        f" saves it to {request.save_to}",
    )


def breadth_line(request: ApprovalRequest) -> Content:
    """How much the rule covers: the warning to read before allowing more than once."""
    return Content.assemble(
        ("⚠ ", "$text-warning"), (request.rule or "", "bold"), " ", request.breadth
    )


def keys_line(request: ApprovalRequest) -> Content:
    """The choices as one line of keys, for terminals too small for buttons."""
    parts: list[tuple[str, str] | str] = [("y", "bold $text-success"), " allow"]
    if request.rule is not None:
        parts += [
            " · ",
            ("a", "bold $text-accent"),
            " session · ",
            ("A", "bold $text-accent"),
            " always",
        ]
    parts += [" · ", ("n", "bold $text-error"), " deny"]
    return Content.assemble(*parts)


class ApprovalModal(ModalScreen[ApprovalDecision]):
    """Asks the user to allow or deny one tool call."""

    # Below these sizes the buttons give way to a one-line key legend.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (72, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (22, "-tall")]

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
        padding: 0 2;
    }
    ApprovalModal.-narrow #approval-box, ApprovalModal.-short #approval-box {
        width: 100%;
        max-height: 100%;
        padding: 0 1;
    }
    #approval-title { text-style: bold; color: $text-warning; }
    #approval-reason { color: $text-muted; }
    #approval-risk { color: $text-error; text-style: bold; }
    #approval-breadth { color: $text-warning; }
    #approval-scope.-once-only { color: $text-muted; }
    #approval-header { padding-bottom: 1; }
    #approval-preview {
        height: auto;
        max-height: 1fr;
        background: $boost;
        padding: 0 1;
    }
    #approval-header { dock: top; height: auto; }
    #approval-choices {
        dock: bottom;
        height: auto;
        margin-top: 1;
    }
    #approval-buttons { height: auto; align-horizontal: center; }
    #approval-buttons Button { margin: 0 1; min-width: 12; }
    #approval-keys { display: none; text-align: center; }
    ApprovalModal.-narrow #approval-buttons, ApprovalModal.-short #approval-buttons {
        display: none;
    }
    ApprovalModal.-narrow #approval-keys, ApprovalModal.-short #approval-keys {
        display: block;
    }
    ApprovalModal.-narrow #approval-choices, ApprovalModal.-short #approval-choices {
        margin-top: 0;
    }
    """

    BINDINGS = [
        Binding(
            "y",
            "decide('allow_once')",
            "Allow once",
            id="approval.allow_once",
            tooltip="Run this call once",
        ),
        Binding(
            "a",
            "decide('allow_session')",
            "Allow for session",
            id="approval.allow_session",
            tooltip="Add the rule shown: calls it covers run unasked for this session",
        ),
        Binding(
            "A",
            "decide('allow_always')",
            "Always allow",
            id="approval.allow_always",
            tooltip="Save the rule shown in .tau/permissions.toml: it allows such calls "
            "from now on",
        ),
        Binding(
            "n,escape",
            "decide('deny')",
            "Deny",
            id="approval.deny",
            tooltip="Do not run it; the model is told you said no",
        ),
        Binding(
            "up",
            "scroll_preview(-1)",
            "Scroll up",
            show=False,
            id="approval.up",
            tooltip="Scroll the preview up a line",
        ),
        Binding(
            "down",
            "scroll_preview(1)",
            "Scroll down",
            show=False,
            id="approval.down",
            tooltip="Scroll the preview down a line",
        ),
        Binding(
            "pageup",
            "scroll_preview(-10)",
            "Page up",
            show=False,
            id="approval.page_up",
            tooltip="Scroll the preview up a page",
        ),
        Binding(
            "pagedown",
            "scroll_preview(10)",
            "Page down",
            show=False,
            id="approval.page_down",
            tooltip="Scroll the preview down a page",
        ),
    ]

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        request = self.request
        wants = KIND_TITLES.get(request.kind, request.kind)
        with Vertical(id="approval-box"):
            with Vertical(id="approval-header"):
                yield Static(Content(f"{request.tool} wants to {wants}"), id="approval-title")
                yield Static(why_line(request), id="approval-reason")
                if request.risk:
                    yield Static(Content(f"raised risk: {request.risk}"), id="approval-risk")
                yield Static(
                    scope_line(request),
                    id="approval-scope",
                    classes="-once-only" if request.rule is None else "",
                )
                if request.rule is not None:
                    yield Static(breadth_line(request), id="approval-breadth")
            with Vertical(id="approval-choices"):
                with Horizontal(id="approval-buttons"):
                    yield Button(Content("Allow once (y)"), id="allow_once", variant="success")
                    yield Button(
                        Content("Session (a)"),
                        id="allow_session",
                        variant="primary",
                        disabled=request.rule is None,
                    )
                    yield Button(
                        Content("Always (A)"),
                        id="allow_always",
                        variant="warning",
                        disabled=request.rule is None,
                    )
                    yield Button(Content("Deny (n)"), id="deny", variant="error")
                yield Static(keys_line(request), id="approval-keys")
            with VerticalScroll(id="approval-preview"):
                yield Static(render_preview(request))

    def on_mount(self) -> None:
        self.query_one("#allow_once", Button).focus()

    def action_scroll_preview(self, lines: int) -> None:
        preview = self.query_one("#approval-preview", VerticalScroll)
        if abs(lines) > 1:
            lines = (1 if lines > 0 else -1) * max(1, preview.scrollable_content_region.height - 1)
        preview.scroll_relative(y=lines, animate=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id:
            self.action_decide(event.button.id)

    def action_decide(self, choice: str) -> None:
        decision = ApprovalDecision(choice)
        if (
            decision in (ApprovalDecision.ALLOW_SESSION, ApprovalDecision.ALLOW_ALWAYS)
            and self.request.rule is None
        ):
            self.notify("This call can only be allowed once (y) or denied (n).", severity="warning")
            return
        self.dismiss(decision)
