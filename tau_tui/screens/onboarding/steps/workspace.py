"""Step 4, workspace: where ``.tau/`` is created, with the ``.gitignore`` that keeps it
out of commits."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Static

from tau_tui.screens.onboarding.steps.base import WizardStep


class WorkspaceStep(WizardStep):
    """What tau keeps in the workspace (nothing is created before Write)."""

    title = "Workspace"
    hint = "tau keeps its state for this project in .tau/ at the workspace root."

    def compose(self) -> ComposeResult:
        yield Static("", id="workspace-text")

    def show(self) -> None:
        root = self.context.workspace
        state = "exists and is kept" if self.context.state_exists else "will be created (mode 0755)"
        lines = [
            Content.assemble(("Workspace  ", "bold"), str(root)),
            Content.assemble(("State      ", "bold"), f"{root / '.tau'}/ {state}"),
            Content.assemble(
                ("           ", ""),
                (
                    ".tau/.gitignore keeps it out of commits (sessions, checkpoints, logs)",
                    "$text-muted",
                ),
            ),
            Content.assemble(
                ("Keys       ", "bold"), ("never stored in the workspace", "$text-muted")
            ),
            Content(""),
            Content.assemble(
                ("Another folder? Cancel (Esc) and run tau onboard -w DIR.", "$text-muted")
            ),
        ]
        self.query_one("#workspace-text", Static).update(Content("\n").join(lines))
