"""Step 1, provider: every provider, marked with whether a key was found and where."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tau_tui.screens.onboarding.steps.base import WizardStep

OFFLINE = "offline"


class ProviderStep(WizardStep):
    """Choose the provider. Enter (or Next) moves on."""

    title = "Provider"
    hint = "Which service runs the model. ✓ marks a provider whose key tau already found."

    def compose(self) -> ComposeResult:
        yield OptionList(*self._options(), id="provider-list")
        yield Static("", id="provider-note", classes="wizard-note")

    def _options(self) -> list[Option]:
        options = []
        for entry in self.context.providers:
            if entry.winner is not None:
                mark, detail = "✓", f"key found: {entry.winner.label} {entry.winner.masked}"
            elif not entry.needs_key:
                mark, detail = "✓", "needs no key (a local server)"
            else:
                mark, detail = " ", "no key found"
            options.append(
                Option(
                    Content.assemble(
                        (f"{mark} ", "$text-success"),
                        (f"{entry.provider:<11}", "bold"),
                        (detail, "$text-muted"),
                    ),
                    id=entry.provider,
                )
            )
        options.append(
            Option(
                Content.assemble(
                    ("✓ ", "$text-success"),
                    (f"{OFFLINE:<11}", "bold"),
                    ("no key: the echo model, to try tau", "$text-muted"),
                ),
                id=OFFLINE,
            )
        )
        return options

    def show(self) -> None:
        options = self.query_one(OptionList)
        for index in range(options.option_count):
            if options.get_option_at_index(index).id == self.choices.provider:
                options.highlighted = index
                break

    def first_focus(self) -> Widget | None:
        return self.query_one(OptionList)

    @on(OptionList.OptionHighlighted, "#provider-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        name = event.option.id or ""
        models = self.context.models.get(name, [])
        self.query_one("#provider-note", Static).update(
            Content(
                f"{len(models)} models of {name} in tau's catalog"
                if models
                else f"{name}: type a model id in the next steps"
            )
        )

    def commit(self, *, validate: bool) -> str | None:
        highlighted = self.query_one(OptionList).highlighted_option
        if highlighted is None or highlighted.id is None:
            return "choose a provider" if validate else None
        chosen = highlighted.id
        if chosen != self.choices.provider:
            self._switch_to(chosen)
        return None

    def _switch_to(self, provider: str) -> None:
        """A new provider: its default model, and the key tau found for it (if any)."""
        from tau_engine.providers.key_sources import suggested_key_var
        from tau_engine.providers.specs import PROVIDERS

        choices = self.choices
        choices.provider = provider
        default = self.context.default_models.get(provider) or ""
        choices.model = f"{provider}/{default}" if default else ""
        entry = self.context.keys_of(provider)
        winner = entry.winner if entry is not None else None
        choices.key_secret = ""
        if not PROVIDERS[provider].needs_key:
            choices.key_kind, choices.key_variable = "none", ""
        elif winner is not None and winner.source == "credentials":
            choices.key_kind, choices.key_variable = "stored", ""
        elif winner is not None:
            choices.key_kind, choices.key_variable = "env", winner.name
        else:
            choices.key_kind = "env"
            choices.key_variable = suggested_key_var(provider, self.context.settings)
