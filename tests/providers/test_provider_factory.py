"""Building provider clients from a resolved model: each provider's wire format, its
timeout, the offline provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tau_engine.config import Settings
from tau_engine.conversation import Message
from tau_engine.errors import ProviderError
from tau_engine.providers.base import ProviderRequest
from tau_engine.providers.factory import create_provider
from tau_engine.providers.registry import (
    resolve_model,
)
from tests.support.scripted_server import ScriptedResponse, ScriptedServer


def settings(**values: Any) -> Settings:
    return Settings.model_validate(values)


# -- building clients ----------------------------------------------------------------------

# provider, model, key variable, base URL suffix, expected request path, auth header
WIRE_CASES = [
    ("openai", "gpt-5", "OPENAI_API_KEY", "/v1", "/v1/chat/completions", "authorization"),
    ("openai", "gpt-5-pro", "OPENAI_API_KEY", "/v1", "/v1/responses", "authorization"),
    ("anthropic", "claude-haiku-4-5", "ANTHROPIC_API_KEY", "", "/v1/messages", "x-api-key"),
    (
        "gemini",
        "gemini-2.5-flash",
        "GEMINI_API_KEY",
        "",
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        "x-goog-api-key",
    ),
    (
        "openrouter",
        "anthropic/claude-sonnet-4.5",
        "OPENROUTER_API_KEY",
        "/api/v1",
        "/api/v1/chat/completions",
        "authorization",
    ),
    ("deepseek", "deepseek-chat", "DEEPSEEK_API_KEY", "", "/chat/completions", "authorization"),
    ("xai", "grok-4", "XAI_API_KEY", "/v1", "/v1/chat/completions", "authorization"),
    (
        "mistral",
        "mistral-small-latest",
        "MISTRAL_API_KEY",
        "/v1",
        "/v1/chat/completions",
        "authorization",
    ),
    ("ollama", "llama3.2", "TAU_OLLAMA_API_KEY", "/v1", "/v1/chat/completions", "authorization"),
]


@pytest.mark.parametrize(("provider", "model", "key_var", "suffix", "path", "auth"), WIRE_CASES)
async def test_create_provider_speaks_each_providers_wire_format(
    scripted_server: ScriptedServer,
    provider: str,
    model: str,
    key_var: str,
    suffix: str,
    path: str,
    auth: str,
) -> None:
    env = {
        key_var: "sk-wire-test",
        f"TAU_{provider.upper()}_BASE_URL": scripted_server.url + suffix,
    }
    resolved = resolve_model(f"{provider}/{model}", settings(), env, None)
    client = create_provider(resolved, settings())
    assert client.name == provider
    scripted_server.add(
        ScriptedResponse.json(
            401, {"error": {"message": "bad key", "type": "authentication_error"}}
        )
    )
    request = ProviderRequest(
        model=resolved.model, system="s", messages=[Message(role="user", content="hi")]
    )
    try:
        with pytest.raises(ProviderError) as caught:
            async for _ in client.stream(request):
                pass
    finally:
        await client.aclose()
    sent = scripted_server.requests[0]
    assert sent.path.startswith(path)
    assert "sk-wire-test" in sent.headers[auth]
    assert caught.value.kind == "auth"
    # The key's variable reaches the client as its hint for auth failures.
    assert key_var in str(caught.value)


def test_create_provider_passes_the_timeout() -> None:
    env = {"OPENAI_API_KEY": "k"}
    conf = settings(request_timeout_s=42.0, providers={"anthropic": {"timeout_s": 7.0}})
    openai = create_provider(resolve_model("openai/gpt-5", conf, env, None), conf)
    assert openai._client.timeout.read == 42.0  # type: ignore[attr-defined]
    claude = create_provider(
        resolve_model("anthropic/claude-haiku-4-5", conf, {"ANTHROPIC_API_KEY": "k"}, None), conf
    )
    assert claude._client.timeout.read == 7.0  # type: ignore[attr-defined]


async def test_create_provider_builds_the_offline_provider(tmp_path: Path) -> None:
    from tau_engine.providers.offline import OfflineProvider

    echo = create_provider(resolve_model("offline/echo", settings(), {}, None), settings())
    assert isinstance(echo, OfflineProvider) and echo.model == "echo"
    script = tmp_path / "turns.json"
    script.write_text('[{"text": "hi"}]')
    replay = create_provider(
        resolve_model("offline/replay", settings(), {}, None), settings(), script_path=script
    )
    assert isinstance(replay, OfflineProvider) and replay.script_path == script
