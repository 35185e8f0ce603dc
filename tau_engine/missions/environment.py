"""The settings, environment and redactor a mission runs with, by the workspace's trust.

A mission is a headless run: the repository's own settings that need trust (where
keys are sent, budgets, the approval mode) load only if the user trusted it
(``tau trust``), and its ``.env`` may add keys but never route them. Evidence
passes the safety layer's redaction funnel (``RedactionFilter``): the exact values
of the user's provider keys (a key cut in two too) and of every other credential in
the environment (``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD``...), then anything shaped
like a known vendor's token, whatever the profile: evidence is made to be shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tau_engine.config import Settings
from tau_engine.missions.evidence import Redactor
from tau_engine.missions.verifier import is_secret_name
from tau_engine.paths import WorkspacePaths


def mission_settings(root: Path, environ: Mapping[str, str]) -> Settings:
    """Settings as a headless run loads them: the workspace's only if it is trusted."""
    from tau_engine.resources.trust import load_run_settings

    # A mission needs no model of the settings (a patch, or its own --model): nothing set up
    # is not an error here.
    return load_run_settings(
        WorkspacePaths(root),
        None,
        default_approval="auto-edit",
        environ=dict(environ),
        require_setup=False,
    )


def provider_environ(root: Path, environ: Mapping[str, str], settings: Settings) -> dict[str, str]:
    """The environment plus the repository's ``.env``, by its trust and the key precedence:
    the ``.env`` never supplies a key for a provider the user has a key for."""
    from tau_engine.providers import key_sources

    return key_sources.provider_environ(settings, environ, root, trusted=settings.workspace_trusted)


def evidence_redactor(root: Path, environ: Mapping[str, str]) -> Redactor:
    """What every evidence file passes through."""
    from tau_engine.providers.key_sources import provider_key_values
    from tau_engine.safety.redact import SecretRedactor
    from tau_engine.safety.redaction import RedactionFilter, secret_values

    settings = mission_settings(root, environ)
    env = provider_environ(root, environ, settings)
    # Exact values first (the provider keys keep their names), then tokens by their
    # vendor's format (a key tau never saw).
    funnel = RedactionFilter(
        SecretRedactor(
            [
                *provider_key_values(settings, env).items(),
                *secret_values(env),
                *((name, value) for name, value in env.items() if is_secret_name(name)),
            ]
        )
    )
    return funnel.redact
