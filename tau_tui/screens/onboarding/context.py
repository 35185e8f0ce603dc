"""What the wizard shows and what it has chosen so far.

``WizardContext`` is read once, in a thread, before the wizard opens (the keys
found per provider, the catalog, the identity files as they are, the detected
verifier, the starting choices), so no step reads files on the event loop.
``WizardChoices`` holds the steps' answers and turns them into the engine's
``OnboardingPlan``, which validates and writes them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tau_engine.config import Settings
    from tau_engine.onboarding.identity import IdentityFile
    from tau_engine.onboarding.key_report import ProviderKeys
    from tau_engine.onboarding.plan import KeyKind, OnboardingPlan
    from tau_engine.paths import WorkspacePaths
    from tau_engine.providers.catalog import ModelInfo

STEP_TITLES = ("Provider", "Key", "Model", "Workspace", "Identity", "Safety", "Summary")


@dataclass
class WizardContext:
    """Everything the steps show, read before the wizard opens."""

    workspace: Path
    workspace_label: str
    providers: list[ProviderKeys]
    models: dict[str, list[ModelInfo]]
    default_models: dict[str, str | None]
    stored_masked: dict[str, str]  # provider -> masked key in the credentials file
    identity: list[IdentityFile]
    detected_verifier: str | None
    state_exists: bool
    start: OnboardingPlan
    settings: Settings
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def keys_of(self, provider: str) -> ProviderKeys | None:
        return next((p for p in self.providers if p.provider == provider), None)


@dataclass
class WizardChoices:
    """The answers so far; ``plan()`` turns them into an ``OnboardingPlan``."""

    provider: str
    model: str
    key_kind: KeyKind
    key_variable: str
    key_secret: str
    safety: str
    profile: str
    verifier: str | None
    record_verifier: bool
    replace: set[str] = field(default_factory=set)

    @classmethod
    def starting_from(cls, context: WizardContext) -> WizardChoices:
        start = context.start
        return cls(
            provider=start.provider,
            model=start.model,
            key_kind=start.key.kind,
            key_variable=start.key.variable or "",
            key_secret="",
            safety=start.safety,
            profile=start.profile,
            verifier=start.verifier or context.detected_verifier,
            record_verifier=bool(start.verifier or context.detected_verifier),
        )

    def plan(self, context: WizardContext) -> OnboardingPlan:
        from tau_engine.onboarding.plan import KeyChoice, OnboardingPlan

        key = KeyChoice(
            self.key_kind,
            self.key_variable.strip() or None,
            self.key_secret if self.key_kind == "typed" else None,
        )
        return OnboardingPlan(
            workspace=context.workspace,
            provider=self.provider,
            model=self.model,
            key=key,
            safety=self.safety,
            profile=self.profile,
            verifier=self.verifier if self.record_verifier and self.verifier else None,
            replace=frozenset(self.replace),
        )


def build_context(
    paths: WorkspacePaths,
    settings: Settings,
    *,
    workspace_label: str,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> WizardContext:
    """Read what the wizard shows (blocking: call it from a thread). ``profile`` names the
    profile to write (default: the active one, else ``default``)."""
    from dataclasses import replace

    from tau_engine.config.credentials import CredentialsFile
    from tau_engine.onboarding.identity import identity_files
    from tau_engine.onboarding.key_report import key_report
    from tau_engine.onboarding.plan import starting_plan
    from tau_engine.providers.catalog import load_catalog
    from tau_engine.providers.key_sources import mask_key
    from tau_engine.providers.specs import PROVIDERS
    from tau_engine.resources.project_verifier import detect_verifier

    env = dict(os.environ if environ is None else environ)
    catalog = load_catalog()
    start = starting_plan(paths.root, settings, env)
    if profile:
        start = replace(start, profile=profile)
    return WizardContext(
        workspace=paths.root,
        workspace_label=workspace_label,
        providers=key_report(paths, settings, env).providers,
        models={name: catalog.list(name) for name in PROVIDERS},
        default_models={name: catalog.default_model(name) for name in PROVIDERS},
        stored_masked={name: mask_key(key) for name, key in CredentialsFile().keys().items()},
        identity=identity_files(paths.root),
        detected_verifier=detect_verifier(paths.root),
        state_exists=paths.state_dir.is_dir(),
        start=start,
        settings=settings,
        environ=env,
    )
