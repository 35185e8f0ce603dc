"""Where a provider's key comes from: the real environment, then the user's credentials
file, then the workspace ``.env``; a cloned repository's ``.env`` never wins."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tau_engine.config import Settings
from tau_engine.config.credentials import CredentialsFile, credentials_path
from tau_engine.engine import Engine
from tau_engine.errors import ConfigError
from tau_engine.paths import WorkspacePaths
from tau_engine.providers.key_sources import (
    key_candidates,
    mask_key,
    provider_environ,
    provider_key_values,
)
from tau_engine.providers.registry import resolve_model

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
