"""Where a provider's key comes from: the real environment, then the user's credentials
file, then the workspace ``.env``; a cloned repository's ``.env`` never wins. Which
variable wins within a source, and where a base URL comes from."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tau_engine.config import Settings
from tau_engine.config.credentials import CredentialsFile, credentials_path
from tau_engine.engine import Engine
from tau_engine.errors import (
    ConfigError,
)
from tau_engine.paths import WorkspacePaths
from tau_engine.providers.key_sources import (
    find_api_key,
    find_base_url,
    key_candidates,
    mask_key,
    provider_environ,
    provider_key_values,
)
from tau_engine.providers.registry import (
    resolve_model,
)

MINE = "sk-proj-the-users-own-key-0123456789"
THEIRS = "sk-proj-attackers-key-from-dotenv-9876"
STORED = "sk-proj-typed-into-tau-onboard-5555"


def _settings(**values: object) -> Settings:
    return Settings.model_validate(values)


def _hostile_dotenv(root: Path) -> None:
    (root / ".env").write_text(f"TAU_OPENAI_API_KEY={THEIRS}\n")


def test_a_dotenv_tau_key_never_beats_the_users_environment_key(tmp_path: Path) -> None:
    _hostile_dotenv(tmp_path)
    resolved = resolve_model("openai/gpt-5", _settings(), {"OPENAI_API_KEY": MINE}, tmp_path)
    assert (resolved.api_key, resolved.key_env) == (MINE, "OPENAI_API_KEY")
    # Also when the environment was merged first (the engine passes its merged one).
    env = provider_environ(_settings(), {"OPENAI_API_KEY": MINE}, tmp_path)
    assert "TAU_OPENAI_API_KEY" not in env
    assert resolve_model("openai/gpt-5", _settings(), env, tmp_path).api_key == MINE


def test_a_dotenv_key_never_beats_a_configured_key_variable(tmp_path: Path) -> None:
    _hostile_dotenv(tmp_path)
    conf = _settings(providers={"openai": {"api_key_env": "WORK_OPENAI"}})
    resolved = resolve_model("openai/gpt-5", conf, {"WORK_OPENAI": MINE}, tmp_path)
    assert (resolved.api_key, resolved.key_env) == (MINE, "WORK_OPENAI")


def test_the_credentials_file_is_a_key_source_between_environment_and_dotenv(
    tmp_path: Path,
) -> None:
    CredentialsFile().store("openai", STORED)
    resolved = resolve_model("openai/gpt-5", _settings(), {}, None)
    assert (resolved.api_key, resolved.key_env) == (STORED, "credentials.toml")
    _hostile_dotenv(tmp_path)
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={THEIRS}\nTAU_OPENAI_API_KEY={THEIRS}\n")
    assert resolve_model("openai/gpt-5", _settings(), {}, tmp_path).api_key == STORED
    assert (
        resolve_model("openai/gpt-5", _settings(), {"OPENAI_API_KEY": MINE}, tmp_path).api_key
        == MINE
    )


def test_a_dotenv_key_is_still_used_when_the_user_has_none(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={THEIRS}\n")
    assert resolve_model("openai/gpt-5", _settings(), {}, tmp_path).api_key == THEIRS
    # Another provider's key in the environment does not shadow openai's .env key.
    assert (
        resolve_model("openai/gpt-5", _settings(), {"ANTHROPIC_API_KEY": MINE}, tmp_path).api_key
        == THEIRS
    )


def test_key_candidates_list_every_source_in_precedence_order(tmp_path: Path) -> None:
    CredentialsFile().store("openai", STORED)
    (tmp_path / ".env").write_text(f"TAU_OPENAI_API_KEY={THEIRS}\nOPENAI_API_KEY=shadowed\n")
    found = key_candidates("openai", _settings(), {"OPENAI_API_KEY": MINE}, tmp_path)
    assert [(c.source, c.name) for c in found] == [
        ("environment", "OPENAI_API_KEY"),
        ("credentials", "credentials.toml"),
        (".env", "TAU_OPENAI_API_KEY"),
    ]
    assert [c.masked for c in found] == ["…6789", "…5555", "…9876"]
    assert MINE not in repr(found[0])


def test_mask_key_shows_only_the_last_four_of_a_long_key() -> None:
    assert mask_key("sk-abcdefghijklmnopwXyZ") == "…wXyZ"
    assert mask_key("short-key") == "…"


def test_the_credentials_file_is_private_and_atomic() -> None:
    CredentialsFile().store("openai", STORED)
    CredentialsFile().store("anthropic", MINE)
    path = credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert CredentialsFile().keys() == {"anthropic": MINE, "openai": STORED}
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


def test_a_loose_credentials_file_is_reported_with_the_chmod_to_run() -> None:
    CredentialsFile().store("openai", STORED)
    os.chmod(credentials_path(), 0o644)
    problems = CredentialsFile().mode_problems()
    assert len(problems) == 1 and "mode 0644" in problems[0] and "chmod 600" in problems[0]


def test_a_malformed_credentials_file_names_the_file() -> None:
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[keys]\nopenai = 3\n")
    with pytest.raises(ConfigError, match=r"credentials.toml: keys.openai"):
        CredentialsFile().keys()


def test_redaction_knows_keys_from_the_credentials_file(tmp_path: Path) -> None:
    CredentialsFile().store("anthropic", STORED)
    values = provider_key_values(_settings(), {"OPENAI_API_KEY": MINE}, tmp_path)
    assert values == {"OPENAI_API_KEY": MINE, "credentials.toml:anthropic": STORED}


async def test_the_engine_uses_and_redacts_keys_by_that_precedence(tmp_path: Path) -> None:
    _hostile_dotenv(tmp_path)
    CredentialsFile().store("anthropic", STORED)
    engine = await Engine.open(
        workspace=WorkspacePaths(tmp_path),
        settings=_settings(model="openai/gpt-5"),
        environ={"OPENAI_API_KEY": MINE},
    )
    try:
        assert engine.runtime.model.resolved.api_key == MINE
        text = engine.redactor.redact(f"a={MINE} b={STORED} c={THEIRS}")
        assert MINE not in text and STORED not in text and THEIRS not in text
        assert "[REDACTED:credentials.toml:anthropic]" in text
        # The safety layer's funnel (tool results, requests, the store) knows them too.
        funnel = engine.redaction.redact(f"a={MINE} b={STORED} c={THEIRS}")
        assert MINE not in funnel and STORED not in funnel and THEIRS not in funnel
    finally:
        await engine.close()


# -- keys ------------------------------------------------------------------------------


def test_tau_key_variable_wins_over_the_vendor_variable() -> None:
    env = {"ANTHROPIC_API_KEY": "vendor", "TAU_ANTHROPIC_API_KEY": "tau"}
    assert find_api_key("anthropic", _settings(), env) == ("tau", "TAU_ANTHROPIC_API_KEY")
    assert find_api_key("anthropic", _settings(), {"ANTHROPIC_API_KEY": "vendor"}) == (
        "vendor",
        "ANTHROPIC_API_KEY",
    )


def test_gemini_reads_gemini_then_google_key() -> None:
    env = {"GOOGLE_API_KEY": "g", "GEMINI_API_KEY": "m"}
    assert find_api_key("gemini", _settings(), env) == ("m", "GEMINI_API_KEY")
    assert find_api_key("gemini", _settings(), {"GOOGLE_API_KEY": "g"}) == ("g", "GOOGLE_API_KEY")


def test_configured_key_variable_and_empty_values() -> None:
    conf = _settings(providers={"openai": {"api_key_env": "WORK_OPENAI"}})
    env = {"WORK_OPENAI": "work", "OPENAI_API_KEY": "home"}
    assert find_api_key("openai", conf, env) == ("work", "WORK_OPENAI")
    assert (
        find_api_key("openai", conf, {**env, "TAU_OPENAI_API_KEY": "t"})[1] == "TAU_OPENAI_API_KEY"
    )
    assert find_api_key("openai", conf, {"WORK_OPENAI": "  ", "OPENAI_API_KEY": "home"}) == (
        "home",
        "OPENAI_API_KEY",
    )
    assert find_api_key("openai", _settings(), {}) == (None, None)


def test_dotenv_supplies_keys_but_never_overrides_the_environment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "export ANTHROPIC_API_KEY='from-dotenv'\nOPENAI_API_KEY=dotenv-openai  # comment\n"
    )
    resolved = resolve_model("openai/gpt-5", _settings(), {}, tmp_path)
    assert (resolved.api_key, resolved.key_env) == ("dotenv-openai", "OPENAI_API_KEY")
    resolved = resolve_model(
        "anthropic/claude-sonnet-4-5", _settings(), {"ANTHROPIC_API_KEY": "real"}, tmp_path
    )
    assert resolved.api_key == "real"
    assert (
        resolve_model("anthropic/claude-sonnet-4-5", _settings(), {}, tmp_path).api_key
        == "from-dotenv"
    )


# -- base URLs ----------------------------------------------------------------------------


def test_base_url_precedence() -> None:
    layered = _settings(base_url="http://cli", providers={"openai": {"base_url": "http://conf"}})
    env = {"TAU_OPENAI_BASE_URL": "http://tau", "OPENAI_BASE_URL": "http://vendor"}
    assert find_base_url("openai", layered, env) == "http://cli"
    assert find_base_url("openai", layered, env, use_override=False) == "http://tau"
    assert (
        find_base_url("openai", layered, {"OPENAI_BASE_URL": "http://vendor"}, use_override=False)
        == "http://vendor"
    )
    assert find_base_url("openai", layered, {}, use_override=False) == "http://conf"
    assert find_base_url("openai", _settings(), {}) == "https://api.openai.com/v1"
    assert find_base_url("offline", layered, env) is None


def test_default_base_urls() -> None:
    expected = {
        "openai": "https://api.openai.com/v1",
        "anthropic": "https://api.anthropic.com",
        "gemini": "https://generativelanguage.googleapis.com",
        "openrouter": "https://openrouter.ai/api/v1",
        "deepseek": "https://api.deepseek.com",
        "xai": "https://api.x.ai/v1",
        "mistral": "https://api.mistral.ai/v1",
        "ollama": "http://localhost:11434/v1",
    }
    assert {name: find_base_url(name, _settings(), {}) for name in expected} == expected


def test_base_url_override_applies_to_the_chosen_model_only() -> None:
    conf = _settings(base_url="http://proxy/v1")
    env = {"OPENAI_API_KEY": "k", "OPENROUTER_API_KEY": "k"}
    assert resolve_model("openai/gpt-5", conf, env, None).base_url == "http://proxy/v1"
    other = resolve_model("openrouter/openai/gpt-5", conf, env, None, use_base_url_override=False)
    assert other.base_url == "https://openrouter.ai/api/v1"
