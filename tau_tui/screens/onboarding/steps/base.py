"""``WizardStep``: what every step of the wizard does."""

from __future__ import annotations

from typing import ClassVar

from textual.containers import Vertical
from textual.widget import Widget

from tau_tui.screens.onboarding.context import WizardChoices, WizardContext


class WizardStep(Vertical):
    """One step: it shows the choices so far (``show``) and stores its answer (``commit``).

    Steps hold no business logic: validation is the engine's (``onboarding.plan``)."""

    title: ClassVar[str] = ""
    hint: ClassVar[str] = ""  # one muted line under the title

    def __init__(self, context: WizardContext, choices: WizardChoices) -> None:
        super().__init__(classes="wizard-step")
        self.context = context
        self.choices = choices

    def show(self) -> None:
        """Called each time the step becomes visible: earlier steps may have changed the
        choices it depends on."""

    def commit(self, *, validate: bool) -> str | None:
        """Store the step's answer in ``choices``; with ``validate``, the one-line reason it
        cannot go on (None: it can)."""
        return None

    def first_focus(self) -> Widget | None:
        """The widget to focus when the step is shown."""
        return None
