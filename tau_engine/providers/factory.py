"""Assembling providers from settings: a resolved model's client, and the routed provider
with its fallbacks, retries, circuit breaker and call log.

``registry.py`` says which provider a model id names (``key_sources.py`` where its key
and URL come from); ``router.py`` routes calls over built clients. This module is the one place that
uses both, so neither imports the other. Importing it stays cheap: each client (and
httpx with it) is imported only when one is built.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from tau_engine.config import Settings
from tau_engine.errors import ConfigError, MissingKeyError, UsageError
from tau_engine.providers.base import Provider
from tau_engine.providers.breaker import CircuitBreaker
from tau_engine.providers.breaker_journal import BreakerJournal
from tau_engine.providers.call_log import ProviderCallLog
from tau_engine.providers.catalog import Api, load_catalog
from tau_engine.providers.key_sources import provider_settings, suggested_key_var
from tau_engine.providers.registry import (
    ResolvedModel,
    parse_model_id,
    request_options,
    resolve_model,
)
from tau_engine.providers.retry import RetryPolicy
from tau_engine.providers.router import Route, RoutedProvider, RouteEventSink


def _client_class(api: Api) -> Callable[..., Provider]:
    # Imported here: each client pulls in httpx, which a plain `tau --help` never needs.
    if api == "anthropic":
        from tau_engine.providers.anthropic import AnthropicProvider

        return AnthropicProvider
    if api == "gemini":
        from tau_engine.providers.gemini import GeminiProvider

        return GeminiProvider
    if api == "responses":
        from tau_engine.providers.openai_responses import OpenAIResponsesProvider

        return OpenAIResponsesProvider
    from tau_engine.providers.openai_chat import OpenAIChatProvider

    return OpenAIChatProvider


def create_provider(
    resolved: ResolvedModel,
    settings: Settings,
    *,
    script_path: Path | None = None,
    client: Any = None,
) -> Provider:
    """Build the client for ``resolved``: by its wire format (``info.api``, else the
    provider's default), with the request timeout and the key's variable as hint.

    ``client`` (an ``httpx.AsyncClient``) is shared and left open by the provider.
    """
    if resolved.provider == "offline":
        from tau_engine.providers.offline import OfflineProvider

        offline: Provider = OfflineProvider(model=resolved.model, script_path=script_path)
        return offline
    assert resolved.base_url is not None, "every HTTP provider has a base URL"
    timeout = provider_settings(settings, resolved.provider).timeout_s
    cls = _client_class(resolved.api)
    return cls(
        name=resolved.provider,
        base_url=resolved.base_url,
        api_key=resolved.api_key,
        timeout_s=timeout or settings.request_timeout_s,
        client=client,
        # With no key, a 401 names the variable to set instead of the one used.
        key_hint=resolved.key_env or suggested_key_var(resolved.provider, settings),
    )


def fallbacks_for(model_id: str, settings: Settings) -> list[str]:
    """The fallback model ids configured for ``model_id`` (matched by id or alias)."""
    if model_id in settings.fallbacks:
        return list(settings.fallbacks[model_id])
    catalog = load_catalog()
    for key, targets in settings.fallbacks.items():
        try:
            provider, model = parse_model_id(key)
        except UsageError as exc:
            raise ConfigError(f"fallbacks: {exc}") from exc
        info = catalog.get(provider, model)
        if f"{provider}/{info.id if info else model}" == model_id:
            return list(targets)
    return []


def create_routed_provider(
    resolved: ResolvedModel,
    settings: Settings,
    environ: Mapping[str, str],
    workspace_root: Path | None,
    *,
    script_path: Path | None = None,
    on_event: RouteEventSink | None = None,
    breaker: CircuitBreaker | None = None,
    call_log: ProviderCallLog | None = None,
    retry_policy: RetryPolicy | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> RoutedProvider:
    """The provider the engine streams from: the primary route for ``resolved`` plus its
    configured fallbacks, with retries, a circuit breaker and the call log.

    A fallback whose key is missing is skipped with a notice at the first call;
    a malformed fallback id is a ``ConfigError``. The call log defaults to the
    workspace's ``.tau/logs/provider.jsonl``; retries follow ``max_retries``. Pass
    the same ``breaker`` to every build of one engine to keep circuit state across
    model switches (a fresh one is made otherwise: no state hides in the module); a fresh
    one journals its changes to ``.tau/logs/breaker.jsonl`` for ``tau status``.
    """
    # Resolve every fallback before building any client, so a bad id leaves nothing open.
    fallbacks: list[ResolvedModel] = []
    warnings: list[str] = []
    for target in fallbacks_for(resolved.model_id, settings):
        try:
            fallback = resolve_model(
                target,
                settings,
                environ,
                workspace_root,
                use_base_url_override=target.startswith(f"{resolved.provider}/"),
            )
        except MissingKeyError as exc:
            warnings.append(f"fallback {target} is not used: {exc}")
            continue
        except UsageError as exc:
            raise ConfigError(f"fallbacks for {resolved.model_id}: {exc}") from exc
        if fallback.model_id != resolved.model_id and all(
            f.model_id != fallback.model_id for f in fallbacks
        ):
            fallbacks.append(fallback)
    routes = [
        Route(
            resolved.model_id,
            create_provider(resolved, settings, script_path=script_path),
            model=resolved.model,
            info=resolved.info,
        )
    ]
    routes += [
        Route(
            f.model_id,
            create_provider(f, settings, script_path=script_path),
            model=f.model,
            info=f.info,
            options=request_options(f, settings),
        )
        for f in fallbacks
    ]
    if call_log is None and workspace_root is not None:
        call_log = ProviderCallLog.for_workspace(workspace_root)
    if breaker is None:
        journal = None if workspace_root is None else BreakerJournal.for_workspace(workspace_root)
        breaker = CircuitBreaker(journal=journal)
    return RoutedProvider(
        routes,
        breaker,
        on_event,
        retry_policy=retry_policy or RetryPolicy(max_retries=settings.max_retries),
        call_log=call_log,
        warnings=warnings,
        sleep=sleep,
    )
