"""Whether anything is set up: the one decision behind the first-run wizard.

Nothing is set up when there is no profile in the user config dir, no
``.tau/`` in the workspace, no model chosen (flag, environment or a settings
file) and no usable key in any source (the environment, the credentials file,
the workspace ``.env``). Then the interactive app opens the onboarding wizard,
and a run that cannot ask (headless, piped, the line REPL) stops with exit 2
and says how to set up, rather than quietly answering with the offline echo
model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tau_engine.config import Settings
from tau_engine.config.profiles import ProfileStore
from tau_engine.errors import UsageError
from tau_engine.paths import WorkspacePaths
from tau_engine.providers.key_sources import key_candidates, stored_keys
from tau_engine.providers.specs import PROVIDERS

NOT_SET_UP = (
    "nothing is set up here (no profile, no .tau/, no model, no API key): run 'tau onboard' "
    "(in CI: tau onboard --non-interactive --provider P --model M --api-key-env VAR), set "
    "a provider's key such as ANTHROPIC_API_KEY or OPENAI_API_KEY, or pass --model "
    "offline/echo to try tau without one"
)


class SetupNeededError(UsageError):
    """Nothing is set up and this run cannot ask (exit code 2)."""


def nothing_configured(
    paths: WorkspacePaths, settings: Settings, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether nothing at all is set up for a run in ``paths`` with ``settings``."""
    if settings.model or settings.profile or paths.state_dir.is_dir():
        return False
    if ProfileStore().names():
        return False
    env = os.environ if environ is None else environ
    stored = stored_keys()
    return not any(
        key_candidates(name, settings, env, paths.root, credentials=stored)
        for name, spec in PROVIDERS.items()
        if spec.needs_key
    )


def require_setup(
    paths: WorkspacePaths, settings: Settings, environ: Mapping[str, str] | None = None
) -> None:
    """Raise ``SetupNeededError`` when nothing is set up (for runs that cannot ask)."""
    if nothing_configured(paths, settings, environ):
        raise SetupNeededError(NOT_SET_UP)
