"""``tau models``: list the model catalog, or refresh it from OpenRouter.

``tau models`` prints a table (model id, context window, output limit,
prices per million tokens, flags); ``--json`` prints one compact JSON line
instead (a list of objects, the last line of stdout). ``--refresh openrouter``
first fetches OpenRouter's live list into the user config dir, where the
catalog merges it; when that fails, one line on stderr says why, the exit
code is 1, and the built-in catalog keeps working.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

REFRESHABLE = ("openrouter",)
_REFRESH_TIMEOUT_S = 30.0


def add_parser(sub: Any) -> None:
    """Declare ``tau models`` on the CLI's subparsers."""
    parser = sub.add_parser(
        "models",
        help="list the model catalog (limits, prices, flags)",
        description="List the models tau knows, with their context "
        "window, output limit and USD prices per million tokens.",
    )
    parser.add_argument("--provider", metavar="P", help="only this provider's models")
    parser.add_argument("--json", action="store_true", help="one JSON line: a list of models")
    parser.add_argument(
        "--refresh",
        metavar="PROVIDER",
        choices=REFRESHABLE,
        help="first fetch the provider's live model list (openrouter)",
    )
    parser.add_argument("--workspace", "-w", metavar="DIR", help="workspace root")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def run(args: argparse.Namespace) -> int:
    """Run ``tau models``; returns the exit code."""
    from tau_engine.errors import UsageError
    from tau_engine.providers.catalog import DEFAULT_API, load_catalog

    if args.refresh:
        merged = _refresh(args)
        if merged is None:
            return 1
        sys.stdout.write(f"merged {merged} {args.refresh} models into the catalog\n")
    catalog = load_catalog()
    provider = args.provider.lower() if args.provider else None
    if provider is not None and provider not in DEFAULT_API:
        raise UsageError(f"unknown provider '{args.provider}'; known: {', '.join(DEFAULT_API)}")
    models = catalog.list(provider)
    defaults = {p: catalog.default_model(p) for p in DEFAULT_API}
    if args.json:
        import json

        rows = [
            {
                **m.model_dump(mode="json"),
                "model_id": m.model_id,
                "default": defaults.get(m.provider) == m.id,
            }
            for m in models
        ]
        sys.stdout.write(json.dumps(rows, separators=(",", ":")) + "\n")
        return 0
    sys.stdout.write(render_table(models, defaults))
    return 0


# -- the table ---------------------------------------------------------------------

_HEADERS = ("MODEL", "CONTEXT", "MAX OUT", "IN $/M", "OUT $/M", "CACHED $/M", "FLAGS")


def _tokens(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1_000_000:.3g}M"
    if count >= 1_000:
        return f"{round(count / 1_000)}k"
    return str(count)


def _price(value: float | None) -> str:
    if value is None:
        return "?"
    if 0 < value < 0.001:
        return f"{value:.1e}"
    text = f"{value:.3f}".rstrip("0")
    decimals = len(text.split(".")[1])
    return text + "0" * (2 - decimals) if decimals < 2 else text


def _flags(model: Any, is_default: bool) -> str:
    flags = [
        name
        for name, on in (
            ("default", is_default),
            ("tools", model.tools),
            ("vision", model.vision),
            ("thinking", model.extended_thinking),
            ("responses-api", model.api == "responses"),
            ("deprecated", model.deprecated),
        )
        if on
    ]
    return ",".join(flags)


def render_table(models: list[Any], defaults: dict[str, str | None]) -> str:
    """The plain-text table of ``models`` (``?`` marks an unknown price)."""
    if not models:
        return "no models\n"
    rows = [_HEADERS] + [
        (
            m.model_id,
            _tokens(m.context_window),
            _tokens(m.max_output_tokens),
            _price(m.input_price),
            _price(m.output_price),
            _price(m.cached_input_price),
            _flags(m, defaults.get(m.provider) == m.id),
        )
        for m in models
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADERS))]
    right = {1, 2, 3, 4, 5}  # numbers line up on the right
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    lines.append(
        "prices: USD per million tokens; ? = unknown. "
        "Override in models.toml in the user config dir."
    )
    return "\n".join(lines) + "\n"


# -- refresh -----------------------------------------------------------------------


def _refresh(args: argparse.Namespace) -> int | None:
    """Fetch and cache the OpenRouter list; ``None`` (after one stderr line) on failure."""
    import os

    from tau_engine.config import load_settings
    from tau_engine.errors import TauError
    from tau_engine.paths import WorkspacePaths, user_config_dir
    from tau_engine.providers.catalog import OPENROUTER_CACHE_NAME
    from tau_engine.providers.dotenv import merged_environ
    from tau_engine.providers.key_sources import find_base_url

    paths = WorkspacePaths.locate(args.workspace)
    settings = load_settings(paths)
    env = merged_environ(os.environ, paths.root)
    base_url = find_base_url("openrouter", settings, env, use_override=False)
    assert base_url is not None
    try:
        return refresh_openrouter(base_url, user_config_dir() / OPENROUTER_CACHE_NAME)
    except TauError as exc:
        sys.stderr.write(f"tau: error: {exc}; the built-in model list still works\n")
        return None


def refresh_openrouter(
    base_url: str, cache_path: Path, timeout_s: float = _REFRESH_TIMEOUT_S
) -> int:
    """``GET {base_url}/models`` into ``cache_path`` (atomically); the number of models.

    Raises ``ProviderError`` when the list cannot be fetched or read.
    """
    import json
    import time

    import httpx

    from tau_engine.errors import ProviderError
    from tau_engine.paths import atomic_write_text
    from tau_engine.providers.catalog import openrouter_entry

    url = f"{base_url.rstrip('/')}/models"
    try:
        response = httpx.get(url, timeout=timeout_s, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise ProviderError(
            f"could not fetch {url}: {reason}", kind="connection", provider="openrouter"
        ) from exc
    if response.status_code >= 400:
        raise ProviderError(
            f"GET {url} answered HTTP {response.status_code}",
            kind="server" if response.status_code >= 500 else "bad_request",
            status=response.status_code,
            provider="openrouter",
        )
    try:
        data = response.json()["data"]
        if not isinstance(data, list):
            raise TypeError("data is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise ProviderError(
            f"GET {url} did not return a model list ({exc})",
            kind="bad_request",
            provider="openrouter",
        ) from exc
    entries = [e for e in (openrouter_entry(m) for m in data if isinstance(m, dict)) if e]
    if not entries:
        raise ProviderError(
            f"GET {url} returned no models", kind="bad_request", provider="openrouter"
        )
    atomic_write_text(
        cache_path,
        json.dumps(
            {"source": url, "fetched_at": time.time(), "models": entries}, separators=(",", ":")
        ),
    )
    return len(entries)


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="tau")
    add_parser(_parser.add_subparsers(dest="command", required=True))
    _args = _parser.parse_args(["models", *sys.argv[1:]])
    from tau_tui.guard import run_guarded

    sys.exit(run_guarded(lambda: run(_args), _args.debug))
