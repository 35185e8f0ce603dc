"""Safety profiles as data: ``permissive``, ``balanced`` (the default), ``strict``, ``hardened``.

Each profile is a TOML document: approval per tool, shell rules, write roots and protected
paths, sandbox policy, network, output and rate limits, the redaction action and injection
patterns. The four built-ins ship in ``builtin_profiles/``; users add their own as
``<user config>/safety/NAME.toml`` (not ``profiles/``, which holds tau's *user* profiles), and
a user profile may start from another with ``extends = "balanced"``.

Profiles are never read from a workspace: a repository must not be able to choose how much
authority the agent has in it. Built-in names are reserved, so a file cannot silently replace
``balanced``.

Merging with ``extends``: scalar keys replace the base's, rule and path lists *add to* the
base's. A profile can therefore add rules but never drop a built-in ``deny``.

:meth:`Profile.lines` is the effective policy with the source (file and line) of every value:
the data ``tau policy show`` prints.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tau_engine.errors import ConfigError
from tau_engine.paths import user_config_dir
from tau_engine.safety.toml_lines import (
    LineIndex,
    Source,
    display_path,
    index_lines,
    load_toml_text,
)

BUILTIN_DIR = Path(__file__).with_name("builtin_profiles")
BUILTIN_PROFILES = ("permissive", "balanced", "strict", "hardened")
DEFAULT_PROFILE = "balanced"
USER_PROFILE_DIR = "safety"

Approval = Literal["allow", "ask", "deny", "mode"]
APPROVALS: tuple[str, ...] = ("allow", "ask", "deny", "mode")
Verdict = Literal["allow", "ask", "deny"]

# Lists that a profile with ``extends`` adds to instead of replacing.
ADDITIVE_LISTS = frozenset(
    {
        "shell.allow",
        "shell.ask",
        "shell.deny",
        "files.protected",
        "sandbox.hide",
        "injection.extra_patterns",
        "injection.disable",
    }
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolsSection(_Section):
    """Approval per tool name; tools not listed get ``default``."""

    model_config = ConfigDict(extra="allow")
    default: Approval = "mode"

    @model_validator(mode="after")
    def _check_tools(self) -> ToolsSection:
        for tool, value in (self.model_extra or {}).items():
            if value not in APPROVALS:
                raise ValueError(f"{tool}: must be one of {', '.join(APPROVALS)}, not {value!r}")
        return self

    def approval(self, tool: str) -> Approval:
        value = (self.model_extra or {}).get(tool, self.default)
        return value  # type: ignore[no-any-return]


class ShellSection(_Section):
    default: Approval = "mode"
    outside_write_roots: Verdict = "ask"
    allow: list[str] = Field(default_factory=list)
    ask: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)

    @field_validator("allow", "ask", "deny")
    @classmethod
    def _patterns_split(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                words = shlex.split(pattern)
            except ValueError as exc:
                raise ValueError(f"pattern {pattern!r}: {exc}") from exc
            if not words:
                raise ValueError("empty pattern")
        return patterns


class FilesSection(_Section):
    write_roots: list[str] = Field(default_factory=lambda: ["."])
    protected: list[str] = Field(default_factory=list)


class SandboxSection(_Section):
    policy: Literal["best-effort", "required"] = "best-effort"
    network: bool = False
    hide: list[str] = Field(default_factory=list)


class NetworkSection(_Section):
    http: bool = True
    https_only: bool = True
    allow: list[str] = Field(default_factory=list)
    max_bytes: int = Field(default=5_000_000, ge=1)
    timeout_s: float = Field(default=30.0, gt=0)
    max_redirects: int = Field(default=5, ge=0, le=20)


class LimitsSection(_Section):
    max_tool_output_chars: int = Field(default=30_000, ge=1_000)
    tool_calls_per_minute: int = Field(default=120, ge=1)


class RedactionSection(_Section):
    action: Literal["redact", "block", "warn"] = "redact"


class InjectionSection(_Section):
    extra_patterns: list[str] = Field(default_factory=list)
    disable: list[str] = Field(default_factory=list)


class ProfileDocument(_Section):
    """One profile file's schema (after ``extends`` is resolved)."""

    description: str = ""
    extends: str | None = None
    tools: ToolsSection = Field(default_factory=ToolsSection)
    shell: ShellSection = Field(default_factory=ShellSection)
    files: FilesSection = Field(default_factory=FilesSection)
    sandbox: SandboxSection = Field(default_factory=SandboxSection)
    network: NetworkSection = Field(default_factory=NetworkSection)
    limits: LimitsSection = Field(default_factory=LimitsSection)
    redaction: RedactionSection = Field(default_factory=RedactionSection)
    injection: InjectionSection = Field(default_factory=InjectionSection)


@dataclass(frozen=True, slots=True)
class PolicyLine:
    """One value of the effective policy and where it was set."""

    key: str
    value: Any
    source: Source

    def __str__(self) -> str:
        return f"{self.key} = {self.value!r}  # {self.source}"


@dataclass(frozen=True)
class Profile:
    """A loaded, validated profile and the source of each of its values."""

    name: str
    document: ProfileDocument
    sources: dict[str, Source]
    item_sources: dict[tuple[str, str], Source]
    builtin: bool

    def source_of(self, key: str, item: str | None = None) -> Source:
        """Where ``key`` (or one ``item`` of the list at ``key``) was set."""
        if item is not None and (key, item) in self.item_sources:
            return self.item_sources[(key, item)]
        return self.sources.get(key, Source("default"))

    def lines(self) -> list[PolicyLine]:
        """Every effective value, flattened to dotted keys, each with its source."""
        out: list[PolicyLine] = []
        for key, value in _flatten(self.document.model_dump(exclude={"extends"})):
            if isinstance(value, list):
                for item in value:
                    out.append(PolicyLine(key, item, self.source_of(key, str(item))))
                if not value:
                    out.append(PolicyLine(key, [], self.source_of(key)))
            else:
                out.append(PolicyLine(key, value, self.source_of(key)))
        return out


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(_flatten(value, dotted + "."))
        else:
            rows.append((dotted, value))
    return rows


def _read(path: Path, shown: str) -> tuple[dict[str, Any], LineIndex]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: cannot read: {exc}") from exc
    data = load_toml_text(text, shown)
    return data, index_lines(text)


def _validate(data: dict[str, Any], index: LineIndex, shown: str) -> None:
    try:
        ProfileDocument.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"] if not isinstance(p, int))
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        named = re.match(r"Value error, ([\w-]+): (.*)", msg)
        if named:  # a table-level check that names the offending key
            key, msg = f"{key}.{named.group(1)}", named.group(2)
        line = index.key_line(key)
        where = f":{line}" if line else ""
        raise ConfigError(f"{shown}{where}: {key}: {msg}") from exc


def _locate(name: str, user_dir: Path) -> tuple[Path, str, bool]:
    if name in BUILTIN_PROFILES:
        return BUILTIN_DIR / f"{name}.toml", f"{name}.toml", True
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ConfigError(f"invalid safety profile name: {name!r}")
    path = user_dir / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(available_profiles(user_dir))
        raise ConfigError(f"unknown safety profile '{name}' (known: {known})")
    return path, display_path(path), False


def available_profiles(user_dir: Path | None = None) -> list[str]:
    """The built-in profile names, then the user's own (sorted)."""
    folder = user_dir if user_dir is not None else user_config_dir() / USER_PROFILE_DIR
    own = sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []
    return [*BUILTIN_PROFILES, *(n for n in own if n not in BUILTIN_PROFILES)]


def load_profile(name: str = DEFAULT_PROFILE, *, user_dir: Path | None = None) -> Profile:
    """Load a profile by name, resolving ``extends``; errors name the file, line and key."""
    folder = user_dir if user_dir is not None else user_config_dir() / USER_PROFILE_DIR
    shadow = folder / f"{name}.toml"
    if name in BUILTIN_PROFILES and shadow.is_file():
        raise ConfigError(
            f"{display_path(shadow)}: '{name}' is a built-in profile; name yours "
            f'differently and start it with extends = "{name}"'
        )
    merged: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    item_sources: dict[tuple[str, str], Source] = {}
    chain: list[str] = []
    current: str | None = name
    layers: list[tuple[dict[str, Any], LineIndex, str]] = []
    while current is not None:
        if current in chain:
            raise ConfigError(
                f"safety profile '{name}': extends loops through {' -> '.join([*chain, current])}"
            )
        chain.append(current)
        path, shown, _ = _locate(current, folder)
        data, index = _read(path, shown)
        _validate(data, index, shown)
        layers.append((data, index, shown))
        parent = data.get("extends")
        current = parent if isinstance(parent, str) else None
    for data, index, shown in reversed(layers):
        for key, value in _flatten({k: v for k, v in data.items() if k != "extends"}):
            if key in ADDITIVE_LISTS and isinstance(value, list):
                base = merged.get(key, [])
                value = [*base, *(v for v in value if v not in base)]
            else:
                sources[key] = Source(shown, index.key_line(key))
            merged[key] = value
            if isinstance(value, list):
                for item in value:
                    line = index.items.get((key, str(item)))
                    if line is not None or (key, str(item)) not in item_sources:
                        item_sources[(key, str(item))] = Source(shown, line or index.key_line(key))
            if key in ADDITIVE_LISTS:
                sources.setdefault(key, Source(shown, index.key_line(key)))
    document = ProfileDocument.model_validate(_unflatten(merged))
    return Profile(
        name=name,
        document=document,
        sources=sources,
        item_sources=item_sources,
        builtin=name in BUILTIN_PROFILES,
    )


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = out
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out
