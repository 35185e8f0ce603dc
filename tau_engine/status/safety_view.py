"""The profile and the safety profile a run in this workspace would use, read for the
operator snapshot without pydantic (``tau status`` runs in a loop, start-up is its cost).

It follows ``config.settings.load_settings`` for these two keys, with no flags given:
``TAU_PROFILE`` / ``TAU_SAFETY`` in the environment, the workspace's ``.tau/config.toml``
(its ``profile`` only when the user trusted the workspace; its ``safety`` also when
untrusted, if it is a built-in profile at least as strict as the user's), the profile's
``safety``, then the user's ``config.toml``, else ``balanced``. A test compares the two
over every combination, so they cannot drift apart. A file tau cannot read or parse counts
as absent here: ``tau doctor`` is where a broken config is reported.

Files are read by ``plain_toml`` when they are plain (most config files are), else by
``tomllib``, and paths are strings (``os.path``): ``tomllib`` and ``pathlib`` are a third
of ``tau status``'s start-up budget.
"""

from __future__ import annotations

import os
import sys

from tau_engine.status.record import record

# ``typing``, ``dataclasses`` and ``collections.abc`` cost ``tau status`` several
# milliseconds at start-up; type checkers read these names, the interpreter does not.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

SAFETY_ORDER = ("permissive", "balanced", "strict", "hardened")
"""As ``tau_engine.config.settings.SAFETY_ORDER`` (a test keeps them equal)."""
DEFAULT_SAFETY = "balanced"
TRUST_FILE_NAME = "trusted-workspaces.toml"
"""As ``tau_engine.resources.trust.TRUST_FILE_NAME`` (a test keeps them equal)."""


@record
class SafetyView:
    """``profile``: the named profile in use (None: none); ``safety``: its safety profile."""

    profile: str | None
    safety: str


def _toml(path: str) -> dict[str, Any]:
    """The TOML file at ``path`` ({} when absent, not a regular file, unreadable or not
    valid TOML)."""
    from tau_engine.regular_file import read_regular_tail

    read = read_regular_tail(path)
    if read is None:
        return {}
    from tau_engine.status.plain_toml import loads_plain  # only when a file exists

    try:
        text = read[0].decode()
    except UnicodeDecodeError:
        return {}
    plain = loads_plain(text)
    if plain is not None:
        return plain
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def config_dir_for(environ: Mapping[str, str]) -> str:
    """``paths.user_config_dir`` for this environment; on Linux without importing
    platformdirs (about 5 ms of ``tau status``), by the XDG rule it follows there."""
    override = environ.get("TAU_CONFIG_DIR")
    if override:
        return os.path.expanduser(override)
    if sys.platform == "linux":
        xdg = environ.get("XDG_CONFIG_HOME", "").strip()
        return os.path.join(xdg or os.path.expanduser("~/.config"), "tau")
    from platformdirs import user_config_path

    return str(user_config_path("tau", appauthor=False))


def _trusted(config_dir: str, root: str) -> bool:
    workspaces = _toml(os.path.join(config_dir, TRUST_FILE_NAME)).get("workspaces", {})
    entry = workspaces.get(os.path.realpath(root)) if isinstance(workspaces, dict) else None
    return isinstance(entry, dict) and entry.get("trusted") is True


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def read_safety_view(
    root: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> SafetyView:
    """What a headless run at ``root`` would use (no flags)."""
    env = os.environ if environ is None else environ
    config_dir = config_dir_for(env)
    user = _toml(os.path.join(config_dir, "config.toml"))
    workspace = _toml(os.path.join(root, ".tau", "config.toml"))
    trusted = _trusted(config_dir, os.fspath(root))
    profile = (
        _name(env.get("TAU_PROFILE"))
        or (_name(workspace.get("profile")) if trusted else None)
        or _name(user.get("profile"))
    )
    profile_safety = None
    if profile is not None:
        profile_file = os.path.join(config_dir, "profiles", f"{profile}.toml")
        profile_safety = _name(_toml(profile_file).get("safety"))
    base = profile_safety or _name(user.get("safety"))
    safety = base
    chosen = _name(workspace.get("safety"))
    if chosen is not None:
        floor = base or DEFAULT_SAFETY
        if trusted or (
            chosen in SAFETY_ORDER
            and floor in SAFETY_ORDER
            and SAFETY_ORDER.index(chosen) >= SAFETY_ORDER.index(floor)
        ):
            safety = chosen
    safety = _name(env.get("TAU_SAFETY")) or safety
    return SafetyView(profile=profile, safety=safety or DEFAULT_SAFETY)
