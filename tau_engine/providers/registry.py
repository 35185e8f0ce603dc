"""How a model id picks a provider and a model, and everything needed to call it.

A model id is ``provider/model`` (``anthropic/claude-sonnet-4-5``); OpenRouter
ids keep their own slash (``openrouter/anthropic/claude-sonnet-4.5``). A wrong id gets
a hint (a bare model name, a vendor's name used as a provider). ``resolve_model`` turns
an id (or the default: the first provider with a key) into a ``ResolvedModel`` with its
catalog entry, base URL and key; the providers are listed in ``specs.py`` and where a
key or URL comes from is said in ``key_sources.py``.

Importing this module is cheap: it imports no provider client (nor httpx). Clients
are built from a ``ResolvedModel`` by ``providers/factory.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tau_engine.config import Settings
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
from tau_engine.providers.key_sources import (
    find_api_key,
    find_base_url,
    is_custom_url,
    missing_key_message,
    provider_environ,
    provider_settings,
    stored_keys,
)
from tau_engine.providers.specs import (
    DEFAULT_PROVIDER_ORDER,
    OFFLINE_MODEL_ID,
    OFFLINE_MODELS,
    PROVIDERS,
)

# Common prefixes that are not provider names, and what to type instead.
_PREFIX_HINTS = {
    "google": "gemini",
    "claude": "anthropic",
    "x-ai": "xai",
    "grok": "xai",
    "gpt": "openai",
}


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
        and not (spec.openai_compatible and is_custom_url(provider, base_url))
    ):
        raise MissingKeyError(missing_key_message(full_id, provider, settings))
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
