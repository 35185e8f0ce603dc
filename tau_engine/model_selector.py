"""``ModelSelector``: which model a runtime talks to, and the provider that reaches it.

A model id (or none: the default, from the keys found) becomes a ``SelectedModel``:
the resolved model and its provider: the routed provider (retries, fallbacks, the
circuit breaker), with ``--record`` the recorder, all inside the safety layer's
redaction funnel (the recorder and the provider see the redacted request). The
breaker lives as long as the selector, so switching models keeps what was learnt
about failing routes. A provider that is replaced stays
open until ``aclose``: a turn may still hold it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tau_engine.config import Settings
from tau_engine.safety.redaction import RedactionFilter

if TYPE_CHECKING:
    from tau_engine.events import Notice
    from tau_engine.providers.base import Provider
    from tau_engine.providers.catalog import ModelInfo
    from tau_engine.providers.registry import ResolvedModel

RouteEvents = Callable[["Notice"], None]
"""Told of each retry, fallback and breaker change: a notice of a route kind."""

OFFLINE_FALLBACK_NOTICE = (
    "no model configured and no API key found: using offline/echo. Set "
    "ANTHROPIC_API_KEY, OPENAI_API_KEY or GEMINI_API_KEY, or pass --model "
    "provider/model (see docs/providers.md)"
)


@dataclass(frozen=True)
class SelectedModel:
    """A model ready to stream from. ``warnings`` are what the user should be told
    about the choice (a model missing from the catalog, the offline fallback)."""

    resolved: ResolvedModel
    provider: Provider
    warnings: list[str] = field(default_factory=list)

    @property
    def model_id(self) -> str:
        return self.resolved.model_id

    @property
    def provider_name(self) -> str:
        return self.resolved.provider

    @property
    def context_window(self) -> int:
        """The catalog's context window, else the registry's default."""
        return self.resolved.context_window

    @property
    def info(self) -> ModelInfo | None:
        """The catalog's entry (prices, limits); None for a model not in it."""
        return self.resolved.info


class ModelSelector:
    """Selects models for one workspace's settings and environment."""

    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str],
        root: Path,
        redaction: RedactionFilter,
        *,
        script_path: Path | None = None,
        record_path: Path | None = None,
        on_route_event: RouteEvents | None = None,
    ) -> None:
        from tau_engine.providers.breaker import CircuitBreaker
        from tau_engine.providers.breaker_journal import BreakerJournal

        self.settings = settings
        self.environ = dict(environ)
        self.root = root
        self.redaction = redaction
        self.script_path = script_path
        self.record_path = record_path
        self.on_route_event = on_route_event
        self.current: SelectedModel | None = None
        # One breaker across model switches; its changes reach ``tau status`` by the journal.
        self._breaker = CircuitBreaker(journal=BreakerJournal.for_workspace(root))
        self._retired: list[Provider] = []

    def select(self, model_id: str | None, *, announce_offline: bool = True) -> SelectedModel:
        """Resolve ``model_id`` (None: the default) and make it current.

        Raises ``UsageError`` (an unknown model, a missing key) and leaves the current
        model as it was. The offline fallback is announced in ``warnings`` when nothing
        was asked for, unless ``announce_offline`` is false."""
        from tau_engine.providers.factory import create_routed_provider
        from tau_engine.providers.redacting import RedactingProvider
        from tau_engine.providers.registry import default_model, resolve_model

        chosen = model_id or default_model(self.settings, self.environ, self.root)
        resolved = resolve_model(chosen, self.settings, self.environ, self.root)
        provider: Provider = create_routed_provider(
            resolved,
            self.settings,
            self.environ,
            self.root,
            script_path=self.script_path,
            on_event=self.on_route_event,
            breaker=self._breaker,
        )
        if self.record_path is not None:
            from tau_engine.providers.recording import RecordingProvider

            provider = RecordingProvider(
                provider, self.record_path, redact=self.redaction.redact_data
            )
        # Outermost: the recorder and the provider see the redacted request.
        provider = RedactingProvider(provider, self.redaction)
        warnings = [resolved.warning] if resolved.warning else []
        if (
            resolved.provider == "offline"
            and not model_id
            and not self.settings.model
            and announce_offline
        ):
            warnings.append(OFFLINE_FALLBACK_NOTICE)
        if self.current is not None:
            self._retired.append(self.current.provider)
        self.current = SelectedModel(resolved=resolved, provider=provider, warnings=warnings)
        return self.current

    async def aclose(self) -> None:
        """Close every provider this selector made, the current one included."""
        providers = [*self._retired, *([self.current.provider] if self.current else [])]
        self._retired = []
        self.current = None
        for provider in providers:
            await provider.aclose()
