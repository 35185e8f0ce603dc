"""The providers tau knows: where each is reached and which variables may hold its key.

``PROVIDERS`` is the one list of them (``registry.py`` resolves model ids against it,
``key_sources.py`` finds keys and URLs by it, onboarding offers it); tau's own variables
(``TAU_<PROVIDER>_API_KEY``, ``TAU_<PROVIDER>_BASE_URL``) come first in every search.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def tau_key_var(provider: str) -> str:
    """``TAU_<PROVIDER>_API_KEY``: tau's own key variable for ``provider``."""
    return f"TAU_{provider.upper()}_API_KEY"


def tau_base_url_var(provider: str) -> str:
    """``TAU_<PROVIDER>_BASE_URL``: tau's own base URL variable for ``provider``."""
    return f"TAU_{provider.upper()}_BASE_URL"
