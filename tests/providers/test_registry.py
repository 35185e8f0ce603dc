"""Model ids, the default model, resolving a model, and request options (keys and base URLs:
``test_key_sources.py``; building clients: ``test_provider_factory.py``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tau_engine.config import Settings
from tau_engine.errors import MissingKeyError, UnknownProviderError, UsageError
from tau_engine.paths import user_config_dir
from tau_engine.providers.registry import (
    ResolvedModel,
    default_model,
    parse_model_id,
    request_options,
    resolve_model,
)
from tau_engine.providers.specs import PROVIDERS


def settings(**values: Any) -> Settings:
    return Settings.model_validate(values)


# -- model ids ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("anthropic/claude-sonnet-4-5", ("anthropic", "claude-sonnet-4-5")),
        ("openrouter/anthropic/claude-sonnet-4.5", ("openrouter", "anthropic/claude-sonnet-4.5")),
        ("OpenAI/gpt-5", ("openai", "gpt-5")),
        ("ollama/gpt-oss:20b", ("ollama", "gpt-oss:20b")),
        (" offline/echo ", ("offline", "echo")),
    ],
)
def test_parse_model_id(model_id: str, expected: tuple[str, str]) -> None:
    assert parse_model_id(model_id) == expected


def test_unknown_provider_names_the_known_ones() -> None:
    with pytest.raises(UnknownProviderError) as caught:
        parse_model_id("foo/bar")
    assert str(caught.value).startswith(
        "unknown provider 'foo' in model id 'foo/bar'; known: anthropic, openai, gemini, "
        "openrouter, deepseek, xai, mistral, ollama, offline"
    )
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("model_id", "hint"),
    [
        ("meta-llama/llama-4-maverick", "did you mean openrouter/meta-llama/llama-4-maverick?"),
        (
            "google/gemini-2.5-pro",
            "did you mean gemini/gemini-2.5-pro or openrouter/google/gemini-2.5-pro?",
        ),
        ("claude/opus", "did you mean anthropic/...?"),
    ],
)
def test_unknown_provider_suggests_the_right_prefix(model_id: str, hint: str) -> None:
    with pytest.raises(UnknownProviderError, match=re.escape(hint)):
        parse_model_id(model_id)


def test_a_bare_model_name_is_a_usage_error_with_a_suggestion() -> None:
    with pytest.raises(UsageError) as caught:
        parse_model_id("gpt-5")
    assert not isinstance(caught.value, UnknownProviderError)
    assert str(caught.value) == (
        "model id 'gpt-5' has no provider: write provider/model, e.g. openai/gpt-5"
    )
    with pytest.raises(UsageError, match=re.escape("e.g. anthropic/claude-sonnet-4-5")):
        parse_model_id("mystery")


def test_a_provider_without_a_model_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="names no model: write openai/MODEL"):
        parse_model_id("openai/")


# -- the default model --------------------------------------------------------------------


def test_default_model_order_and_offline_fallback() -> None:
    every = {
        "OPENAI_API_KEY": "o",
        "ANTHROPIC_API_KEY": "a",
        "GEMINI_API_KEY": "g",
        "DEEPSEEK_API_KEY": "d",
        "OPENROUTER_API_KEY": "r",
    }
    assert default_model(settings(), every) == "anthropic/claude-sonnet-4-5"
    assert (
        default_model(settings(), {"OPENAI_API_KEY": "o", "GOOGLE_API_KEY": "g"}) == "openai/gpt-5"
    )
    assert default_model(settings(), {"GOOGLE_API_KEY": "g"}) == "gemini/gemini-2.5-pro"
    assert (
        default_model(settings(), {"OPENROUTER_API_KEY": "r", "DEEPSEEK_API_KEY": "d"})
        == "openrouter/anthropic/claude-sonnet-4.5"
    )
    assert default_model(settings(), {"DEEPSEEK_API_KEY": "d"}) == "deepseek/deepseek-chat"
    assert default_model(settings(), {"XAI_API_KEY": "x"}) == "offline/echo"
    assert default_model(settings(), {}) == "offline/echo"


def test_default_model_prefers_settings_and_sees_dotenv_and_user_defaults(tmp_path: Path) -> None:
    assert default_model(settings(model="xai/grok-4"), {"ANTHROPIC_API_KEY": "a"}) == "xai/grok-4"
    (tmp_path / ".env").write_text("GEMINI_API_KEY=g\n")
    assert default_model(settings(), {}, tmp_path) == "gemini/gemini-2.5-pro"
    conf = settings(providers={"anthropic": {"api_key_env": "MY_CLAUDE"}})
    assert default_model(conf, {"MY_CLAUDE": "k"}) == "anthropic/claude-sonnet-4-5"
    models = user_config_dir() / "models.toml"
    models.parent.mkdir(parents=True, exist_ok=True)
    models.write_text('[defaults]\nanthropic = "claude-haiku-4-5"\n')
    assert default_model(settings(), {"ANTHROPIC_API_KEY": "a"}) == "anthropic/claude-haiku-4-5"


# -- resolving ---------------------------------------------------------------------------


def test_resolve_a_catalog_model_by_alias() -> None:
    resolved = resolve_model(
        "anthropic/claude-sonnet-4-5-20250929",
        settings(),
        {"ANTHROPIC_API_KEY": "sk-ant-secret"},
        None,
    )
    assert resolved.provider == "anthropic" and resolved.model == "claude-sonnet-4-5"
    assert resolved.model_id == "anthropic/claude-sonnet-4-5"
    assert resolved.info is not None and resolved.api == "anthropic"
    assert resolved.context_window == 200_000 and resolved.warning is None
    assert "sk-ant-secret" not in repr(resolved)


def test_resolve_none_uses_the_default_model() -> None:
    assert resolve_model(None, settings(), {}, None).model_id == "offline/echo"


def test_a_model_missing_from_the_catalog_is_accepted_with_a_warning() -> None:
    resolved = resolve_model("openai/gpt-7-preview", settings(), {"OPENAI_API_KEY": "k"}, None)
    assert resolved.info is None and resolved.model == "gpt-7-preview"
    assert resolved.api == "chat" and resolved.context_window == 128_000
    assert resolved.max_output_tokens == 8_192
    assert resolved.warning is not None
    assert "openai/gpt-7-preview is not in the model catalog" in resolved.warning


def test_a_deprecated_model_warns() -> None:
    resolved = resolve_model(
        "anthropic/claude-opus-4-0", settings(), {"ANTHROPIC_API_KEY": "k"}, None
    )
    assert resolved.warning is not None and "deprecated" in resolved.warning


@pytest.mark.parametrize(
    ("model_id", "conf", "message"),
    [
        (
            "anthropic/claude-sonnet-4-5",
            {},
            "anthropic/claude-sonnet-4-5 needs an API key: set "
            "ANTHROPIC_API_KEY (or TAU_ANTHROPIC_API_KEY)",
        ),
        (
            "gemini/gemini-2.5-pro",
            {},
            "gemini/gemini-2.5-pro needs an API key: set "
            "GEMINI_API_KEY (or TAU_GEMINI_API_KEY, GOOGLE_API_KEY)",
        ),
        (
            "openai/gpt-5",
            {"providers": {"openai": {"api_key_env": "WORK_KEY"}}},
            "openai/gpt-5 needs an API key: set WORK_KEY (or TAU_OPENAI_API_KEY, OPENAI_API_KEY)",
        ),
        (
            "anthropic/claude-haiku-4-5",
            {"base_url": "http://127.0.0.1:9"},
            "anthropic/claude-haiku-4-5 needs an API key",
        ),
    ],
)
def test_missing_keys(model_id: str, conf: dict[str, Any], message: str) -> None:
    with pytest.raises(MissingKeyError) as caught:
        resolve_model(model_id, settings(**conf), {}, None)
    assert str(caught.value) == message or str(caught.value).startswith(message)


def test_providers_that_need_no_key() -> None:
    assert resolve_model("ollama/llama3.2", settings(), {}, None).api_key is None
    assert resolve_model("offline/replay", settings(), {}, None).base_url is None
    # An OpenAI-compatible server at a custom URL (a proxy, a local server) may be keyless.
    custom = resolve_model("openai/gpt-5", settings(), {"OPENAI_BASE_URL": "http://local/v1"}, None)
    assert custom.api_key is None and custom.base_url == "http://local/v1"


def test_offline_models_are_echo_and_replay_only() -> None:
    with pytest.raises(UsageError, match="unknown offline model 'parrot'"):
        resolve_model("offline/parrot", settings(), {}, None)


# -- request options ---------------------------------------------------------------------


def test_request_options_for_openrouter_and_anthropic() -> None:
    conf = settings(
        providers={
            "openrouter": {
                "site_url": "https://example.org",
                "site_name": "tau",
                "order": ["anthropic", "google"],
                "allow": ["anthropic"],
                "deny": ["shady"],
            },
            "anthropic": {"prompt_caching": True},
            "openai": {"prompt_caching": True},
        }
    )
    env = {"OPENROUTER_API_KEY": "k", "ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k"}
    router = resolve_model("openrouter/anthropic/claude-sonnet-4.5", conf, env, None)
    assert request_options(router, conf) == {
        "site_url": "https://example.org",
        "site_name": "tau",
        "provider_order": ["anthropic", "google"],
        "provider_allow": ["anthropic"],
        "provider_deny": ["shady"],
    }
    claude = resolve_model("anthropic/claude-sonnet-4-5", conf, env, None)
    assert request_options(claude, conf) == {"prompt_caching": True}
    assert request_options(resolve_model("openai/gpt-5", conf, env, None), conf) == {}
    assert request_options(router, settings()) == {}


# -- the registry itself ------------------------------------------------------------------


def test_every_provider_is_in_the_catalog_and_the_registry() -> None:
    from tau_engine.providers.catalog import DEFAULT_API

    assert list(PROVIDERS) == list(DEFAULT_API)


def test_importing_the_registry_does_not_import_httpx() -> None:
    code = (
        "import sys, tau_engine.providers.registry, tau_engine.providers.router; "
        "print('httpx' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "False"


def test_resolved_model_is_frozen() -> None:
    resolved = ResolvedModel(
        provider="offline", model="echo", model_id="offline/echo", info=None, base_url=None
    )
    with pytest.raises(AttributeError):
        resolved.model = "replay"  # type: ignore[misc]


def test_thinking_budget_reaches_anthropic_requests_only() -> None:
    from pathlib import Path

    from tau_engine.config import ProviderSettings, Settings
    from tau_engine.providers.registry import request_options, resolve_model

    settings = Settings(
        providers={
            "anthropic": ProviderSettings(thinking_budget=8000),
            "openai": ProviderSettings(thinking_budget=8000),
        }
    )
    env = {"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}
    anthropic = resolve_model("anthropic/claude-sonnet-4-5", settings, env, Path("/nonexistent"))
    assert request_options(anthropic, settings)["thinking_budget"] == 8000
    openai = resolve_model("openai/gpt-4.1", settings, env, Path("/nonexistent"))
    assert "thinking_budget" not in request_options(openai, settings)
