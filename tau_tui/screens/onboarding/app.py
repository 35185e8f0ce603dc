"""``tau onboard``: the wizard as an app of its own, on tau's themes.

The same ``OnboardingWizard`` screen also opens inside the main app on a first
run (``tau_tui/app.py``). When it ends, the CLI prints what was written
(``commands/onboard.py``); this module imports neither the main app nor the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App

from tau_engine.errors import TauError
from tau_tui.screens.onboarding.context import WizardContext
from tau_tui.screens.onboarding.wizard import OnboardingWizard, WizardOutcome
from tau_tui.themes import DEFAULT_THEME, load_themes, variable_defaults

EXIT_CANCELLED = 1
CANCELLED = "setup cancelled: nothing was written"


class SetupCancelledError(TauError):
    """The first-run wizard was cancelled: the app ends, nothing written (exit 1)."""

    def __init__(self) -> None:
        super().__init__(
            f"{CANCELLED}. Run tau onboard to set up, or tau --model "
            "offline/echo to try tau without a key"
        )


class OnboardingApp(App["WizardOutcome | None"]):
    """An app whose only screen is the wizard; it exits with the wizard's outcome."""

    TITLE = "tau setup"
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        context: WizardContext,
        *,
        theme: str = DEFAULT_THEME,
        theme_folders: list[Path] | None = None,
    ) -> None:
        super().__init__()
        self.context = context
        catalog = load_themes(theme_folders)
        for loaded in catalog.themes:
            self.register_theme(loaded)
        self.theme = theme if theme in self.available_themes else DEFAULT_THEME

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return variable_defaults(self.current_theme)

    def on_mount(self) -> None:
        self.push_screen(OnboardingWizard(self.context), callback=self.exit)


def run_onboarding_app(
    *, workspace: str | None, profile: str | None, workspace_label: Callable[[Path], str]
) -> WizardOutcome | None:
    """Open the wizard for the workspace (``workspace_label`` names it on screen); its
    outcome, or ``None`` if it was cancelled (the caller prints either)."""
    from tau_engine.config import load_settings
    from tau_engine.config.profiles import ProfileStore
    from tau_engine.paths import WorkspacePaths
    from tau_engine.resources.trust import TrustStore
    from tau_tui.screens.onboarding.context import build_context
    from tau_tui.themes import configured_theme_name

    paths = WorkspacePaths.locate(workspace)
    trusted = TrustStore().decision(paths.root) is True
    settings = load_settings(paths, trusted=trusted)
    if profile and ProfileStore().exists(profile):
        # Start from the named profile's values; a new name starts from the active one's.
        settings = settings.model_copy(update={"profile": profile})
    context = build_context(
        paths, settings, workspace_label=workspace_label(paths.root), profile=profile
    )
    app = OnboardingApp(context, theme=configured_theme_name(paths.root, None))
    outcome: Any = app.run()
    return outcome if isinstance(outcome, WizardOutcome) else None
