"""Named profiles: a provider, a model, where the key comes from and a safety profile.

Profiles are user-level config, never workspace files: ``profiles/NAME.toml``
in the user config dir, written by ``tau onboard`` (with tomli-w, atomically).
The one in use is the ``profile`` setting: ``--profile NAME``, ``TAU_PROFILE``,
or ``profile = "NAME"`` in the user ``config.toml`` (which ``tau profile use``
and onboarding set). A profile is a settings layer just above the user
``config.toml``: ``model``, the provider's ``api_key_env`` and ``safety`` come from
it, and the workspace file, the environment and flags still override them (an untrusted
workspace only with a stricter safety profile).

The safety profile's name is stored and validated here; what each one allows
is the safety layer's (``permissive``, ``balanced``, ``strict``, ``hardened``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from tau_engine.errors import ConfigError, UsageError
from tau_engine.paths import atomic_write_text, user_config_dir

PROFILES_DIR_NAME = "profiles"
DEFAULT_PROFILE_NAME = "default"
# The safety profiles and what each changes (approval, network, sandbox), one line each.
SAFETY_PROFILES: dict[str, str] = {
    "permissive": "few questions; bash sandboxed with network if possible",
    "balanced": "the default: risky commands ask; bash sandboxed, no network",
    "strict": "non-read-only commands and http ask; sandbox required",
    "hardened": "untrusted repos: every side effect asks, no http; sandbox required",
}
DEFAULT_SAFETY = "balanced"
SafetyName = Literal["permissive", "balanced", "strict", "hardened"]
KeySource = Literal["env", "credentials", "none"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER = "# A tau profile (tau onboard, tau profile). Holds no secret.\n"


def check_profile_name(name: str) -> str:
    """``name`` if it can name a profile file; else ``UsageError``."""
    if not _NAME.fullmatch(name or "") or name.endswith(".toml"):
        raise UsageError(
            f"invalid profile name '{name}': use letters, digits, '-', '_' or "
            "'.' (at most 64, starting with a letter or digit)"
        )
    return name


def check_variable_name(name: str) -> str:
    """``name`` if it can name an environment variable; else ``UsageError``."""
    if not _VARIABLE.fullmatch(name or ""):
        raise UsageError(
            f"invalid environment variable name '{name}': use letters, digits "
            "and '_', not starting with a digit"
        )
    return name


class Profile(BaseModel):
    """One profile. ``model`` is a full ``provider/model`` id of ``provider``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    model: str
    key_source: KeySource = "env"
    api_key_env: str | None = None
    safety: SafetyName = "balanced"

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        if not self.model.startswith(f"{self.provider}/"):
            raise ValueError(
                f"model '{self.model}' is not a model of provider "
                f"'{self.provider}' (write {self.provider}/MODEL)"
            )
        if self.key_source == "env":
            if not self.api_key_env:
                raise ValueError("key_source 'env' needs api_key_env (the variable's name)")
            if not _VARIABLE.fullmatch(self.api_key_env):
                raise ValueError(f"api_key_env '{self.api_key_env}' is not a variable name")
        elif self.api_key_env is not None:
            raise ValueError(f"api_key_env is only for key_source 'env', not '{self.key_source}'")
        return self

    def settings_layer(self) -> dict[str, Any]:
        """The settings this profile sets (a layer above the user ``config.toml``)."""
        layer: dict[str, Any] = {"model": self.model, "safety": self.safety}
        if self.api_key_env:
            layer["providers"] = {self.provider: {"api_key_env": self.api_key_env}}
        return layer

    def key_description(self) -> str:
        """Where the key comes from, in words."""
        if self.key_source == "env":
            return f"environment variable {self.api_key_env}"
        if self.key_source == "credentials":
            return "the credentials file"
        return "no key"


def profiles_dir(config_dir: Path | None = None) -> Path:
    return (config_dir if config_dir is not None else user_config_dir()) / PROFILES_DIR_NAME


def render_profile(profile: Profile) -> str:
    """The TOML text of ``profile``."""
    import tomli_w

    return _HEADER + tomli_w.dumps(profile.model_dump(exclude_none=True))


class ProfileStore:
    """The profiles in the user config dir."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else profiles_dir()

    def path(self, name: str) -> Path:
        return self.folder / f"{check_profile_name(name)}.toml"

    def names(self) -> list[str]:
        """Every profile's name, sorted."""
        try:
            entries = list(self.folder.iterdir())
        except OSError:
            return []
        return sorted(
            p.stem
            for p in entries
            if p.suffix == ".toml" and p.is_file() and _NAME.fullmatch(p.stem)
        )

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def load(self, name: str) -> Profile:
        """The profile ``name``; ``ConfigError`` naming the file if it is missing or bad."""
        from tau_engine.config.toml_file import read_toml

        path = self.path(name)
        if not path.is_file():
            known = ", ".join(self.names()) or "none yet: tau onboard makes one"
            raise ConfigError(f"no profile '{name}' ({path} does not exist; profiles: {known})")
        data = read_toml(path)
        try:
            return Profile.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            msg = msg.removeprefix("Value error, ")
            raise ConfigError(f"{path}: {key + ': ' if key else ''}{msg}") from exc

    def save(self, name: str, profile: Profile) -> Path:
        path = self.path(name)
        atomic_write_text(path, render_profile(profile))
        return path


_PROFILE_LINE = re.compile(r"^[ \t]*\"?profile\"?[ \t]*=.*$", re.MULTILINE)
_TABLE_LINE = re.compile(r"^[ \t]*\[", re.MULTILINE)


def config_text_with_profile(text: str, name: str) -> str:
    """The user ``config.toml`` text with ``profile = "NAME"`` set, keeping everything
    else (comments included): the top-level line is replaced, or added at the top."""
    import tomllib

    line = f'profile = "{check_profile_name(name)}"'
    table = _TABLE_LINE.search(text)
    top = text[: table.start()] if table else text
    match = _PROFILE_LINE.search(top)
    updated = text[: match.start()] + line + text[match.end() :] if match else f"{line}\n{text}"
    try:
        if tomllib.loads(updated).get("profile") == name:
            return updated
    except tomllib.TOMLDecodeError:
        pass
    # A layout the line edit cannot handle (a multi-line value...): rewrite the file.
    import tomli_w

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config.toml: invalid TOML: {exc}") from exc
    data["profile"] = name
    return tomli_w.dumps(data)
