"""Themes as data: bundled files, user files, broken files, variable defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau_tui.themes import (
    TAU_VARIABLES,
    ThemeFileError,
    bundled_themes_dir,
    configured_theme_name,
    load_theme_file,
    load_themes,
    variable_defaults,
)


def test_bundled_themes_define_every_tau_variable() -> None:
    catalog = load_themes([bundled_themes_dir()])
    names = {theme.name for theme in catalog.themes}
    assert {"tau-dark", "tau-light", "tau-high-contrast"} <= names
    assert catalog.problems == []
    for theme in catalog.themes:
        assert set(TAU_VARIABLES) <= set(theme.variables), theme.name
    light = next(t for t in catalog.themes if t.name == "tau-light")
    assert light.dark is False


def test_user_theme_overrides_and_broken_files_are_reported(tmp_path: Path) -> None:
    user = tmp_path / "themes"
    user.mkdir()
    (user / "mine.toml").write_text('name = "mine"\nprimary = "#112233"\n')
    (user / "dark.toml").write_text('name = "tau-dark"\nprimary = "#ff0000"\n')
    (user / "bad.toml").write_text('name = "bad"\nprimary = "not a colour"\n')
    (user / "broken.toml").write_text("name = \n")
    catalog = load_themes([bundled_themes_dir(), user])
    by_name = {t.name: t for t in catalog.themes}
    assert by_name["mine"].primary == "#112233"
    assert by_name["tau-dark"].primary == "#ff0000"
    assert len(catalog.problems) == 2
    assert any("bad.toml" in p and "not a colour" in p for p in catalog.problems)
    assert any("broken.toml" in p and "invalid TOML" in p for p in catalog.problems)


def test_missing_variables_fall_back_to_base_colours(tmp_path: Path) -> None:
    path = tmp_path / "plain.toml"
    path.write_text('name = "plain"\nprimary = "#123456"\nsuccess = "#00aa00"\n')
    theme = load_theme_file(path)
    defaults = variable_defaults(theme)
    assert defaults["tool-ok"] == "#00aa00"
    assert defaults["diff-hunk"] == "#123456"
    assert set(defaults) == set(TAU_VARIABLES)


def test_unknown_keys_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text('name = "t"\nprimary = "#000000"\nprimray = "#111111"\n')
    with pytest.raises(ThemeFileError, match="unknown key 'primray'"):
        load_theme_file(path)


def test_configured_theme_follows_settings_precedence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "cfg"
    config_dir.mkdir()
    monkeypatch.setenv("TAU_CONFIG_DIR", str(config_dir))
    root = tmp_path / "ws"
    (root / ".tau").mkdir(parents=True)
    assert configured_theme_name(root, environ={}) == "tau-dark"
    (config_dir / "config.toml").write_text('theme = "tau-light"\n')
    assert configured_theme_name(root, environ={}) == "tau-light"
    (root / ".tau" / "config.toml").write_text('theme = "tau-high-contrast"\n')
    assert configured_theme_name(root, environ={}) == "tau-high-contrast"
    assert configured_theme_name(root, environ={"TAU_THEME": "nord"}) == "nord"
    assert configured_theme_name(root, "gruvbox", environ={"TAU_THEME": "nord"}) == "gruvbox"
