"""tau's settings: declared once, loaded from every layer, validated with pydantic.

Precedence, highest first: command-line flags > environment (``TAU_*``) >
workspace ``.tau/config.toml`` > the profile in use (``profiles/NAME.toml``, see
``profiles.py``) > user ``config.toml`` (platformdirs) > defaults. Each
setting is declared once below (type, default, help, choices, and ``trust``);
that declaration drives validation, the docs table, the onboarding wizard and
the settings view.

The workspace file is untrusted input (a cloned repository, or a file the
model wrote). A setting declared with ``trust`` is taken from it only when
the user trusts the workspace; otherwise it is *withheld* (``Settings.withheld``
lists it, and the engine says so in one notice):

* ``credentials``: decides where a key is sent or which secret is read
  (``base_url``, ``[providers.*] base_url`` and ``api_key_env``); never taken;
* ``approval``: taken only if it does not raise the mode above the user's
  (their ``config.toml``, else the front end's default);
* ``limit``: a budget (``max_cost``, ``max_tokens``) taken only if it does not
  raise the one in the user's ``config.toml``;
* ``safety``: the safety profile, taken only if it is a built-in profile at least as
  strict as the user's (their profile's or ``config.toml``'s, else ``balanced``);
* ``user``: read only from the user's own ``config.toml`` (``http_allow``), never from a
  workspace file, trusted or not.

``protected_paths`` from the workspace file add to the user's, never replace them.

A malformed file or value fails with one line naming the file, the line and
the key: ``.tau/config.toml:3: max_turns: Input should be a valid integer``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError
from pydantic.fields import FieldInfo

from tau_engine.config.store_setting import STORE_URL_ENV, StoreSettings, masked_url
from tau_engine.config.toml_file import display_path as _display
from tau_engine.config.toml_file import read_toml
from tau_engine.errors import ConfigError
from tau_engine.paths import WorkspacePaths, atomic_write_text, user_config_dir
from tau_engine.protocol.approval import APPROVAL_MODES

# The built-in safety profiles from the most to the least permissive.
SAFETY_ORDER = ("permissive", "balanced", "strict", "hardened")
DEFAULT_SAFETY = "balanced"


@dataclass(frozen=True, slots=True)
class Withheld:
    """A setting in a workspace file that is ignored because the workspace is not trusted."""

    key: str  # "approval", "providers.openai.base_url", or a .env variable name
    value: str  # as written, for the trust prompt (never a secret: URLs, names, modes)
    source: str  # the file it came from, as shown: ".tau/config.toml", ".env"
    reason: str  # why it needs trust

    def shown_value(self, limit: int = 60) -> str:
        """The value for a terminal: control characters escaped (it comes from an untrusted
        file), cut to ``limit`` characters."""
        text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in self.value)
        return text if len(text) <= limit else text[: limit - 1] + "…"


class ProviderSettings(BaseModel):
    """Per-provider options, under ``[providers.NAME]``."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(
        None,
        description="API base URL for this provider",
        json_schema_extra={"trust": "credentials"},
    )
    api_key_env: str | None = Field(
        None,
        description="Environment variable holding the key",
        json_schema_extra={"trust": "credentials"},
    )
    site_url: str | None = Field(None, description="OpenRouter: HTTP-Referer header")
    site_name: str | None = Field(None, description="OpenRouter: X-Title header")
    order: list[str] | None = Field(None, description="OpenRouter: provider order")
    allow: list[str] | None = Field(None, description="OpenRouter: only these providers")
    deny: list[str] | None = Field(None, description="OpenRouter: never these providers")
    prompt_caching: bool = Field(False, description="Anthropic: cache system prompt and tools")
    thinking_budget: int | None = Field(
        None, ge=1024, description="Anthropic: enable extended thinking with this many tokens"
    )
    timeout_s: float | None = Field(None, description="Per-request timeout in seconds")


class Settings(BaseModel):
    """Every setting tau reads. Field descriptions are the user-facing help."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    profile: str | None = Field(
        None,
        description="Profile to use (profiles/NAME.toml in the user config dir: model, "
        "key source, safety profile)",
        json_schema_extra={"trust": "credentials"},
    )
    model: str | None = Field(
        None,
        description="Model id as provider/model; unset picks one from the keys found, "
        "else offline/echo",
    )
    base_url: str | None = Field(
        None,
        description="Override the provider's API base URL",
        json_schema_extra={"trust": "credentials"},
    )
    approval: str | None = Field(
        None,
        description="Approval mode (headless default auto-edit, interactive default ask)",
        json_schema_extra={"choices": list(APPROVAL_MODES), "trust": "approval"},
    )
    safety: str | None = Field(
        None,
        description="Safety profile: permissive, balanced (default), strict, hardened, "
        "or one of yours in <config>/safety/NAME.toml",
        json_schema_extra={"choices": list(SAFETY_ORDER), "trust": "safety"},
    )
    protected_paths: list[str] = Field(
        default_factory=list,
        description="More paths the file tools never change and the "
        "sandbox mounts read-only (workspace-relative or absolute)",
    )
    http_allow: list[str] = Field(
        default_factory=list,
        description="Local or private hosts, host:port or CIDR ranges "
        "the http tool may reach (user config only)",
        json_schema_extra={"trust": "user"},
    )
    max_turns: int = Field(25, ge=1, description="Model turns per run before stopping")
    max_output_tokens: int | None = Field(None, ge=1, description="Cap on tokens per answer")
    temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature")
    request_timeout_s: float = Field(120.0, gt=0, description="Per-request timeout (seconds)")
    turn_deadline_s: float = Field(900.0, gt=0, description="Whole-turn deadline (seconds)")
    max_retries: int = Field(4, ge=0, description="Retries of retryable provider failures")
    bash_timeout_s: float = Field(120.0, gt=0, description="Default timeout of the bash tool")
    max_tool_output_chars: int = Field(30_000, ge=1_000, description="Tool output cap")
    max_cost: float | None = Field(
        None,
        ge=0,
        description="Stop a run at this cost (USD)",
        json_schema_extra={"trust": "limit"},
    )
    max_tokens: int | None = Field(
        None,
        ge=1,
        description="Stop a run at this many tokens",
        json_schema_extra={"trust": "limit"},
    )
    compaction_threshold: float = Field(
        0.8, gt=0, le=1, description="Compact at this share of the context window"
    )
    keep_recent_turns: int = Field(4, ge=1, description="Turns kept verbatim by compaction")
    theme: str = Field("tau-dark", description="Textual theme of the app")
    memory: bool = Field(
        True,
        description="Learned memory: offer relevant entries with each "
        "prompt and give the model the memory tools",
    )
    memory_budget_tokens: int = Field(
        1_500, ge=0, description="Tokens of learned memory offered per prompt (0: offer none)"
    )
    fallbacks: dict[str, list[str]] = Field(
        default_factory=dict, description="Fallback routes: model -> models to try next"
    )
    providers: dict[str, ProviderSettings] = Field(
        default_factory=dict, description="Per-provider options"
    )
    store: StoreSettings = Field(
        default_factory=StoreSettings, description="Where tau keeps its state ([store] url)"
    )

    # How this instance was loaded (not settings: never read from a file).
    _workspace_trusted: bool = PrivateAttr(default=False)
    _withheld: list[Withheld] = PrivateAttr(default_factory=list)

    @property
    def workspace_trusted(self) -> bool:
        """Whether the workspace's own files were trusted when these settings were loaded."""
        return self._workspace_trusted

    @property
    def withheld(self) -> list[Withheld]:
        """Workspace settings that were ignored because the workspace is not trusted."""
        return list(self._withheld)


def _trust_rule(info: FieldInfo) -> str | None:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    rule = extra.get("trust")
    return rule if isinstance(rule, str) else None


def _needs_trust(rule: str | None, key: str, value: Any, baseline: Any) -> str | None:
    """Why a workspace value of ``key`` needs trust, or None if it may be used as is."""
    if rule == "credentials":
        if key == "profile":
            return "chooses which of your profiles (model and key) is used"
        if key == "store.url":
            return "decides where tau writes your sessions and jobs"
        return (
            "decides which secret is read and sent"
            if key.endswith("api_key_env")
            else "decides where your API keys are sent"
        )
    if (
        rule == "approval"
        and isinstance(value, str)
        and isinstance(baseline, str)
        and value in APPROVAL_MODES
        and baseline in APPROVAL_MODES
        and APPROVAL_MODES.index(value) > APPROVAL_MODES.index(baseline)
    ):
        return f"raises the approval mode above '{baseline}'"
    if rule == "limit" and baseline is not None and value > baseline:
        return f"raises your {key} of {baseline}"
    if rule == "safety":
        base = baseline if isinstance(baseline, str) else DEFAULT_SAFETY
        if value not in SAFETY_ORDER or base not in SAFETY_ORDER:
            return f"chooses a safety profile tau cannot rank against '{base}'"
        if SAFETY_ORDER.index(value) < SAFETY_ORDER.index(base):
            return f"loosens the safety profile below '{base}'"
    if rule == "user":
        return "only your user config.toml may set it"
    return None


def withhold_untrusted(
    layer: dict[str, Any], *, source: str, user_layer: dict[str, Any], default_approval: str
) -> tuple[dict[str, Any], list[Withheld]]:
    """Split a validated workspace layer into what may be used untrusted and what not."""
    kept = dict(layer)
    withheld: list[Withheld] = []
    baseline = {**user_layer, "approval": user_layer.get("approval") or default_approval}
    for key, info in Settings.model_fields.items():
        if key not in layer or key in ("providers", "store"):
            continue
        reason = _needs_trust(_trust_rule(info), key, layer[key], baseline.get(key))
        if reason:
            withheld.append(Withheld(key, str(layer[key]), source, reason))
            del kept[key]
    providers = layer.get("providers")
    if isinstance(providers, dict):
        kept["providers"] = {}
        for name, conf in providers.items():
            conf = dict(conf)
            for key, info in ProviderSettings.model_fields.items():
                full = f"providers.{name}.{key}"
                reason = (
                    _needs_trust(_trust_rule(info), full, conf.get(key), None)
                    if key in conf
                    else None
                )
                if reason:
                    withheld.append(Withheld(full, str(conf.pop(key)), source, reason))
            kept["providers"][name] = conf
    store = layer.get("store")
    if isinstance(store, dict) and store.get("url") is not None:
        # The URL may carry a password: the trust prompt and the notice show it masked.
        kept["store"] = {k: v for k, v in store.items() if k != "url"}
        reason = _needs_trust("credentials", "store.url", store["url"], None)
        withheld.append(Withheld("store.url", masked_url(str(store["url"])), source, str(reason)))
    return kept, withheld


# Environment variables that map onto settings (besides provider keys).
ENV_SETTINGS = {
    "TAU_PROFILE": "profile",
    "TAU_MODEL": "model",
    "TAU_BASE_URL": "base_url",
    "TAU_APPROVAL": "approval",
    "TAU_SAFETY": "safety",
    "TAU_MAX_TURNS": "max_turns",
    "TAU_THEME": "theme",
}


def _line_of(text: str, key: str) -> int | None:
    pattern = re.compile(rf"^[ \t]*\"?{re.escape(key)}\"?[ \t]*=", re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _validate_layer(data: dict[str, Any], path: Path) -> None:
    """Validate one file's keys alone, so an error names the file it came from."""
    try:
        Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        line = _line_of(text, str(err["loc"][-1])) if err["loc"] else None
        where = f":{line}" if line else ""
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(f"{_display(path)}{where}: {key}: {msg}") from exc


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    layer: dict[str, Any] = {key: env[var] for var, key in ENV_SETTINGS.items() if env.get(var)}
    if env.get(STORE_URL_ENV, "").strip():
        layer["store"] = {"url": env[STORE_URL_ENV].strip()}
    return layer


def load_settings(
    workspace: WorkspacePaths,
    cli: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    *,
    trusted: bool = False,
    default_approval: str = "ask",
) -> Settings:
    """Merge every layer and validate the result.

    Unless ``trusted``, the workspace file's settings that need trust are left
    out and listed in ``withheld`` (``default_approval`` is the front end's
    default mode, which an untrusted workspace may lower but not raise)."""
    user_path = user_config_dir() / "config.toml"
    user_layer = read_toml(user_path)
    if user_layer:
        _validate_layer(user_layer, user_path)
    withheld: list[Withheld] = []
    workspace_layer = read_toml(workspace.config_path)
    if workspace_layer:
        _validate_layer(workspace_layer, workspace.config_path)
    env_layer = env_overrides(environ)
    cli_layer = {k: v for k, v in (cli or {}).items() if v is not None}
    # The profile in use is the user's own choice, so it is part of the baseline an untrusted
    # workspace is weighed against (a workspace cannot loosen the profile's safety either).
    base_layer = _merge(
        user_layer,
        _profile_layer(cli_layer, env_layer, workspace_layer if trusted else {}, user_layer),
    )
    merged: dict[str, Any] = dict(base_layer)
    if workspace_layer:
        if not trusted:
            workspace_layer, withheld = withhold_untrusted(
                workspace_layer,
                source=_relative_to(workspace.config_path, workspace.root),
                user_layer=base_layer,
                default_approval=default_approval,
            )
        workspace_layer = {
            key: value
            for key, value in workspace_layer.items()
            if _trust_rule(Settings.model_fields[key]) != "user"
        }
        if "protected_paths" in workspace_layer:
            # A workspace may protect more, never unprotect what the user protects.
            user_paths = list(base_layer.get("protected_paths", []))
            workspace_layer["protected_paths"] = user_paths + [
                p for p in workspace_layer["protected_paths"] if p not in user_paths
            ]
        merged = _merge(merged, workspace_layer)
    try:
        Settings.model_validate(_merge(merged, env_layer))
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else "?"
        var = next((v for v, k in ENV_SETTINGS.items() if k == key), key)
        raise ConfigError(f"environment {var}: {err['msg']}") from exc
    merged = _merge(merged, env_layer)
    merged = _merge(merged, cli_layer)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"--{key.replace('_', '-')}: {err['msg']}") from exc
    # A withheld value that a flag or the environment replaces anyway is not worth a word.
    settings._withheld = [
        w for w in withheld if not _given(w.key, env_layer) and not _given(w.key, cli_layer)
    ]
    settings._workspace_trusted = trusted
    return settings


def _given(key: str, layer: dict[str, Any]) -> bool:
    """Whether ``layer`` sets the dotted ``key`` (``store.url``)."""
    head, _dot, rest = key.partition(".")
    if not rest or head == "providers":
        return key in layer
    inner = layer.get(head)
    return isinstance(inner, dict) and inner.get(rest) is not None


def _profile_layer(
    cli_layer: dict[str, Any],
    env_layer: dict[str, Any],
    workspace_layer: dict[str, Any],
    user_layer: dict[str, Any],
) -> dict[str, Any]:
    """The settings of the named profile (a layer between the user and workspace files);
    the name comes from the highest layer that sets ``profile``."""
    name = next(
        (
            layer["profile"]
            for layer in (cli_layer, env_layer, workspace_layer, user_layer)
            if layer.get("profile")
        ),
        None,
    )
    if not isinstance(name, str):
        return {}
    from tau_engine.config.profiles import ProfileStore

    return ProfileStore().load(name).settings_layer()


def _relative_to(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def save_setting(path: Path, key: str, value: Any) -> None:
    """Set one top-level key in a config file, keeping its other keys (atomic write)."""
    import tomli_w

    data = read_toml(path)
    data[key] = value
    _validate_layer(data, path)
    atomic_write_text(path, tomli_w.dumps(data))


def describe_settings() -> list[dict[str, Any]]:
    """The declaration of every top-level setting: key, type, default, help, choices."""
    rows = []
    for name, info in Settings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        default = None if info.default_factory is not None else info.default
        rows.append(
            {
                "key": name,
                "type": str(info.annotation).replace("typing.", ""),
                "default": default,
                "help": info.description or "",
                "choices": extra.get("choices"),
                "trust": extra.get("trust"),
            }
        )
    return rows
