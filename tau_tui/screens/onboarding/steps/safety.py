"""Step 6, safety profile: permissive, balanced, strict or hardened, each with one line on
what it changes (approval, network, sandbox)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tau_tui.screens.onboarding.steps.base import WizardStep


class SafetyStep(WizardStep):
    """Choose how much tau may do unasked."""

    title = "Safety"
    hint = "How much tau may do without asking. Change it any time with tau onboard."

    def compose(self) -> ComposeResult:
        from tau_engine.config.profiles import SAFETY_PROFILES

        yield OptionList(
            *[
                Option(Content.assemble((f"{name:<11}", "bold"), (line, "$text-muted")), id=name)
                for name, line in SAFETY_PROFILES.items()
            ],
            id="safety-list",
        )
        yield Static(
            Content("Stored in the profile; tau's safety layer applies it."), classes="wizard-note"
        )

    def show(self) -> None:
        options = self.query_one(OptionList)
        for index in range(options.option_count):
            if options.get_option_at_index(index).id == self.choices.safety:
                options.highlighted = index

    def first_focus(self) -> Widget | None:
        return self.query_one(OptionList)

    def commit(self, *, validate: bool) -> str | None:
        option = self.query_one(OptionList).highlighted_option
        if option is not None and option.id:
            self.choices.safety = option.id
        return None
