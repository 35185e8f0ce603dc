"""Step 3, model: the provider's models from the catalog (context window, price), any
other id typed, and a probe: list the models and, optionally, one tool call."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, OptionList, Static
from textual.widgets.option_list import Option

from tau_tui.screens.onboarding.steps.base import WizardStep

_MARKS = {
    "ok": ("✓", "$text-success"),
    "warn": ("!", "$text-warning"),
    "fail": ("✗", "$text-error"),
    "skip": ("-", "$text-muted"),
}


def _price(value: float | None) -> str:
    return "?" if value is None else f"${value:g}"


class ModelStep(WizardStep):
    """Choose a model and check it before anything is written."""

    title = "Model"
    hint = "Pick from the catalog or type any id; Check asks the provider before you Write."

    def compose(self) -> ComposeResult:
        yield OptionList(id="model-list")
        yield Input(placeholder="model id, e.g. gpt-4.1-mini", id="model-id")
        with Horizontal(id="model-probe-row"):
            yield Button("Check (ctrl+t)", id="model-check", compact=True)
            yield Checkbox(
                "also one tool call (a few tokens)", value=True, id="model-tools", compact=True
            )
        yield Static("", id="model-probe", classes="wizard-note")

    def show(self) -> None:
        provider = self.choices.provider
        options = self.query_one(OptionList)
        options.clear_options()
        for info in self.context.models.get(provider, []):
            detail = (
                f"{info.context_window:>9,} ctx  {_price(info.input_price)} in / "
                f"{_price(info.output_price)} out per M"
            )
            if not info.tools:
                detail += "  (no tools)"
            options.add_option(
                Option(
                    Content.assemble((f"{info.id:<30} ", "bold"), (detail, "$text-muted")),
                    id=info.id,
                )
            )
        current = (
            self.choices.model.split("/", 1)[1] if "/" in self.choices.model else self.choices.model
        )
        self.query_one("#model-id", Input).value = current
        for index in range(options.option_count):
            if options.get_option_at_index(index).id == current:
                options.highlighted = index
        options.display = options.option_count > 0
        self.query_one("#model-probe", Static).update(
            Content(
                f"{provider} models run inside tau: nothing to check"
                if provider == "offline"
                else "Not checked yet."
            )
        )

    def first_focus(self) -> Widget | None:
        options = self.query_one(OptionList)
        return options if options.option_count else self.query_one("#model-id", Input)

    @on(OptionList.OptionHighlighted, "#model-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self.query_one("#model-id", Input).value = event.option.id

    @on(Button.Pressed, "#model-check")
    def _check_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.check()

    def check(self) -> None:
        """Probe the model with the key chosen in step 2 (nothing is written)."""
        self.commit(validate=False)
        self.query_one("#model-probe", Static).update(Content("Checking…"))
        self._probe(self.query_one("#model-tools", Checkbox).value)

    @work(exclusive=True, group="onboarding-probe")
    async def _probe(self, tool_call: bool) -> None:
        import asyncio

        from tau_engine.errors import TauError
        from tau_engine.onboarding.plan import full_model_id, key_value
        from tau_engine.onboarding.probe import probe_model, resolve_choice
        from tau_engine.providers.registry import ResolvedModel

        choices, context = self.choices, self.context
        plan = choices.plan(context)

        def resolve() -> ResolvedModel:
            value, where = key_value(plan.key, plan.provider, context.environ)
            return resolve_choice(
                plan.provider,
                full_model_id(plan.provider, plan.model),
                value,
                where,
                context.settings,
                context.environ,
                context.workspace,
            )

        try:
            resolved = await asyncio.to_thread(resolve)
            result = await probe_model(resolved, context.settings, tool_call=tool_call)
        except TauError as exc:
            self.query_one("#model-probe", Static).update(
                Content.assemble(("✗ ", "$text-error"), str(exc))
            )
            return
        lines = []
        for step in result.steps:
            mark, style = _MARKS[step.status]
            lines.append(
                Content.assemble(
                    (f"{mark} {step.name}: ", style),
                    step.message,
                    (f" ({step.remedy})" if step.remedy else "", "$text-muted"),
                )
            )
        if not result.checked:
            lines.append(Content("tau cannot check it now; you can go on."))
        self.query_one("#model-probe", Static).update(Content("\n").join(lines))

    def commit(self, *, validate: bool) -> str | None:
        from tau_engine.errors import UsageError
        from tau_engine.onboarding.plan import full_model_id
        from tau_engine.providers.registry import parse_model_id

        typed = self.query_one("#model-id", Input).value.strip()
        try:
            model_id = full_model_id(self.choices.provider, typed)
            parse_model_id(model_id)
        except UsageError as exc:
            return str(exc) if validate else None
        self.choices.model = model_id
        return None
