"""Where a provider's key and base URL come from.

API keys come from three sources, in this order, and the first that has a key
for the provider wins: the real environment, the user's credentials file
(``credentials.toml`` in the user config dir, ``config/credentials.py``), then
the workspace ``.env``. Within the environment (and within ``.env``) the
variables are searched in order: ``TAU_<PROVIDER>_API_KEY``, the variable named
by ``[providers.NAME] api_key_env``, then the vendor's own variables
(``ANTHROPIC_API_KEY``...). So a cloned repository's ``.env`` can never put its
own key (``TAU_OPENAI_API_KEY``) in front of the user's ``OPENAI_API_KEY``, and
the user's conversations never run on someone else's account.

Base URLs, first found wins: ``--base-url`` / ``base_url`` (only for the chosen
model's provider), ``TAU_<PROVIDER>_BASE_URL``, the vendor's variable
(``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL``), ``[providers.NAME] base_url``,
the built-in default. A ``.env`` file in the workspace root adds variables but
never overrides the real environment, and sets a base URL only in a workspace
the user trusts (``providers/dotenv.py``); ``base_url`` and ``api_key_env``
from the workspace's ``.tau/config.toml`` need that trust too (``config``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tau_engine.config import ProviderSettings, Settings
from tau_engine.config.credentials import CREDENTIALS_FILE_NAME, CredentialsFile
from tau_engine.providers.dotenv import DOTENV_NAME, merged_environ, read_dotenv
from tau_engine.providers.specs import PROVIDERS, tau_base_url_var, tau_key_var

_NO_PROVIDER_SETTINGS = ProviderSettings.model_validate({})


def provider_settings(settings: Settings, provider: str) -> ProviderSettings:
    """The ``[providers.NAME]`` settings of ``provider`` (all defaults when not set)."""
    return settings.providers.get(provider) or _NO_PROVIDER_SETTINGS


def key_vars(provider: str, settings: Settings) -> list[str]:
    """The variables searched for ``provider``'s key, in order."""
    configured = provider_settings(settings, provider).api_key_env
    names = [
        tau_key_var(provider),
        *([configured] if configured else []),
        *PROVIDERS[provider].key_vars,
    ]
    return list(dict.fromkeys(names))


KeySourceKind = Literal["environment", "credentials", ".env"]
# The sources of a key, the winning one first.
KEY_SOURCE_ORDER: tuple[KeySourceKind, ...] = ("environment", "credentials", ".env")


@dataclass(frozen=True, slots=True)
class KeyCandidate:
    """A key found for a provider: in which source, under which name. The value is never
    printed (``masked`` shows its last four characters)."""

    provider: str
    source: KeySourceKind
    name: str  # the variable, or the credentials file's name
    value: str = field(repr=False)

    @property
    def masked(self) -> str:
        return mask_key(self.value)

    @property
    def label(self) -> str:
        """Where it is, in words: ``environment OPENAI_API_KEY``, ``credentials.toml``."""
        if self.source == "credentials":
            return f"credentials file ({CREDENTIALS_FILE_NAME})"
        return f"{self.source} {self.name}"


def mask_key(value: str) -> str:
    """``…wXyZ``: the last four characters of a key long enough that they give little away,
    else only ``…``."""
    value = value.strip()
    return f"…{value[-4:]}" if len(value) >= 16 else "…"


def stored_keys(credentials: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """``credentials`` if given, else the keys in the user's credentials file."""
    return CredentialsFile().keys() if credentials is None else credentials


def key_candidates(
    provider: str,
    settings: Settings,
    environ: Mapping[str, str],
    workspace_root: Path | None,
    *,
    credentials: Mapping[str, str] | None = None,
) -> list[KeyCandidate]:
    """Every key found for ``provider``, the one that is used first.

    ``environ`` is the real environment; ``.env`` is read from ``workspace_root``
    (a variable the environment also sets is not listed from it: it is not used)."""
    names = key_vars(provider, settings)
    found = [
        KeyCandidate(provider, "environment", name, environ[name].strip())
        for name in names
        if environ.get(name, "").strip()
    ]
    stored = stored_keys(credentials).get(provider, "").strip()
    if stored:
        found.append(KeyCandidate(provider, "credentials", CREDENTIALS_FILE_NAME, stored))
    dotenv = read_dotenv(workspace_root / DOTENV_NAME) if workspace_root is not None else {}
    found.extend(
        KeyCandidate(provider, ".env", name, dotenv[name].strip())
        for name in names
        if dotenv.get(name, "").strip() and name not in environ
    )
    return found


def shadowed_key_vars(
    settings: Settings, environ: Mapping[str, str], credentials: Mapping[str, str] | None = None
) -> frozenset[str]:
    """The key variables a workspace ``.env`` may not set: those of every provider whose
    key is in ``environ`` (the real environment) or in the credentials file."""
    stored = stored_keys(credentials)
    shadowed: set[str] = set()
    for provider in PROVIDERS:
        names = key_vars(provider, settings)
        if stored.get(provider, "").strip() or any(environ.get(n, "").strip() for n in names):
            shadowed.update(names)
    return frozenset(shadowed)


def provider_environ(
    settings: Settings,
    environ: Mapping[str, str],
    workspace_root: Path | None,
    *,
    trusted: bool = False,
    credentials: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The real ``environ`` plus the workspace ``.env``, by the key precedence: the ``.env``
    supplies no key for a provider whose key is in the environment or the credentials
    file, and (unless ``trusted``) no base URL. Idempotent: passing its own result back
    gives the same mapping."""
    return merged_environ(
        environ,
        workspace_root,
        trusted=trusted,
        shadowed=shadowed_key_vars(settings, environ, credentials),
    )


def find_api_key(
    provider: str,
    settings: Settings,
    environ: Mapping[str, str],
    *,
    credentials: Mapping[str, str] | None = None,
) -> tuple[str | None, str | None]:
    """``(key, where)`` of the first non-empty key variable in ``environ`` (made by
    ``provider_environ``), else the credentials file's key (``where`` is then the file's
    name), else ``(None, None)``."""
    for name in key_vars(provider, settings):
        value = environ.get(name, "").strip()
        if value:
            return value, name
    stored = stored_keys(credentials).get(provider, "").strip()
    if stored:
        return stored, CREDENTIALS_FILE_NAME
    return None, None


def provider_key_values(
    settings: Settings,
    environ: Mapping[str, str],
    workspace_root: Path | None = None,
    *,
    credentials: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every provider key the user has, by where it is: what redaction hides. The
    environment's variables, the credentials file's keys (as ``credentials.toml:PROVIDER``)
    and the workspace ``.env``'s key variables, used or not."""
    found: dict[str, str] = {}
    stored = stored_keys(credentials)
    for provider in PROVIDERS:
        for candidate in key_candidates(
            provider, settings, environ, workspace_root, credentials=stored
        ):
            name = (
                f"{CREDENTIALS_FILE_NAME}:{provider}"
                if candidate.source == "credentials"
                else candidate.name
            )
            found.setdefault(name, candidate.value)
    return found


def find_base_url(
    provider: str, settings: Settings, environ: Mapping[str, str], *, use_override: bool = True
) -> str | None:
    """The base URL for ``provider`` by the documented precedence (``None`` for offline)."""
    spec = PROVIDERS[provider]
    if spec.default_base_url is None:
        return None
    if use_override and settings.base_url:
        return settings.base_url
    for name in (tau_base_url_var(provider), *spec.base_url_vars):
        value = environ.get(name, "").strip()
        if value:
            return value
    return provider_settings(settings, provider).base_url or spec.default_base_url


def is_custom_url(provider: str, base_url: str | None) -> bool:
    """Whether ``base_url`` is not ``provider``'s own (a proxy, a local server)."""
    default = PROVIDERS[provider].default_base_url
    return (
        base_url is not None and default is not None and base_url.rstrip("/") != default.rstrip("/")
    )


def suggested_key_var(provider: str, settings: Settings) -> str:
    """The variable to tell a user to set: the vendor's (or the configured) one, which is
    what people set, else tau's own ``TAU_<PROVIDER>_API_KEY``."""
    names = key_vars(provider, settings)
    return names[1] if len(names) > 1 else names[0]


def missing_key_message(model_id: str, provider: str, settings: Settings) -> str:
    """What to tell a user whose model needs a key that none of its sources holds."""
    first = suggested_key_var(provider, settings)
    rest = [name for name in key_vars(provider, settings) if name != first]
    return (
        f"{model_id} needs an API key: set {first} (or {', '.join(rest)}), or store "
        "one with tau onboard"
    )
