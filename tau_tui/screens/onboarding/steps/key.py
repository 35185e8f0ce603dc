"""Step 2, key: an environment variable's name (preferred: no secret on disk), or the key
typed masked and kept in the user's credentials file (0600), or the key already there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Input, RadioButton, RadioSet, Static

from tau_tui.screens.onboarding.steps.base import WizardStep

KINDS = ("env", "typed", "stored")
if TYPE_CHECKING:
    from tau_engine.onboarding.plan import KeyKind
_KINDS_TYPED: dict[str, KeyKind] = {"env": "env", "typed": "typed", "stored": "stored"}


class KeyStep(WizardStep):
    """Where the key comes from. The typed key is never shown and never written before
    Write, and then only to the credentials file in the user config dir."""

    title = "Key"
    hint = "Best: name the environment variable that holds the key (nothing on disk)."

    def compose(self) -> ComposeResult:
        yield Static("", id="key-none", classes="wizard-note")
        with Vertical(id="key-choices"):
            yield RadioSet(
                RadioButton("Read it from an environment variable", id="key-env"),
                RadioButton(
                    "Type it: kept in credentials.toml (0600), never in the workspace",
                    id="key-typed",
                ),
                RadioButton("Keep the key already in credentials.toml", id="key-stored"),
                id="key-kind",
            )
            yield Input(placeholder="VARIABLE_NAME", id="key-variable", compact=True)
            yield Input(
                placeholder="paste the key (it is not shown)",
                password=True,
                id="key-secret",
                compact=True,
            )
            yield Static("", id="key-status", classes="wizard-note")

    def show(self) -> None:
        from tau_engine.providers.specs import PROVIDERS

        choices = self.choices
        needs_key = PROVIDERS[choices.provider].needs_key
        self.query_one("#key-none", Static).display = not needs_key
        self.query_one("#key-choices").display = needs_key
        if not needs_key:
            self.query_one("#key-none", Static).update(
                Content(f"{choices.provider} needs no key: go on to the model.")
            )
            return
        stored = self.context.stored_masked.get(choices.provider)
        stored_button = self.query_one("#key-stored", RadioButton)
        stored_button.display = stored is not None
        if stored is not None:
            stored_button.label = Content(f"Keep the key already in credentials.toml ({stored})")
        kind = choices.key_kind if choices.key_kind in KINDS else "env"
        if kind == "stored" and stored is None:
            kind = "env"
        self.query_one(f"#key-{kind}", RadioButton).value = True
        self.query_one("#key-variable", Input).value = choices.key_variable
        self.query_one("#key-secret", Input).value = choices.key_secret
        self._show_kind(kind)

    def first_focus(self) -> Widget | None:
        from tau_engine.providers.specs import PROVIDERS

        if not PROVIDERS[self.choices.provider].needs_key:
            return None
        kind = self._kind()
        if kind in ("env", "typed"):
            # The field answers the step: Enter there goes on (Tab reaches the choices).
            return self.query_one("#key-variable" if kind == "env" else "#key-secret", Input)
        return self.query_one(RadioSet)

    def _kind(self) -> str:
        pressed = self.query_one(RadioSet).pressed_button
        return (pressed.id or "key-env").removeprefix("key-") if pressed else "env"

    def _show_kind(self, kind: str) -> None:
        self.query_one("#key-variable", Input).display = kind == "env"
        self.query_one("#key-secret", Input).display = kind == "typed"
        self._update_status()

    @on(RadioSet.Changed, "#key-kind")
    def _kind_changed(self, event: RadioSet.Changed) -> None:
        kind = self._kind()
        self._show_kind(kind)
        if kind in ("env", "typed") and self.query_one(RadioSet).has_focus:
            self.query_one("#key-variable" if kind == "env" else "#key-secret", Input).focus()

    @on(Input.Changed, "#key-variable")
    def _variable_changed(self, event: Input.Changed) -> None:
        self._update_status()

    def _update_status(self) -> None:
        from tau_engine.providers.key_sources import mask_key

        kind = self._kind()
        status = self.query_one("#key-status", Static)
        if kind == "env":
            name = self.query_one("#key-variable", Input).value.strip()
            value = self.context.environ.get(name, "").strip() if name else ""
            status.update(
                Content(
                    f"{name} is set ({mask_key(value)})"
                    if value
                    else f"{name or 'the variable'} is not set in this shell: set it "
                    "before running tau"
                )
            )
        elif kind == "typed":
            status.update(
                Content(
                    "The key is written only when you choose Write, to "
                    "credentials.toml (0600, folder 0700)."
                )
            )
        else:
            status.update(Content("The profile reads the key from credentials.toml."))

    def commit(self, *, validate: bool) -> str | None:
        from tau_engine.errors import UsageError
        from tau_engine.onboarding.plan import KeyChoice, check_key
        from tau_engine.providers.specs import PROVIDERS

        choices = self.choices
        if not PROVIDERS[choices.provider].needs_key:
            choices.key_kind, choices.key_variable, choices.key_secret = "none", "", ""
            return None
        kind = self._kind()
        choices.key_kind = _KINDS_TYPED[kind]
        choices.key_variable = self.query_one("#key-variable", Input).value.strip()
        choices.key_secret = self.query_one("#key-secret", Input).value
        if not validate:
            return None
        if kind == "stored":
            return (
                None
                if choices.provider in self.context.stored_masked
                else "credentials.toml has no key for this provider"
            )
        try:
            check_key(
                KeyChoice(
                    choices.key_kind, choices.key_variable or None, choices.key_secret or None
                ),
                choices.provider,
            )
        except UsageError as exc:
            return str(exc)
        return None
