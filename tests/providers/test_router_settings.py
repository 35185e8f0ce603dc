"""Fallback routes built from settings by the provider factory, and a fallback over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tau_engine.config import Settings
from tau_engine.conversation import Message
from tau_engine.errors import ConfigError
from tau_engine.providers.base import ProviderRequest
from tau_engine.providers.factory import create_routed_provider
from tau_engine.providers.registry import resolve_model
from tau_engine.providers.router import CircuitBreaker, RoutedProvider
from tests.providers.test_router import FakeClock, Recorder, collect
from tests.support.openai_script import openai_answer
from tests.support.provider_run import text_of
from tests.support.scripted_server import ScriptedResponse, ScriptedServer


def settings(**values: Any) -> Settings:
    return Settings.model_validate(values)


async def test_fallbacks_from_settings_build_routes(tmp_path: Path) -> None:
    conf = settings(
        max_retries=0,
        fallbacks={
            "anthropic/claude-sonnet-4-5-20250929": [  # an alias matches its model
                "openrouter/anthropic/claude-sonnet-4.5",
                "xai/grok-4",
            ]
        },
        providers={"openrouter": {"order": ["anthropic"]}},
    )
    env = {"ANTHROPIC_API_KEY": "a", "OPENROUTER_API_KEY": "r"}
    resolved = resolve_model("anthropic/claude-sonnet-4-5", conf, env, tmp_path)
    events = Recorder()
    routed = create_routed_provider(
        resolved, conf, env, tmp_path, on_event=events, breaker=CircuitBreaker(clock=FakeClock())
    )
    try:
        assert isinstance(routed, RoutedProvider)
        assert [r.model_id for r in routed.routes] == [
            "anthropic/claude-sonnet-4-5",
            "openrouter/anthropic/claude-sonnet-4.5",
        ]
        assert routed.routes[1].options == {"provider_order": ["anthropic"]}
        assert routed.routes[1].info is not None
        assert routed.call_log is not None
        assert routed.call_log.path == tmp_path / ".tau" / "logs" / "provider.jsonl"
    finally:
        await routed.aclose()


async def test_a_fallback_without_a_key_is_skipped_with_a_notice(tmp_path: Path) -> None:
    conf = settings(fallbacks={"offline/echo": ["xai/grok-4"]})
    resolved = resolve_model("offline/echo", conf, {}, tmp_path)
    events = Recorder()
    routed = create_routed_provider(resolved, conf, {}, tmp_path, on_event=events)
    assert isinstance(routed, RoutedProvider) and len(routed.routes) == 1
    await collect(routed)
    assert events.kinds() == ["fallback_skipped"]
    assert "xai/grok-4 needs an API key: set XAI_API_KEY" in events.events[0][1]["message"]
    await collect(routed)
    assert events.kinds() == ["fallback_skipped"]  # said once


def test_a_malformed_fallback_id_is_a_config_error(tmp_path: Path) -> None:
    conf = settings(fallbacks={"offline/echo": ["nowhere/model"]})
    resolved = resolve_model("offline/echo", conf, {}, tmp_path)
    with pytest.raises(ConfigError, match="fallbacks for offline/echo: unknown provider"):
        create_routed_provider(resolved, conf, {}, tmp_path)


async def test_end_to_end_fallback_over_http(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    """openai answers 503, the OpenRouter fallback streams the answer: over real HTTP."""
    scripted_server.add(
        ScriptedResponse.json(
            503,
            {"error": {"message": "down for maintenance", "type": "server_error"}},
        ),
        openai_answer("fallback speaking"),
    )
    scripted_server.requests.clear()
    env = {
        "OPENAI_API_KEY": "sk-primary",
        "OPENROUTER_API_KEY": "sk-or",
        "TAU_OPENAI_BASE_URL": scripted_server.url + "/openai/v1",
        "TAU_OPENROUTER_BASE_URL": scripted_server.url + "/openrouter/v1",
    }
    conf = settings(
        max_retries=0,
        fallbacks={"openai/gpt-5": ["openrouter/openai/gpt-5"]},
        providers={"openrouter": {"site_name": "tau-tests"}},
    )
    resolved = resolve_model("openai/gpt-5", conf, env, tmp_path)
    events = Recorder()
    routed = create_routed_provider(
        resolved, conf, env, tmp_path, on_event=events, breaker=CircuitBreaker(clock=FakeClock())
    )
    try:
        got = await collect(
            routed,
            ProviderRequest(
                model="gpt-5", system="s", messages=[Message(role="user", content="hi")]
            ),
        )
    finally:
        await routed.aclose()
    assert text_of(got) == "fallback speaking"
    paths = [r.path for r in scripted_server.requests]
    assert paths == ["/openai/v1/chat/completions", "/openrouter/v1/chat/completions"]
    second = scripted_server.requests[1]
    assert second.json["model"] == "openai/gpt-5"
    assert second.headers["authorization"] == "Bearer sk-or"
    assert second.headers["x-title"] == "tau-tests"
    assert events.kinds() == ["fallback"]
    log = (tmp_path / ".tau" / "logs" / "provider.jsonl").read_text()
    assert "sk-primary" not in log and "sk-or" not in log
    assert [json.loads(line)["status"] for line in log.splitlines()] == ["server", "ok"]
