"""``tau auth status``: for each provider, every key found, where, and which one wins.

The sources, winner first: the real environment, the user's credentials file,
the workspace ``.env`` (``providers/key_sources.py``). tau takes no key as a flag
(one on the command line would sit in shell history and ``ps``) and reads no
OS keyring. Keys are shown masked (``…wXyZ``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from tau_engine.config import Settings
from tau_engine.errors import TauError
from tau_engine.paths import WorkspacePaths
from tau_engine.providers.key_sources import (
    KeyCandidate,
    key_candidates,
    stored_keys,
    suggested_key_var,
)
from tau_engine.providers.registry import parse_model_id
from tau_engine.providers.specs import PROVIDERS


@dataclass(frozen=True)
class ProviderKeys:
    """The keys found for one provider, the one used first."""

    provider: str
    needs_key: bool
    candidates: list[KeyCandidate]
    hint: str  # what to set when there is none

    @property
    def winner(self) -> KeyCandidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def usable(self) -> bool:
        return bool(self.candidates) or not self.needs_key


@dataclass(frozen=True)
class KeyReport:
    """Every provider's keys, and the model the settings choose (if any)."""

    providers: list[ProviderKeys]
    model: str | None
    model_provider: str | None

    @property
    def usable(self) -> bool:
        """Whether a run can start: the chosen model's provider has a key (or needs none);
        with no model chosen, whether any provider that needs a key has one."""
        if self.model_provider == "offline":
            return True
        if self.model_provider is not None:
            return any(p.usable for p in self.providers if p.provider == self.model_provider)
        return any(p.candidates for p in self.providers if p.needs_key)


def key_report(
    paths: WorkspacePaths, settings: Settings, environ: Mapping[str, str] | None = None
) -> KeyReport:
    """The keys of every provider tau knows (the offline one needs none and is left out)."""
    env = os.environ if environ is None else environ
    stored = stored_keys()
    providers = []
    for name, spec in PROVIDERS.items():
        if name == "offline":
            continue
        found = key_candidates(name, settings, env, paths.root, credentials=stored)
        hint = (
            f"set {suggested_key_var(name, settings)} or run tau onboard"
            if spec.needs_key
            else "needs no key"
        )
        providers.append(ProviderKeys(name, spec.needs_key, found, hint))
    model_provider = None
    if settings.model:
        try:
            model_provider = parse_model_id(settings.model)[0]
        except TauError:
            model_provider = None
    return KeyReport(providers, settings.model, model_provider)
