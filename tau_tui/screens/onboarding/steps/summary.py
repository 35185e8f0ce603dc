"""Step 7, summary: every choice, every path with its action and mode, and the
``tau onboard --non-interactive`` line that repeats the setup. Nothing is written before
Write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from tau_tui.screens.onboarding.steps.base import WizardStep

if TYPE_CHECKING:
    from tau_engine.onboarding.plan import OnboardingPlan
    from tau_engine.onboarding.writer import PlannedWrite

_ACTION_STYLE = {
    "create": "$text-success",
    "replace": "$text-warning",
    "update": "$text-warning",
    "keep": "$text-muted",
}


def _key_words(plan: OnboardingPlan) -> str:
    if plan.key.kind == "env":
        return f"from the environment variable {plan.key.variable}"
    if plan.key.kind == "typed":
        return "typed (hidden), to be stored in credentials.toml"
    if plan.key.kind == "stored":
        return "the one already in credentials.toml"
    return "none needed"


class SummaryStep(WizardStep):
    """The whole setup, checked by the engine, before Write."""

    title = "Summary"
    hint = "Nothing has been written yet. Write (ctrl+s) writes all of this, or nothing."
    ready = False  # the engine checked the choices and listed the writes

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="summary-scroll"):
            yield Static("", id="summary-text")

    def show(self) -> None:
        self.ready = False
        self.query_one("#summary-text", Static).update(Content("Checking the choices…"))
        self._plan_writes(self.choices.plan(self.context))

    def first_focus(self) -> Widget | None:
        return self.query_one("#summary-scroll")

    @work(exclusive=True, group="onboarding-summary")
    async def _plan_writes(self, plan: OnboardingPlan) -> None:
        import asyncio

        from tau_engine.errors import TauError
        from tau_engine.onboarding.plan import equivalent_command, planned_writes

        try:
            writes = await asyncio.to_thread(planned_writes, plan)
        except TauError as exc:
            self.query_one("#summary-text", Static).update(
                Content.assemble(
                    ("✗ cannot write this setup: ", "bold $text-error"),
                    str(exc),
                    ("\nGo Back and change it.", "$text-muted"),
                )
            )
            return
        self.query_one("#summary-text", Static).update(
            render_summary(plan, writes, equivalent_command(plan))
        )
        self.ready = True


def render_summary(plan: OnboardingPlan, writes: list[PlannedWrite], command: str) -> Content:
    """The summary: choices, then each path with action and mode, then the command."""
    rows = [
        Content.assemble(("Provider  ", "bold"), plan.provider),
        Content.assemble(("Model     ", "bold"), plan.model),
        Content.assemble(("Key       ", "bold"), _key_words(plan)),
        Content.assemble(("Safety    ", "bold"), plan.safety),
        Content.assemble(("Profile   ", "bold"), f"{plan.profile} (made the active one)"),
        Content.assemble(("Verifier  ", "bold"), plan.verifier or "none recorded"),
        Content(""),
        Content.styled("Files (action, mode, path):", "bold"),
    ]
    for write in writes:
        path = f"{write.path}{'/' if write.is_dir else ''}"
        rows.append(
            Content.assemble(
                (f"{write.action:<8}", _ACTION_STYLE[write.action]),
                f"{write.mode_text():<5} ",
                path,
                (f"  {write.what}", "$text-muted"),
            )
        )
    rows += [
        Content(""),
        Content.styled("The same setup in a script or CI:", "bold"),
        Content(command),
    ]
    if plan.replace:
        rows.append(
            Content.styled(
                f"(it keeps existing identity files: replacing "
                f"{', '.join(sorted(plan.replace))} is this wizard's)",
                "$text-muted",
            )
        )
    if plan.replace:
        rows.append(
            Content.styled(
                f"(it keeps existing identity files: replacing "
                f"{', '.join(sorted(plan.replace))} is this wizard's)",
                "$text-muted",
            )
        )
    if plan.key.kind == "typed":
        rows.append(
            Content.styled(
                '(pipe the key into it: printf %s "$KEY" | tau onboard ...)', "$text-muted"
            )
        )
    return Content("\n").join(rows)
