"""Themes as data: ``themes/*.toml`` (bundled) and ``<config dir>/themes/*.toml`` (user).

Each file becomes a ``textual.theme.Theme``. tau's own colours (tool status,
diff lines, the user's prompt) are theme ``variables`` such as ``$tool-ok`` and
``$diff-added``, used from TCSS and from rendered content; a theme that leaves
one out gets a value derived from its base colours, so every theme works
everywhere, Textual's built-in ones included.

This module is imported before the first frame: it uses only the standard
library and Textual's ``Theme`` dataclass.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.theme import Theme

DEFAULT_THEME = "tau-dark"

# The tau-specific theme variables and, for each, the base colour it falls back to.
TAU_VARIABLES: dict[str, str] = {
    "tool-ok": "success",
    "tool-error": "error",
    "tool-running": "warning",
    "tool-denied": "warning",
    "diff-added": "success",
    "diff-added-background": "background",
    "diff-removed": "error",
    "diff-removed-background": "background",
    "diff-hunk": "primary",
    "user-prompt": "secondary",
    "notice": "foreground",
}

_COLOUR_KEYS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_FLOAT_KEYS = ("luminosity_spread", "text_alpha")


class ThemeFileError(ValueError):
    """A theme file is malformed; the message names the file and the problem."""


def bundled_themes_dir() -> Path:
    """The themes shipped with tau: ``tau_tui/_themes`` in a wheel, ``themes/`` in a checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "_themes"
    return packaged if packaged.is_dir() else here.parent / "themes"


def user_themes_dir() -> Path:
    """Where users drop their own theme files."""
    from tau_engine.paths import user_config_dir

    return user_config_dir() / "themes"


def theme_from_mapping(data: Mapping[str, Any], source: str) -> Theme:
    """Build a Theme from one theme file's table; raise ``ThemeFileError`` naming ``source``."""
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(f"{source}: 'name' must be a non-empty string")
    if not isinstance(data.get("primary"), str):
        raise ThemeFileError(f"{source}: 'primary' colour is required")
    known = {"name", "dark", "variables", *_COLOUR_KEYS, *_FLOAT_KEYS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ThemeFileError(f"{source}: unknown key '{unknown[0]}'")
    kwargs: dict[str, Any] = {"name": name.strip()}
    for key in _COLOUR_KEYS:
        if key in data:
            if not isinstance(data[key], str):
                raise ThemeFileError(f"{source}: '{key}' must be a colour string")
            kwargs[key] = data[key]
    for key in _FLOAT_KEYS:
        if key in data:
            if not isinstance(data[key], int | float):
                raise ThemeFileError(f"{source}: '{key}' must be a number")
            kwargs[key] = float(data[key])
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeFileError(f"{source}: 'dark' must be true or false")
    kwargs["dark"] = dark
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeFileError(f"{source}: [variables] must map names to strings")
    kwargs["variables"] = dict(variables)
    _check_colours(kwargs, source)
    return Theme(**kwargs)


def _check_colours(kwargs: Mapping[str, Any], source: str) -> None:
    from textual.color import Color, ColorParseError

    values = [(k, kwargs[k]) for k in _COLOUR_KEYS if k in kwargs]
    values += list(kwargs["variables"].items())
    for key, value in values:
        try:
            Color.parse(value)
        except ColorParseError:
            raise ThemeFileError(f"{source}: '{key}' is not a colour: {value!r}") from None


def load_theme_file(path: Path) -> Theme:
    """Read one ``*.toml`` theme file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path}: invalid TOML: {exc}") from exc
    return theme_from_mapping(data, str(path))


@dataclass
class ThemeCatalog:
    """The themes found on disk, in load order, and the files that failed to load."""

    themes: list[Theme] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_themes(folders: list[Path] | None = None) -> ThemeCatalog:
    """Load every theme file of the bundled folder, then of the user's folder.

    A user theme with the name of a bundled one replaces it. A broken file is
    reported in ``problems`` and skipped, so one bad file never stops the app.
    """
    catalog = ThemeCatalog()
    by_name: dict[str, Theme] = {}
    for folder in folders if folders is not None else [bundled_themes_dir(), user_themes_dir()]:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                catalog.problems.append(str(exc))
                continue
            by_name[theme.name] = theme
    catalog.themes = list(by_name.values())
    return catalog


def variable_defaults(theme: Theme) -> dict[str, str]:
    """Values of tau's variables that ``theme`` does not set, from its base colours."""
    plain_background = "#121212" if theme.dark else "#efefef"
    plain_foreground = "#e0e0e0" if theme.dark else "#202020"
    out: dict[str, str] = {}
    for name, base in TAU_VARIABLES.items():
        value = getattr(theme, base, None)
        if value is None:
            value = {"background": plain_background, "foreground": plain_foreground}.get(
                base, theme.primary
            )
        out[name] = value
    return out


def configured_theme_name(
    workspace_root: Path | None,
    cli_theme: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The ``theme`` setting with the same precedence as the engine's settings.

    Read with ``tomllib`` alone (not the pydantic settings) because the theme is
    needed before the first frame, when pydantic is not loaded yet. Broken files
    are ignored here; the engine reports them once it loads the settings.
    """
    if cli_theme:
        return cli_theme
    env = os.environ if environ is None else environ
    if env.get("TAU_THEME"):
        return env["TAU_THEME"]
    from tau_engine.paths import STATE_DIR_NAME, user_config_dir

    layers = []
    if workspace_root is not None:
        layers.append(workspace_root / STATE_DIR_NAME / "config.toml")
    layers.append(user_config_dir() / "config.toml")
    for path in layers:
        try:
            value = tomllib.loads(path.read_text(encoding="utf-8")).get("theme")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        if isinstance(value, str) and value:
            return value
    return DEFAULT_THEME
