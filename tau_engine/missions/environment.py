"""The settings, environment and redactor a mission runs with, by the workspace's trust.

A mission is a headless run: the repository's own settings that need trust (where
keys are sent, budgets, the approval mode) load only if the user trusted it
(``tau trust``), and its ``.env`` may add keys but never route them. Evidence is
redacted of the user's provider keys (the safety layer's ``SecretRedactor``, which
also catches a key cut in two) and of any other credential in the environment
(``environment_redactor``: ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD``...), then of
anything shaped like a known vendor's token (the safety layer's secret detectors),
whatever the profile: evidence is made to be shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tau_engine.config import Settings
from tau_engine.missions.evidence import Redactor, environment_redactor
from tau_engine.paths import WorkspacePaths


def mission_settings(root: Path, environ: Mapping[str, str]) -> Settings:
    """Settings as a headless run loads them: the workspace's only if it is trusted."""
    from tau_engine.resources.trust import load_run_settings

    # A mission needs no model of the settings (a patch, or its own --model): nothing set up
    # is not an error here.
    return load_run_settings(WorkspacePaths(root), None, default_approval="auto-edit",
                             environ=dict(environ), require_setup=False)


def provider_environ(root: Path, environ: Mapping[str, str], settings: Settings) -> dict[str, str]:
    """The environment plus the repository's ``.env``, by its trust and the key precedence:
    the ``.env`` never supplies a key for a provider the user has a key for."""
    from tau_engine.providers import registry

    return registry.provider_environ(settings, environ, root,
                                     trusted=settings.workspace_trusted)


def evidence_redactor(root: Path, environ: Mapping[str, str]) -> Redactor:
    """What every evidence file passes through."""
    from tau_engine.providers.registry import provider_key_values
    from tau_engine.safety.redact import SecretRedactor

    settings = mission_settings(root, environ)
    env = provider_environ(root, environ, settings)
    from tau_engine.safety.secret_rules import default_scanner, scan

    keys = SecretRedactor(provider_key_values(settings, env))
    others = environment_redactor(env)
    formats = [default_scanner()]

    def redact(text: str) -> str:
        # Exact values first, then tokens by their vendor's format (a key tau never saw).
        return scan(others(keys.redact(text)), formats, "redact").text

    return redact
