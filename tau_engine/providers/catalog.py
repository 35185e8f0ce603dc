"""The model catalog: limits, prices and capabilities of the models tau knows.

Three layers are merged, lowest first: the built-in ``catalog.toml`` next to
this module, the OpenRouter list cached by ``tau models --refresh openrouter``
(``openrouter-models.json`` in the user config dir) and the user's own
``models.toml`` in the user config dir. A layer changes only the keys it sets,
so a user can correct one price without restating the whole entry. The result
is cached per process and rebuilt only when one of the user files changes.

Prices are USD per million tokens; ``None`` means unknown, and then the cost
of a call is unknown too (``cost_usd`` returns ``None``) rather than a guess.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tau_engine.conversation import Usage
from tau_engine.errors import ConfigError
from tau_engine.paths import user_config_dir

Api = Literal["chat", "responses", "anthropic", "gemini"]

# Which wire format a provider speaks unless an entry says otherwise. Its keys
# are every provider tau knows, in the order ``tau models`` lists them.
DEFAULT_API: dict[str, Api] = {
    "anthropic": "anthropic",
    "openai": "chat",
    "gemini": "gemini",
    "openrouter": "chat",
    "deepseek": "chat",
    "xai": "chat",
    "mistral": "chat",
    "ollama": "chat",
    "offline": "chat",
}

# Limits assumed for a model the catalog does not list.
DEFAULT_CONTEXT_WINDOW = 128_000
DEFAULT_MAX_OUTPUT_TOKENS = 8_192

BUILTIN_CATALOG_PATH = Path(__file__).with_name("catalog.toml")
USER_CATALOG_NAME = "models.toml"
OPENROUTER_CACHE_NAME = "openrouter-models.json"

_MILLION = 1_000_000


class ModelInfo(BaseModel):
    """What tau knows about one model of one provider."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    id: str
    context_window: int = Field(DEFAULT_CONTEXT_WINDOW, gt=0)
    max_output_tokens: int = Field(DEFAULT_MAX_OUTPUT_TOKENS, gt=0)
    tools: bool = True
    vision: bool = False
    extended_thinking: bool = False
    input_price: float | None = Field(None, ge=0)
    output_price: float | None = Field(None, ge=0)
    cached_input_price: float | None = Field(None, ge=0)
    cache_write_price: float | None = Field(None, ge=0)
    knowledge_cutoff: str = ""
    deprecated: bool = False
    api: Api = "chat"
    aliases: tuple[str, ...] = ()

    @property
    def model_id(self) -> str:
        """The id users type: ``provider/model``."""
        return f"{self.provider}/{self.id}"


def cost_usd(info: ModelInfo | None, usage: Usage) -> float | None:
    """The price of one call (or a sum of calls) in USD; ``None`` when unknown.

    ``usage.input_tokens`` counts every prompt token, cache reads and cache
    writes included (OpenAI's ``prompt_tokens`` convention); cache reads are
    priced at ``cached_input_price`` and cache writes at ``cache_write_price``,
    each falling back to the input price when the catalog has no such price.
    Reasoning tokens are part of ``output_tokens``.
    """
    if info is None or info.input_price is None or info.output_price is None:
        return None
    cached = max(0, usage.cached_input_tokens)
    written = max(0, usage.cache_write_tokens)
    fresh = max(0, usage.input_tokens - cached - written)
    cached_price = info.input_price if info.cached_input_price is None else info.cached_input_price
    write_price = info.input_price if info.cache_write_price is None else info.cache_write_price
    total = (
        fresh * info.input_price
        + cached * cached_price
        + written * write_price
        + usage.output_tokens * info.output_price
    )
    return total / _MILLION


class Catalog:
    """Every known model, looked up by provider and id (or alias)."""

    def __init__(
        self, models: Iterable[ModelInfo], defaults: Mapping[str, str] | None = None
    ) -> None:
        self._models: dict[tuple[str, str], ModelInfo] = {}
        self._aliases: dict[tuple[str, str], ModelInfo] = {}
        for info in models:
            self._models[(info.provider, info.id)] = info
        for info in self._models.values():
            for alias in info.aliases:
                self._aliases.setdefault((info.provider, alias), info)
        self._defaults = dict(defaults or {})

    def __len__(self) -> int:
        return len(self._models)

    def get(self, provider: str, model: str) -> ModelInfo | None:
        """The entry for ``provider``/``model``, found by id or by alias."""
        key = (provider, model)
        return self._models.get(key) or self._aliases.get(key)

    def list(self, provider: str | None = None) -> list[ModelInfo]:
        """Every entry (of one provider), providers in their usual order, ids in file order."""
        order = {name: i for i, name in enumerate(DEFAULT_API)}
        models = [m for m in self._models.values() if provider is None or m.provider == provider]
        return sorted(models, key=lambda m: order.get(m.provider, len(order)))

    def find(self, model: str) -> builtins.list[ModelInfo]:
        """Entries of any provider whose id or alias is ``model`` (for "did you mean")."""
        return [m for m in self._models.values() if model == m.id or model in m.aliases]

    def default_model(self, provider: str) -> str | None:
        """The model used for ``provider`` when the user named none."""
        return self._defaults.get(provider)


# -- loading -------------------------------------------------------------------

_TableOfModels = dict[str, dict[str, dict[str, Any]]]


@cache
def _builtin_layer() -> tuple[_TableOfModels, dict[str, str]]:
    with open(BUILTIN_CATALOG_PATH, "rb") as handle:
        data = tomllib.load(handle)
    defaults = data.pop("defaults", {})
    return data, defaults


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def load_catalog(config_dir: Path | None = None) -> Catalog:
    """The merged catalog (built-in < OpenRouter cache < user ``models.toml``).

    Cached per process; a change to either user file is picked up on the next
    call. Raises ``ConfigError`` naming the file, line and key of a bad entry.
    """
    folder = config_dir if config_dir is not None else user_config_dir()
    user_path = folder / USER_CATALOG_NAME
    cache_path = folder / OPENROUTER_CACHE_NAME
    return _load(user_path, _mtime(user_path), cache_path, _mtime(cache_path))


@cache
def _load(
    user_path: Path, user_mtime: int | None, cache_path: Path, cache_mtime: int | None
) -> Catalog:
    builtin, builtin_defaults = _builtin_layer()
    merged: _TableOfModels = {p: {m: dict(f) for m, f in t.items()} for p, t in builtin.items()}
    defaults = dict(builtin_defaults)
    if cache_mtime is not None:
        _merge_layer(merged, read_openrouter_cache(cache_path))
    if user_mtime is not None:
        user, user_defaults = _read_user_catalog(user_path)
        _merge_layer(merged, user)
        defaults.update(user_defaults)
    models = []
    for provider, table in merged.items():
        for model, fields in table.items():
            try:
                models.append(_build(provider, model, fields))
            except ValidationError:
                # Only a stale or foreign OpenRouter cache can get here (the built-in
                # layer is tested, the user file is checked on its own): skip the entry.
                continue
    return Catalog(models, defaults)


def _build(provider: str, model: str, fields: Mapping[str, Any]) -> ModelInfo:
    values = {"api": DEFAULT_API.get(provider, "chat"), **fields}
    return ModelInfo.model_validate({**values, "provider": provider, "id": model})


def _merge_layer(merged: _TableOfModels, layer: _TableOfModels) -> None:
    """Lay ``layer`` over ``merged`` key by key; an alias names its model's entry."""
    for provider, table in layer.items():
        target = merged.setdefault(provider, {})
        aliases = {
            alias: model for model, fields in target.items() for alias in fields.get("aliases", ())
        }
        for model, fields in table.items():
            name = model if model in target else aliases.get(model, model)
            target[name] = {**target.get(name, {}), **fields}


def _read_user_catalog(path: Path) -> tuple[_TableOfModels, dict[str, str]]:
    """Read and check ``models.toml``; every mistake names the file, line and key."""
    from tau_engine.config import read_toml

    data = read_toml(path)
    text = path.read_text(encoding="utf-8")
    defaults = data.pop("defaults", {})
    if not isinstance(defaults, dict) or not all(isinstance(v, str) for v in defaults.values()):
        raise ConfigError(
            f'{path}{_where(text, "defaults")}: defaults: expected provider = "model" pairs'
        )
    for provider, table in data.items():
        if provider not in DEFAULT_API:
            known = ", ".join(DEFAULT_API)
            raise ConfigError(
                f"{path}{_where(text, provider)}: {provider}: unknown provider (known: {known})"
            )
        if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
            raise ConfigError(
                f"{path}{_where(text, provider)}: {provider}: expected "
                f'[{provider}."model-id"] tables'
            )
        for model, fields in table.items():
            try:
                _build(provider, model, fields)
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(p) for p in err["loc"])
                reason = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
                line = _where(text, provider, model, str(err["loc"][0]) if err["loc"] else None)
                raise ConfigError(f"{path}{line}: {provider}.{model}.{field}: {reason}") from exc
    return data, defaults


def _where(text: str, provider: str, model: str | None = None, key: str | None = None) -> str:
    """``:LINE`` of the table header (and the key under it) in a TOML text, or ``""``."""
    name = (
        rf"{re.escape(provider)}\s*[\].]"
        if model is None
        else (
            rf"{re.escape(provider)}\s*\.\s*(?:\"{re.escape(model)}\"|'{re.escape(model)}'"
            rf"|{re.escape(model)})\s*\]"
        )
    )
    header = re.compile(rf"^[ \t]*\[[ \t]*{name}", re.MULTILINE).search(text)
    if header is None:
        return ""
    start = header.start()
    if key is not None:
        nxt = re.compile(r"^[ \t]*\[", re.MULTILINE).search(text, header.end())
        end = nxt.start() if nxt else len(text)
        found = re.compile(rf"^[ \t]*[\"']?{re.escape(key)}[\"']?[ \t]*=", re.MULTILINE).search(
            text, header.end(), end
        )
        if found is not None:
            start = found.start()
    return f":{text.count(chr(10), 0, start) + 1}"


# -- the OpenRouter cache ------------------------------------------------------


def read_openrouter_cache(path: Path) -> _TableOfModels:
    """The cached OpenRouter entries; an unreadable cache counts as empty."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        models = data["models"]
        if not isinstance(models, list):
            return {}
    except (OSError, ValueError, KeyError, TypeError):
        # The cache is a convenience: a torn or foreign file must never stop a run.
        return {}
    table = {
        m["id"]: {k: v for k, v in m.items() if k != "id"}
        for m in models
        if isinstance(m, dict) and isinstance(m.get("id"), str)
    }
    return {"openrouter": table}


def openrouter_entry(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """Catalog fields of one model of OpenRouter's ``GET /models`` answer.

    OpenRouter prices are USD per token as strings; the catalog's are per
    million tokens. Returns ``None`` for an entry without an id.
    """
    model = raw.get("id")
    if not isinstance(model, str) or not model:
        return None
    entry: dict[str, Any] = {"id": model}
    if isinstance(raw.get("context_length"), int) and raw["context_length"] > 0:
        entry["context_window"] = raw["context_length"]
    top = raw.get("top_provider") or {}
    if (
        isinstance(top, dict)
        and isinstance(top.get("max_completion_tokens"), int)
        and top["max_completion_tokens"] > 0
    ):
        entry["max_output_tokens"] = top["max_completion_tokens"]
    pricing = raw.get("pricing") or {}
    for source, target in (
        ("prompt", "input_price"),
        ("completion", "output_price"),
        ("input_cache_read", "cached_input_price"),
        ("input_cache_write", "cache_write_price"),
    ):
        price = _per_million(pricing.get(source)) if isinstance(pricing, dict) else None
        if price is not None:
            entry[target] = price
    params = raw.get("supported_parameters")
    if isinstance(params, list):
        entry["tools"] = "tools" in params
        entry["extended_thinking"] = "reasoning" in params
    modalities = (raw.get("architecture") or {}).get("input_modalities")
    if isinstance(modalities, list):
        entry["vision"] = "image" in modalities
    return entry


def _per_million(value: Any) -> float | None:
    try:
        per_token = float(value)
    except (TypeError, ValueError):
        return None
    # OpenRouter marks variable-price routers (openrouter/auto) with -1.
    if per_token < 0:
        return None
    return round(per_token * _MILLION, 6)
