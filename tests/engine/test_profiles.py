"""Profiles: TOML files in the user config dir, a settings layer above config.toml,
selected by --profile, TAU_PROFILE or ``profile`` in the user config.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau_engine.config import load_settings
from tau_engine.config.profiles import (
    Profile,
    ProfileStore,
    config_text_with_profile,
    profiles_dir,
)
from tau_engine.errors import ConfigError, UsageError
from tau_engine.paths import WorkspacePaths, user_config_dir


@pytest.fixture
def ws(tmp_path: Path) -> WorkspacePaths:
    paths = WorkspacePaths(tmp_path / "ws")
    paths.root.mkdir()
    return paths


def _profile(**values: object) -> Profile:
    base: dict[str, object] = {
        "provider": "openai",
        "model": "openai/gpt-4.1-mini",
        "key_source": "env",
        "api_key_env": "OPENAI_API_KEY",
    }
    return Profile.model_validate({**base, **values})


def _user_config(text: str) -> None:
    user_config_dir().mkdir(parents=True, exist_ok=True)
    (user_config_dir() / "config.toml").write_text(text)


def test_profile_round_trips_through_its_toml_file() -> None:
    store = ProfileStore()
    path = store.save("work", _profile(safety="strict"))
    assert path == profiles_dir() / "work.toml"
    assert 'safety = "strict"' in path.read_text() and "api_key" not in path.read_text()[:10]
    assert store.load("work") == _profile(safety="strict")
    store.save("home", _profile())
    assert store.names() == ["home", "work"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"model": "anthropic/claude-sonnet-4-5"}, "is not a model of provider 'openai'"),
        ({"api_key_env": None}, "needs api_key_env"),
        ({"api_key_env": "1BAD"}, "is not a variable name"),
        ({"key_source": "credentials"}, "only for key_source 'env'"),
        ({"safety": "yolo"}, "permissive"),
        ({"api_key": "sk-secret"}, "unknown key"),
    ],
)
def test_a_bad_profile_file_is_an_error_naming_the_file(
    values: dict[str, object], message: str
) -> None:
    import tomli_w

    data = {
        "provider": "openai",
        "model": "openai/gpt-4.1-mini",
        "key_source": "env",
        "api_key_env": "OPENAI_API_KEY",
        **values,
    }
    folder = profiles_dir()
    folder.mkdir(parents=True)
    (folder / "bad.toml").write_text(
        tomli_w.dumps({k: v for k, v in data.items() if v is not None})
    )
    with pytest.raises(ConfigError, match=r"bad\.toml") as caught:
        ProfileStore().load("bad")
    assert message in str(caught.value)


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x.toml", "a" * 65])
def test_profile_names_cannot_leave_the_profiles_folder(name: str) -> None:
    with pytest.raises(UsageError, match="invalid profile name"):
        ProfileStore().path(name)


def test_a_missing_profile_lists_the_known_ones() -> None:
    ProfileStore().save("home", _profile())
    with pytest.raises(ConfigError, match=r"no profile 'work'.*profiles: home"):
        ProfileStore().load("work")


def test_the_active_profile_is_a_layer_above_the_user_config(ws: WorkspacePaths) -> None:
    ProfileStore().save("default", _profile(api_key_env="WORK_OPENAI"))
    _user_config('profile = "default"\nmodel = "anthropic/claude-sonnet-4-5"\nmax_turns = 7\n')
    settings = load_settings(ws, environ={})
    assert settings.profile == "default"
    assert settings.model == "openai/gpt-4.1-mini"
    assert settings.providers["openai"].api_key_env == "WORK_OPENAI"
    assert settings.max_turns == 7  # the rest of config.toml still applies


def test_flag_and_environment_choose_another_profile(ws: WorkspacePaths) -> None:
    ProfileStore().save("default", _profile())
    ProfileStore().save("cheap", _profile(model="openai/gpt-4.1-nano"))
    _user_config('profile = "default"\n')
    assert load_settings(ws, environ={"TAU_PROFILE": "cheap"}).model == "openai/gpt-4.1-nano"
    assert load_settings(ws, {"profile": "cheap"}, environ={}).model == "openai/gpt-4.1-nano"
    # --model still beats the profile's model.
    assert (
        load_settings(ws, {"profile": "cheap", "model": "offline/echo"}, environ={}).model
        == "offline/echo"
    )


def test_workspace_model_beats_the_profile_but_cannot_pick_a_profile(ws: WorkspacePaths) -> None:
    ProfileStore().save("default", _profile())
    ProfileStore().save("other", _profile(api_key_env="SOMEONE_ELSES_KEY"))
    _user_config('profile = "default"\n')
    ws.ensure()
    ws.config_path.write_text('profile = "other"\nmodel = "openai/gpt-4.1"\n')
    settings = load_settings(ws, environ={})
    assert settings.model == "openai/gpt-4.1"
    assert settings.profile == "default"
    assert settings.providers["openai"].api_key_env == "OPENAI_API_KEY"
    assert [w.key for w in settings.withheld] == ["profile"]
    trusted = load_settings(ws, environ={}, trusted=True)
    assert trusted.providers["openai"].api_key_env == "SOMEONE_ELSES_KEY"


def test_setting_the_active_profile_keeps_the_users_comments() -> None:
    text = '# my settings\ntheme = "tau-light"  # I like it\n\n[providers.openai]\ntimeout_s = 30\n'
    updated = config_text_with_profile(text, "work")
    assert updated.startswith('profile = "work"\n# my settings\n')
    again = config_text_with_profile(updated, "home")
    assert again.count("profile =") == 1 and 'profile = "home"' in again
    assert "# I like it" in again and "[providers.openai]" in again
    assert config_text_with_profile("", "default") == 'profile = "default"\n'


def test_the_profiles_safety_is_a_settings_layer(ws: WorkspacePaths) -> None:
    ProfileStore().save("work", _profile(safety="strict"))
    _user_config('profile = "work"\nsafety = "permissive"\n')
    assert load_settings(ws, {}, {}).safety == "strict"  # the profile sits above config.toml
    assert load_settings(ws, {"safety": "hardened"}, {}).safety == "hardened"
    assert load_settings(ws, {}, {"TAU_SAFETY": "balanced"}).safety == "balanced"


def test_an_untrusted_workspace_cannot_loosen_the_profiles_safety(ws: WorkspacePaths) -> None:
    ProfileStore().save("work", _profile(safety="strict"))
    _user_config('profile = "work"\n')
    ws.state_dir.mkdir()
    ws.config_path.write_text('safety = "balanced"\n')
    settings = load_settings(ws, {}, {})
    assert settings.safety == "strict"
    assert [(w.key, w.reason) for w in settings.withheld] == [
        ("safety", "loosens the safety profile below 'strict'")
    ]
    ws.config_path.write_text('safety = "hardened"\n')
    assert load_settings(ws, {}, {}).safety == "hardened"  # stricter: taken untrusted
    ws.config_path.write_text('safety = "balanced"\n')
    assert load_settings(ws, {}, {}, trusted=True).safety == "balanced"
