"""Settings: layers, precedence, validation errors that name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau_engine.config import (
    Settings,
    describe_settings,
    load_settings,
    read_toml,
    save_setting,
)
from tau_engine.errors import ConfigError
from tau_engine.paths import WorkspacePaths, user_config_dir


@pytest.fixture
def ws(tmp_path: Path) -> WorkspacePaths:
    paths = WorkspacePaths(tmp_path / "ws")
    paths.root.mkdir()
    paths.ensure()
    return paths


def _user_file(text: str) -> Path:
    path = user_config_dir() / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults(ws: WorkspacePaths) -> None:
    settings = load_settings(ws, environ={})
    assert settings.model is None and settings.max_turns == 25 and settings.theme == "tau-dark"


def test_precedence_cli_over_env_over_workspace_over_user(ws: WorkspacePaths) -> None:
    _user_file('model = "user/m"\nmax_turns = 3\ntheme = "tau-light"\nmax_retries = 1\n')
    ws.config_path.write_text('model = "ws/m"\nmax_turns = 4\n')
    env = {"TAU_MODEL": "env/m"}
    settings = load_settings(ws, cli={"model": "cli/m", "max_turns": None}, environ=env)
    assert settings.model == "cli/m"  # flag wins
    assert settings.max_turns == 4  # workspace over user; None flags don't override
    assert settings.theme == "tau-light"  # only the user file sets it
    assert load_settings(ws, environ=env).model == "env/m"
    assert load_settings(ws, environ={}).model == "ws/m"


def test_nested_tables_merge(ws: WorkspacePaths) -> None:
    _user_file('[providers.openrouter]\nsite_name = "me"\n')
    ws.config_path.write_text('[providers.openrouter]\nsite_url = "https://x"\n')
    conf = load_settings(ws, environ={}).providers["openrouter"]
    assert conf.site_name == "me" and conf.site_url == "https://x"


def test_type_error_names_file_line_and_key(ws: WorkspacePaths) -> None:
    ws.config_path.write_text('\n\nmodel = "a/b"\nmax_turns = "many"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(ws, environ={})
    assert "config.toml:4: max_turns:" in str(err.value)


def test_unknown_key_and_bad_toml(ws: WorkspacePaths) -> None:
    ws.config_path.write_text('modle = "a/b"\n')
    with pytest.raises(ConfigError, match=r"config.toml:1: modle: unknown key"):
        load_settings(ws, environ={})
    ws.config_path.write_text('model = "a/b"\nmax_turns = [\n')
    with pytest.raises(ConfigError, match=r"config.toml:2: invalid TOML"):
        load_settings(ws, environ={})
    ws.config_path.write_text('model = "a/b"\n= 3\n')
    with pytest.raises(ConfigError, match=r"config.toml:2: invalid TOML"):
        load_settings(ws, environ={})


def test_user_file_errors_name_the_user_file(ws: WorkspacePaths) -> None:
    path = _user_file("temperature = 9\n")
    with pytest.raises(ConfigError) as err:
        load_settings(ws, environ={})
    assert str(path.name) in str(err.value) and "temperature" in str(err.value)


def test_bad_env_and_flag_values(ws: WorkspacePaths) -> None:
    with pytest.raises(ConfigError, match="TAU_MAX_TURNS"):
        load_settings(ws, environ={"TAU_MAX_TURNS": "lots"})
    with pytest.raises(ConfigError, match="--max-cost"):
        load_settings(ws, cli={"max_cost": -1.0}, environ={})


def test_save_setting_keeps_other_keys_and_validates(ws: WorkspacePaths) -> None:
    ws.config_path.write_text('model = "a/b"\n')
    save_setting(ws.config_path, "theme", "tau-light")
    assert read_toml(ws.config_path) == {"model": "a/b", "theme": "tau-light"}
    with pytest.raises(ConfigError):
        save_setting(ws.config_path, "max_turns", "x")
    assert read_toml(ws.config_path)["theme"] == "tau-light"  # the bad write changed nothing


def test_describe_settings_covers_every_field() -> None:
    rows = {row["key"]: row for row in describe_settings()}
    assert set(rows) == set(Settings.model_fields)
    assert rows["approval"]["choices"] == ["read-only", "ask", "auto-edit", "full-auto"]
    assert all(row["help"] for row in rows.values())
