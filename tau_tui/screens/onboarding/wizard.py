"""``OnboardingWizard``: the setup as seven steps, with progress, Back/Next and Esc.

Provider, Key, Model, Workspace, Identity, Safety, Summary. Nothing is written
before Write on the summary; Esc cancels at any step and writes nothing. Write
hands the choices to the engine (``onboarding.plan.write_plan``), which writes
all of them or none, in a thread. The screen is dismissed with what was written
(``WizardOutcome``), or None when cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Input, OptionList, Static

from tau_tui.screens.onboarding.context import (
    STEP_TITLES,
    WizardChoices,
    WizardContext,
)
from tau_tui.screens.onboarding.steps.base import WizardStep
from tau_tui.screens.onboarding.steps.identity import IdentityStep
from tau_tui.screens.onboarding.steps.key import KeyStep
from tau_tui.screens.onboarding.steps.model import ModelStep
from tau_tui.screens.onboarding.steps.provider import ProviderStep
from tau_tui.screens.onboarding.steps.safety import SafetyStep
from tau_tui.screens.onboarding.steps.summary import SummaryStep
from tau_tui.screens.onboarding.steps.workspace import WorkspaceStep

if TYPE_CHECKING:
    from tau_engine.onboarding.plan import OnboardingPlan
    from tau_engine.onboarding.writer import PlannedWrite


@dataclass(frozen=True)
class WizardOutcome:
    """What Write did: the plan and every path as written."""

    plan: OnboardingPlan
    writes: list[PlannedWrite]


def progress_line(index: int) -> Content:
    """``✓ Provider  ● Key  ○ Model …``: done, current and coming steps."""
    parts = []
    for number, title in enumerate(STEP_TITLES):
        if number < index:
            parts.append(Content.styled(f"✓ {title}", "$text-success"))
        elif number == index:
            parts.append(Content.styled(f"● {title}", "bold $text-accent"))
        else:
            parts.append(Content.styled(f"○ {title}", "$text-muted"))
    return Content("  ").join(parts)


class OnboardingWizard(Screen["WizardOutcome | None"]):
    """The setup wizard. Dismissed with a ``WizardOutcome``, or None (cancelled)."""

    CSS_PATH = "onboarding.tcss"

    BINDINGS = [
        Binding(
            "escape",
            "cancel",
            "Cancel",
            id="onboarding.cancel",
            tooltip="Leave the setup; nothing is written",
        ),
        Binding(
            "ctrl+n",
            "next",
            "Next",
            id="onboarding.next",
            tooltip="Go to the next step (Enter in a list or a field does too)",
        ),
        Binding(
            "ctrl+b",
            "back",
            "Back",
            id="onboarding.back",
            tooltip="Go back one step; your answers are kept",
        ),
        Binding(
            "ctrl+t",
            "check",
            "Check model",
            id="onboarding.check",
            show=False,
            tooltip="Probe the model: list the models and try one tool call",
        ),
        Binding(
            "ctrl+s",
            "write",
            "Write",
            id="onboarding.write",
            show=False,
            tooltip="On the summary: write the setup",
        ),
    ]

    def __init__(self, context: WizardContext) -> None:
        super().__init__()
        self.context = context
        self.choices = WizardChoices.starting_from(context)
        self.index = 0
        self.writing = False
        self.steps: list[WizardStep] = [
            ProviderStep(context, self.choices),
            KeyStep(context, self.choices),
            ModelStep(context, self.choices),
            WorkspaceStep(context, self.choices),
            IdentityStep(context, self.choices),
            SafetyStep(context, self.choices),
            SummaryStep(context, self.choices),
        ]
        for number, step in enumerate(self.steps):
            step.id = f"step-{number}"

    def compose(self) -> ComposeResult:
        with Vertical(id="wizard"):
            yield Static(
                Content.assemble(
                    ("tau setup", "bold"), "  ", (self.context.workspace_label, "$text-muted")
                ),
                id="wizard-head",
            )
            yield Static("", id="wizard-progress")
            yield Static("", id="wizard-title")
            yield Static("", id="wizard-hint")
            with ContentSwitcher(initial="step-0", id="wizard-steps"):
                yield from self.steps
            yield Static("", id="wizard-error")
            with Horizontal(id="wizard-nav"):
                yield Button("Back", id="wizard-back", compact=True)
                yield Button("Next", id="wizard-next", variant="primary", compact=True)
                yield Static(Content("esc cancel · ctrl+b back · ctrl+n next"), id="wizard-keys")

    def on_mount(self) -> None:
        self._show_step()

    @property
    def step(self) -> WizardStep:
        return self.steps[self.index]

    def _show_step(self) -> None:
        step = self.step
        self.query_one(ContentSwitcher).current = step.id
        self.query_one("#wizard-progress", Static).update(progress_line(self.index))
        self.query_one("#wizard-title", Static).update(
            Content.styled(f"Step {self.index + 1} of {len(self.steps)} · {step.title}", "bold")
        )
        self.query_one("#wizard-hint", Static).update(Content.styled(step.hint, "$text-muted"))
        self.query_one("#wizard-error", Static).update("")
        self.query_one("#wizard-back", Button).disabled = self.index == 0
        last = self.index == len(self.steps) - 1
        self.query_one("#wizard-next", Button).label = "Write" if last else "Next"
        step.show()
        # A step with nothing to answer (no key for a local provider, the workspace) focuses
        # Next, so Enter moves on there as it does in a list or a field.
        focus = step.first_focus() or self.query_one("#wizard-next", Button)
        self.call_after_refresh(focus.focus)

    def _error(self, text: str) -> None:
        self.query_one("#wizard-error", Static).update(Content.assemble(("✗ ", "bold"), text))

    def action_next(self) -> None:
        if self.writing:
            return
        if self.index == len(self.steps) - 1:
            self.action_write()
            return
        problem = self.step.commit(validate=True)
        if problem:
            self._error(problem)
            return
        self.index += 1
        self._show_step()

    def action_back(self) -> None:
        if self.index == 0 or self.writing:
            return
        self.step.commit(validate=False)
        self.index -= 1
        self._show_step()

    def action_cancel(self) -> None:
        if not self.writing:
            self.dismiss(None)

    def action_check(self) -> None:
        if isinstance(self.step, ModelStep):
            self.step.check()

    def action_write(self) -> None:
        summary = self.steps[-1]
        if self.index != len(self.steps) - 1 or self.writing:
            return
        assert isinstance(summary, SummaryStep)
        if not summary.ready:
            self._error("the setup cannot be written as it is: go Back and change it")
            return
        self.writing = True
        self.query_one("#wizard-next", Button).disabled = True
        self._write(self.choices.plan(self.context))

    @work(exclusive=True, group="onboarding-write")
    async def _write(self, plan: OnboardingPlan) -> None:
        import asyncio

        from tau_engine.errors import TauError
        from tau_engine.onboarding.plan import write_plan

        try:
            writes = await asyncio.to_thread(write_plan, plan)
        except TauError as exc:
            self.writing = False
            self.query_one("#wizard-next", Button).disabled = False
            self._error(f"nothing was written: {exc}")
            return
        self.dismiss(WizardOutcome(plan, writes))

    @on(Button.Pressed, "#wizard-next")
    def _next_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_next()

    @on(Button.Pressed, "#wizard-back")
    def _back_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_back()

    @on(OptionList.OptionSelected)
    def _option_chosen(self, event: OptionList.OptionSelected) -> None:
        # Enter on a list answers the step (the identity list only moves the preview).
        if event.option_list.id != "identity-list":
            event.stop()
            self.action_next()

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_next()
