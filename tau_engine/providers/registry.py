"""The providers tau knows, how a model id picks one, and where its key and URL come from.

A model id is ``provider/model`` (``anthropic/claude-sonnet-4-5``); OpenRouter
ids keep their own slash (``openrouter/anthropic/claude-sonnet-4.5``).

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

Importing this module is cheap: it imports no provider client (nor httpx). Clients
are built from a ``ResolvedModel`` by ``providers/factory.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tau_engine.config import ProviderSettings, Settings
from tau_engine.config.credentials import CREDENTIALS_FILE_NAME, CredentialsFile
from tau_engine.errors import ConfigError, MissingKeyError, UnknownProviderError, UsageError
from tau_engine.providers.catalog import (
    DEFAULT_API,
    DEFAULT_CONTEXT_WINDOW,
    DEFAULT_MAX_OUTPUT_TOKENS,
    USER_CATALOG_NAME,
    Api,
    Catalog,
    ModelInfo,
    load_catalog,
)
from tau_engine.providers.dotenv import DOTENV_NAME, merged_environ, read_dotenv


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """How to reach one provider: its default URL and where its key may be."""

    name: str
    default_base_url: str | None
    key_vars: tuple[str, ...] = ()  # the vendor's own variables, in order
    base_url_vars: tuple[str, ...] = ()
    needs_key: bool = True
    # Speaks the OpenAI wire format: a custom base URL (a proxy, a local
    # server) may then be used without a key.
    openai_compatible: bool = True


PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec(
            "anthropic",
            "https://api.anthropic.com",
            ("ANTHROPIC_API_KEY",),
            ("ANTHROPIC_BASE_URL",),
            openai_compatible=False,
        ),
        ProviderSpec(
            "openai", "https://api.openai.com/v1", ("OPENAI_API_KEY",), ("OPENAI_BASE_URL",)
        ),
        ProviderSpec(
            "gemini",
            "https://generativelanguage.googleapis.com",
            ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
            openai_compatible=False,
        ),
        ProviderSpec("openrouter", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",)),
        ProviderSpec("deepseek", "https://api.deepseek.com", ("DEEPSEEK_API_KEY",)),
        ProviderSpec("xai", "https://api.x.ai/v1", ("XAI_API_KEY",)),
        ProviderSpec("mistral", "https://api.mistral.ai/v1", ("MISTRAL_API_KEY",)),
        ProviderSpec("ollama", "http://localhost:11434/v1", needs_key=False),
        ProviderSpec("offline", None, needs_key=False, openai_compatible=False),
    )
}

# Who is picked when no model is configured: the first provider with a key.
DEFAULT_PROVIDER_ORDER = ("anthropic", "openai", "gemini", "openrouter", "deepseek")
OFFLINE_MODEL_ID = "offline/echo"
OFFLINE_MODELS = ("echo", "replay")

# Common prefixes that are not provider names, and what to type instead.
_PREFIX_HINTS = {
    "google": "gemini",
    "claude": "anthropic",
    "x-ai": "xai",
    "grok": "xai",
    "gpt": "openai",
}


def tau_key_var(provider: str) -> str:
    """``TAU_<PROVIDER>_API_KEY``: tau's own key variable for ``provider``."""
    return f"TAU_{provider.upper()}_API_KEY"


def tau_base_url_var(provider: str) -> str:
    """``TAU_<PROVIDER>_BASE_URL``: tau's own base URL variable for ``provider``."""
    return f"TAU_{provider.upper()}_BASE_URL"


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A model id turned into everything needed to call it. ``api_key`` is never printed."""

    provider: str
    model: str  # without the provider prefix, as the provider's API wants it
    model_id: str  # provider/model, with aliases resolved
    info: ModelInfo | None  # None: not in the catalog
    base_url: str | None
    api_key: str | None = field(default=None, repr=False)
    key_env: str | None = None  # the variable that held the key
    warning: str | None = None

    @property
    def api(self) -> Api:
        """The wire format: the catalog's word, else the provider's default."""
        return self.info.api if self.info is not None else DEFAULT_API[self.provider]

    @property
    def context_window(self) -> int:
        return self.info.context_window if self.info is not None else DEFAULT_CONTEXT_WINDOW

    @property
    def max_output_tokens(self) -> int:
        return self.info.max_output_tokens if self.info is not None else DEFAULT_MAX_OUTPUT_TOKENS


# -- model ids -------------------------------------------------------------------


def parse_model_id(model_id: str) -> tuple[str, str]:
    """Split ``provider/model``; raise ``UsageError``/``UnknownProviderError`` with a hint."""
    text = model_id.strip()
    provider, slash, model = text.partition("/")
    provider = provider.lower()
    if not slash:
        raise UsageError(
            f"model id '{text}' has no provider: write provider/model, "
            f"e.g. {_suggest_for_bare(text)}"
        )
    if provider not in PROVIDERS:
        known = ", ".join(PROVIDERS)
        hint = _suggest_for_prefix(provider, model)
        raise UnknownProviderError(
            f"unknown provider '{provider}' in model id '{text}'; known: {known}{hint}"
        )
    if not model.strip():
        raise UsageError(
            f"model id '{text}' names no model: write {provider}/MODEL "
            f"(tau models --provider {provider} lists them)"
        )
    return provider, model.strip()


def _quiet_catalog() -> Catalog | None:
    """The catalog for hints only: a broken user file must not hide the real error."""
    try:
        return load_catalog()
    except ConfigError:
        return None


def _suggest_for_bare(model: str) -> str:
    catalog = _quiet_catalog()
    matches = catalog.find(model) if catalog is not None else []
    if matches:
        return " or ".join(m.model_id for m in matches[:3])
    return "anthropic/claude-sonnet-4-5 (tau models lists the known ones)"


def _suggest_for_prefix(provider: str, model: str) -> str:
    catalog = _quiet_catalog()
    direct = _PREFIX_HINTS.get(provider)
    found = []
    if catalog is not None and direct and catalog.get(direct, model) is not None:
        found.append(f"{direct}/{model}")
    if catalog is not None and catalog.get("openrouter", f"{provider}/{model}") is not None:
        found.append(f"openrouter/{provider}/{model}")
    if not found and direct:
        found.append(f"{direct}/...")
    return f"; did you mean {' or '.join(found)}?" if found else ""


# -- keys and URLs -------------------------------------------------------------------

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


def _is_custom_url(provider: str, base_url: str | None) -> bool:
    default = PROVIDERS[provider].default_base_url
    return (
        base_url is not None and default is not None and base_url.rstrip("/") != default.rstrip("/")
    )


def suggested_key_var(provider: str, settings: Settings) -> str:
    """The variable to tell a user to set: the vendor's (or the configured) one, which is
    what people set, else tau's own ``TAU_<PROVIDER>_API_KEY``."""
    names = key_vars(provider, settings)
    return names[1] if len(names) > 1 else names[0]


def _missing_key_message(model_id: str, provider: str, settings: Settings) -> str:
    first = suggested_key_var(provider, settings)
    rest = [name for name in key_vars(provider, settings) if name != first]
    return (
        f"{model_id} needs an API key: set {first} (or {', '.join(rest)}), or store "
        "one with tau onboard"
    )


# -- choosing and resolving -------------------------------------------------------------


def default_model(
    settings: Settings, environ: Mapping[str, str], workspace_root: Path | None = None
) -> str:
    """``settings.model``, else the default model of the first provider with a key
    (anthropic, openai, gemini, openrouter, deepseek), else ``offline/echo``."""
    if settings.model:
        return settings.model
    stored = stored_keys()
    env = provider_environ(settings, environ, workspace_root, credentials=stored)
    catalog = load_catalog()
    for provider in DEFAULT_PROVIDER_ORDER:
        key, _ = find_api_key(provider, settings, env, credentials=stored)
        model = catalog.default_model(provider)
        if key and model:
            return f"{provider}/{model}"
    return OFFLINE_MODEL_ID


def resolve_model(
    model_id: str | None,
    settings: Settings,
    environ: Mapping[str, str],
    workspace_root: Path | None,
    *,
    use_base_url_override: bool = True,
    catalog: Catalog | None = None,
) -> ResolvedModel:
    """Turn a model id (``None``: the default) into a ``ResolvedModel``.

    ``use_base_url_override=False`` ignores ``settings.base_url``; fallback
    routes to another provider use it, since ``--base-url`` names the chosen
    model's server. Raises ``UsageError``, ``UnknownProviderError`` or
    ``MissingKeyError``.
    """
    stored = stored_keys()
    env = provider_environ(settings, environ, workspace_root, credentials=stored)
    chosen = model_id or default_model(settings, env)
    provider, model = parse_model_id(chosen)
    catalog = catalog if catalog is not None else load_catalog()
    info = catalog.get(provider, model)
    if provider == "offline" and model not in OFFLINE_MODELS:
        raise UsageError(f"unknown offline model '{model}': use offline/echo or offline/replay")
    canonical = info.id if info is not None else model
    full_id = f"{provider}/{canonical}"
    warning = None
    if info is None:
        warning = (
            f"{full_id} is not in the model catalog: assuming a "
            f"{DEFAULT_CONTEXT_WINDOW:,}-token context window and an unknown price "
            f"(describe it in {USER_CATALOG_NAME} in the user config dir)"
        )
    elif info.deprecated:
        warning = f"{full_id} is deprecated by its provider and may stop working"
    base_url = find_base_url(provider, settings, env, use_override=use_base_url_override)
    key, key_env = find_api_key(provider, settings, env, credentials=stored)
    spec = PROVIDERS[provider]
    if (
        key is None
        and spec.needs_key
        and not (spec.openai_compatible and _is_custom_url(provider, base_url))
    ):
        raise MissingKeyError(_missing_key_message(full_id, provider, settings))
    return ResolvedModel(
        provider=provider,
        model=canonical,
        model_id=full_id,
        info=info,
        base_url=base_url,
        api_key=key,
        key_env=key_env,
        warning=warning,
    )


# -- building providers --------------------------------------------------------------


def request_options(resolved: ResolvedModel, settings: Settings) -> dict[str, Any]:
    """Provider options the engine copies into every ``ProviderRequest.options``.

    OpenRouter: ``site_url``/``site_name`` (attribution headers) and
    ``provider_order``/``provider_allow``/``provider_deny`` (routing);
    Anthropic: ``prompt_caching`` and ``thinking_budget``. Only options that are set are
    present.
    """
    conf = provider_settings(settings, resolved.provider)
    options: dict[str, Any] = {}
    if resolved.provider == "openrouter":
        for key, value in (
            ("site_url", conf.site_url),
            ("site_name", conf.site_name),
            ("provider_order", conf.order),
            ("provider_allow", conf.allow),
            ("provider_deny", conf.deny),
        ):
            if value:
                options[key] = value
    if resolved.api == "anthropic" and conf.prompt_caching:
        options["prompt_caching"] = True
    if resolved.api == "anthropic" and conf.thinking_budget:
        options["thinking_budget"] = conf.thinking_budget
    return options
