"""The model catalog: built-in data, user overrides, the OpenRouter cache, costs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tau_engine.conversation import Usage
from tau_engine.errors import ConfigError
from tau_engine.paths import user_config_dir
from tau_engine.providers.catalog import (
    DEFAULT_API,
    OPENROUTER_CACHE_NAME,
    USER_CATALOG_NAME,
    ModelInfo,
    cost_usd,
    load_catalog,
    openrouter_entry,
)


def write_user_catalog(text: str) -> Path:
    path = user_config_dir() / USER_CATALOG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def bump_mtime(path: Path, seconds: int) -> None:
    """Give ``path`` a different mtime than it had (file systems may have coarse clocks)."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 1_000_000_000))


# -- the built-in catalog ---------------------------------------------------------


def test_every_provider_has_models_and_a_default_that_exists() -> None:
    catalog = load_catalog()
    for provider in DEFAULT_API:
        assert catalog.list(provider), provider
        default = catalog.default_model(provider)
        assert default is not None and catalog.get(provider, default) is not None, provider


def test_builtin_entries_are_consistent() -> None:
    for info in load_catalog().list():
        assert info.max_output_tokens <= info.context_window, info.model_id
        if info.input_price is not None and info.cached_input_price is not None:
            assert info.cached_input_price <= info.input_price, info.model_id
        assert (info.input_price is None) == (info.output_price is None), info.model_id


def test_wire_format_defaults_by_provider_and_responses_only_models() -> None:
    catalog = load_catalog()
    assert catalog.get("anthropic", "claude-sonnet-4-5").api == "anthropic"  # type: ignore[union-attr]
    assert catalog.get("gemini", "gemini-2.5-pro").api == "gemini"  # type: ignore[union-attr]
    assert catalog.get("openai", "gpt-5").api == "chat"  # type: ignore[union-attr]
    assert catalog.get("openai", "gpt-5-pro").api == "responses"  # type: ignore[union-attr]
    assert catalog.get("openrouter", "openai/gpt-5").api == "chat"  # type: ignore[union-attr]


def test_seeded_families_are_present() -> None:
    catalog = load_catalog()
    for provider, model in [
        ("openai", "gpt-5"),
        ("openai", "gpt-5-mini"),
        ("openai", "gpt-4.1"),
        ("openai", "o3"),
        ("openai", "o4-mini"),
        ("anthropic", "claude-opus-4-1"),
        ("anthropic", "claude-haiku-4-5"),
        ("gemini", "gemini-2.5-flash"),
        ("gemini", "gemini-2.5-flash-lite"),
        ("gemini", "gemini-3-pro-preview"),
        ("xai", "grok-4"),
        ("mistral", "mistral-large-latest"),
        ("deepseek", "deepseek-chat"),
        ("deepseek", "deepseek-reasoner"),
        ("openrouter", "anthropic/claude-sonnet-4.5"),
        ("openrouter", "meta-llama/llama-4-maverick"),
        ("offline", "echo"),
        ("offline", "replay"),
    ]:
        assert catalog.get(provider, model) is not None, f"{provider}/{model}"
    echo = catalog.get("offline", "echo")
    assert echo is not None and echo.input_price == 0 and echo.output_price == 0


def test_aliases_find_the_canonical_entry() -> None:
    info = load_catalog().get("anthropic", "claude-sonnet-4-5-20250929")
    assert info is not None and info.id == "claude-sonnet-4-5"
    assert info.model_id == "anthropic/claude-sonnet-4-5"
    assert load_catalog().get("anthropic", "no-such-model") is None


def test_list_filters_by_provider_and_find_searches_every_provider() -> None:
    catalog = load_catalog()
    assert {m.provider for m in catalog.list("gemini")} == {"gemini"}
    assert catalog.list("nobody") == []
    assert [m.model_id for m in catalog.find("gpt-5")] == ["openai/gpt-5"]


def test_load_is_cached_until_a_user_file_changes() -> None:
    first = load_catalog()
    assert load_catalog() is first
    path = write_user_catalog('[openai."gpt-5"]\ninput_price = 9.0\n')
    second = load_catalog()
    assert second is not first
    assert second.get("openai", "gpt-5").input_price == 9.0  # type: ignore[union-attr]
    path.write_text('[openai."gpt-5"]\ninput_price = 7.0\n', encoding="utf-8")
    bump_mtime(path, 5)
    assert load_catalog().get("openai", "gpt-5").input_price == 7.0  # type: ignore[union-attr]


# -- user overrides ------------------------------------------------------------------


def test_user_file_overrides_only_the_keys_it_sets_and_adds_models() -> None:
    write_user_catalog("""
[defaults]
ollama = "my-coder"

[openai."gpt-5"]
input_price = 2.5

[anthropic."claude-sonnet-4-5-20250929"]  # an alias names the same entry
context_window = 1000000

[ollama."my-coder"]
context_window = 32768
input_price = 0
output_price = 0
""")
    catalog = load_catalog()
    gpt5 = catalog.get("openai", "gpt-5")
    assert gpt5 is not None
    assert gpt5.input_price == 2.5 and gpt5.output_price == 10.0
    assert gpt5.context_window == 400_000 and gpt5.api == "chat"
    sonnet = catalog.get("anthropic", "claude-sonnet-4-5")
    assert sonnet is not None and sonnet.context_window == 1_000_000
    assert catalog.get("anthropic", "claude-sonnet-4-5-20250929") is sonnet
    mine = catalog.get("ollama", "my-coder")
    assert mine is not None and mine.context_window == 32768 and mine.api == "chat"
    assert catalog.default_model("ollama") == "my-coder"


def test_a_user_entry_may_choose_the_responses_api() -> None:
    write_user_catalog('[openai."gpt-9"]\napi = "responses"\n')
    info = load_catalog().get("openai", "gpt-9")
    assert info is not None and info.api == "responses"
    assert info.input_price is None  # unknown until stated


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[openai."gpt-5"]\ninput_price = 1.0\ncontext_window = "big"\n',
            "models.toml:3: openai.gpt-5.context_window: Input should be a valid integer",
        ),
        ('[openai."gpt-5"]\n\ncolour = "red"\n', "models.toml:3: openai.gpt-5.colour: unknown key"),
        ('[openai."gpt-5"]\napi = "grpc"\n', "models.toml:2: openai.gpt-5.api: Input should be"),
        ('[openai."gpt-5"]\ninput_price = -1\n', "models.toml:2: openai.gpt-5.input_price:"),
        ('[acme."x"]\ninput_price = 1\n', "models.toml:1: acme: unknown provider (known: "),
        ("[openai]\nmodel = 3\n", 'models.toml:1: openai: expected [openai."model-id"] tables'),
        ("[defaults]\nopenai = 5\n", "models.toml:1: defaults: expected"),
        ('[openai."gpt-5"\ninput_price = 1\n', "models.toml:1: invalid TOML"),
    ],
)
def test_a_malformed_user_file_names_file_line_and_key(text: str, expected: str) -> None:
    write_user_catalog(text)
    with pytest.raises(ConfigError) as caught:
        load_catalog()
    assert expected in str(caught.value)


def test_catalog_for_an_explicit_config_dir(tmp_path: Path) -> None:
    (tmp_path / USER_CATALOG_NAME).write_text(
        '[xai."grok-9"]\ninput_price = 1\noutput_price = 2\n', encoding="utf-8"
    )
    assert load_catalog(tmp_path).get("xai", "grok-9") is not None
    assert load_catalog().get("xai", "grok-9") is None


# -- the OpenRouter cache ---------------------------------------------------------------

OPENROUTER_MODEL = {
    "id": "acme/coder-1",
    "context_length": 262144,
    "pricing": {"prompt": "0.0000004", "completion": "0.0000016", "input_cache_read": "0.0000001"},
    "top_provider": {"max_completion_tokens": 65536},
    "supported_parameters": ["tools", "reasoning", "temperature"],
    "architecture": {"input_modalities": ["text", "image"]},
}


def test_openrouter_entry_converts_prices_per_token_to_per_million() -> None:
    entry = openrouter_entry(OPENROUTER_MODEL)
    assert entry == {
        "id": "acme/coder-1",
        "context_window": 262144,
        "max_output_tokens": 65536,
        "input_price": 0.4,
        "output_price": 1.6,
        "cached_input_price": 0.1,
        "tools": True,
        "extended_thinking": True,
        "vision": True,
    }
    variable = openrouter_entry(
        {
            "id": "openrouter/auto",
            "pricing": {"prompt": "-1", "completion": "-1"},
            "supported_parameters": ["temperature"],
        }
    )
    assert variable == {"id": "openrouter/auto", "tools": False, "extended_thinking": False}
    assert openrouter_entry({"name": "no id"}) is None


def test_the_openrouter_cache_merges_over_builtin_and_under_the_user_file() -> None:
    cache = user_config_dir() / OPENROUTER_CACHE_NAME
    cache.parent.mkdir(parents=True, exist_ok=True)
    sonnet = {"id": "anthropic/claude-sonnet-4.5", "input_price": 2.0}
    new = openrouter_entry(OPENROUTER_MODEL)
    cache.write_text(
        json.dumps({"fetched_at": time.time(), "models": [sonnet, new]}), encoding="utf-8"
    )
    catalog = load_catalog()
    merged = catalog.get("openrouter", "anthropic/claude-sonnet-4.5")
    assert merged is not None and merged.input_price == 2.0
    assert merged.knowledge_cutoff == "2025-01"  # built-in keys the cache lacks stay
    added = catalog.get("openrouter", "acme/coder-1")
    assert added is not None and added.output_price == 1.6 and added.vision
    write_user_catalog('[openrouter."acme/coder-1"]\noutput_price = 1.0\n')
    assert load_catalog().get("openrouter", "acme/coder-1").output_price == 1.0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "content",
    ["{not json", '{"models": 3}', '{"models": [{"id": "x/y", "context_window": "huge"}]}'],
)
def test_a_broken_openrouter_cache_is_ignored(content: str) -> None:
    cache = user_config_dir() / OPENROUTER_CACHE_NAME
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(content, encoding="utf-8")
    catalog = load_catalog()
    assert catalog.get("openrouter", "anthropic/claude-sonnet-4.5") is not None
    assert catalog.get("openrouter", "x/y") is None


# -- cost ----------------------------------------------------------------------------

PRICED = ModelInfo(
    provider="openai", id="m", input_price=2.0, output_price=8.0, cached_input_price=0.5
)


def test_cost_prices_fresh_cached_and_output_tokens() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=500_000)
    assert cost_usd(PRICED, usage) == pytest.approx(2.0 + 4.0)
    cached = Usage(input_tokens=1_000_000, cached_input_tokens=800_000, output_tokens=0)
    assert cost_usd(PRICED, cached) == pytest.approx(0.2 * 2.0 + 0.8 * 0.5)


def test_cache_writes_use_their_own_price_or_the_input_price() -> None:
    anthropic = ModelInfo(
        provider="anthropic",
        id="m",
        input_price=3.0,
        output_price=15.0,
        cached_input_price=0.3,
        cache_write_price=3.75,
    )
    usage = Usage(
        input_tokens=3000, cached_input_tokens=1000, cache_write_tokens=1000, output_tokens=1000
    )
    assert cost_usd(anthropic, usage) == pytest.approx(
        (1000 * 3.0 + 1000 * 0.3 + 1000 * 3.75 + 1000 * 15.0) / 1e6
    )
    no_cache_prices = ModelInfo(provider="x", id="m", input_price=1.0, output_price=1.0)
    assert cost_usd(no_cache_prices, usage) == pytest.approx(4000 / 1e6)


def test_cost_is_unknown_without_prices_and_zero_for_free_models() -> None:
    usage = Usage(input_tokens=10, output_tokens=10)
    assert cost_usd(None, usage) is None
    assert cost_usd(ModelInfo(provider="openai", id="new"), usage) is None
    assert cost_usd(ModelInfo(provider="openai", id="half", input_price=1.0), usage) is None
    assert cost_usd(load_catalog().get("offline", "echo"), usage) == 0.0


def test_cost_never_goes_negative_on_inconsistent_counts() -> None:
    odd = Usage(input_tokens=10, cached_input_tokens=50, output_tokens=0)
    assert cost_usd(PRICED, odd) == pytest.approx(50 * 0.5 / 1e6)
