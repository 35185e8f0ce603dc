"""Step 5, identity files: ``.tau/SOUL.md``, ``.tau/USER.md``, ``.tau/AGENTS.md``, previewed.

A new file starts from its template. An existing file is kept unless the user ticks
"replace" under its diff: the tick confirms that diff, and a later change to it (a new
verifier) asks again. The detected verifier is offered for ``.tau/AGENTS.md``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Checkbox, Input, OptionList, Static
from textual.widgets.option_list import Option

from tau_tui.screens.onboarding.context import WizardChoices, WizardContext
from tau_tui.screens.onboarding.steps.base import WizardStep

if TYPE_CHECKING:
    from tau_engine.onboarding.identity import IdentityFile


class IdentityStep(WizardStep):
    """Preview the identity files; confirm a diff to replace an existing one."""

    title = "Identity"
    hint = "Composed into tau's system prompt in this order; the model cannot edit them."

    def __init__(self, context: WizardContext, choices: WizardChoices) -> None:
        super().__init__(context, choices)
        self._confirmed: dict[str, str] = {}  # file -> the proposal whose diff was confirmed

    def compose(self) -> ComposeResult:
        yield OptionList(id="identity-list")
        with VerticalScroll(id="identity-preview"):
            yield Static("", id="identity-text")
        yield Checkbox("", id="identity-replace", compact=True)
        with Horizontal(id="identity-verifier-row"):
            yield Checkbox("Verifier:", id="identity-verifier-on", compact=True)
            yield Input(
                placeholder="no test command detected: type one",
                compact=True,
                id="identity-verifier",
            )

    def _files(self) -> list[IdentityFile]:
        from tau_engine.onboarding.identity import with_proposal

        verifier = self.choices.verifier if self.choices.record_verifier else None
        return [with_proposal(item, verifier) for item in self.context.identity]

    def show(self) -> None:
        self.query_one("#identity-verifier-on", Checkbox).value = self.choices.record_verifier
        self.query_one("#identity-verifier", Input).value = self.choices.verifier or ""
        self._confirmed = {
            name: item.proposed
            for item in self._files()
            for name in self.choices.replace
            if name == item.name
        }
        self._refresh_list()

    def first_focus(self) -> Widget | None:
        return self.query_one(OptionList)

    def _state(self, item: IdentityFile) -> str:
        if not item.exists:
            return "new (template)"
        if not item.differs:
            return "exists: kept"
        if self._confirmed.get(item.name) == item.proposed:
            return "exists: replaced (diff confirmed)"
        return "exists: kept (tick to replace)"

    def _refresh_list(self) -> None:
        from tau_engine.onboarding.identity import DESCRIPTIONS

        options = self.query_one(OptionList)
        highlighted = options.highlighted or 0
        options.clear_options()
        for item in self._files():
            options.add_option(
                Option(
                    Content.assemble(
                        (f".tau/{item.name:<10}", "bold"),
                        (f"{DESCRIPTIONS[item.name]:<27}", ""),
                        (self._state(item), "$text-muted"),
                    ),
                    id=item.name,
                )
            )
        options.highlighted = highlighted
        self._preview()

    def _highlighted(self) -> IdentityFile | None:
        option = self.query_one(OptionList).highlighted_option
        return next((f for f in self._files() if option and f.name == option.id), None)

    def _preview(self) -> None:
        item = self._highlighted()
        replace = self.query_one("#identity-replace", Checkbox)
        text = self.query_one("#identity-text", Static)
        if item is None:
            return
        replace.display = item.differs
        if item.differs:
            replace.label = Content(f"Replace .tau/{item.name} with the diff above")
            with replace.prevent(Checkbox.Changed):
                replace.value = self._confirmed.get(item.name) == item.proposed
            text.update(_diff_content(item.diff()))
        else:
            text.update(
                Content(
                    item.existing if item.exists and item.existing is not None else item.proposed
                )
            )

    @on(OptionList.OptionHighlighted, "#identity-list")
    def _moved(self, event: OptionList.OptionHighlighted) -> None:
        self._preview()

    @on(Checkbox.Changed, "#identity-replace")
    def _replace_changed(self, event: Checkbox.Changed) -> None:
        item = self._highlighted()
        if item is not None:
            if event.value:
                self._confirmed[item.name] = item.proposed
            else:
                self._confirmed.pop(item.name, None)
            self._refresh_list()

    @on(Checkbox.Changed, "#identity-verifier-on")
    @on(Input.Changed, "#identity-verifier")
    def _verifier_changed(self) -> None:
        self._store_verifier()
        self._refresh_list()

    def _store_verifier(self) -> None:
        typed = self.query_one("#identity-verifier", Input).value.strip()
        self.choices.verifier = typed or None
        self.choices.record_verifier = self.query_one("#identity-verifier-on", Checkbox).value

    def commit(self, *, validate: bool) -> str | None:
        from tau_engine.resources.project_verifier import check_verifier

        self._store_verifier()
        files = {item.name: item for item in self._files()}
        # A confirmation counts only for the diff that was shown.
        self.choices.replace = {
            name
            for name, proposed in self._confirmed.items()
            if name in files and files[name].proposed == proposed
        }
        if validate and self.choices.record_verifier:
            if not self.choices.verifier:
                return "type the verifier command, or untick Verifier"
            try:
                check_verifier(self.choices.verifier)
            except ValueError as exc:
                return str(exc)
        return None


def _diff_content(diff: str) -> Content:
    lines = []
    for line in diff.splitlines():
        style = (
            "$text-success"
            if line.startswith("+") and not line.startswith("+++")
            else "$text-error"
            if line.startswith("-") and not line.startswith("---")
            else "$text-muted"
        )
        lines.append(Content.styled(line, style))
    return Content("\n").join(lines)
