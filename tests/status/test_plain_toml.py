"""The plain TOML reader of ``tau status`` against ``tomllib``: every file it accepts,
tomllib reads to the same values (types included); every file tomllib refuses, it
refuses too; and what it leaves to tomllib still reads the same through ``safety_view``."""

from __future__ import annotations

import random
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tau_engine.status.plain_toml import loads_plain

KEYS = [
    "a",
    "b",
    "model",
    "safety",
    "x-1",
    "_",
    '"a"',
    '"q k"',
    "'lit'",
    '""',
    "a.b",
    '"a.b"',
    "é",
    '"é"',
    "1",
    "-",
    "a b",
    '"a\\"b"',
    "[a]",
    "'a'b'",
    '"a',
    "a=",
    "",
]
VALUES = [
    '"v"',
    "'v'",
    '""',
    "''",
    '"a#b"',
    "'a\"b'",
    '"a\'b"',
    '"tab\there"',
    '"x\\ny"',
    "'c:\\\\dir'",
    '"""m"""',
    "'''m'''",
    '"é ✓"',
    "1",
    "0",
    "-0",
    "+7",
    "01",
    "1_000",
    "123456789012345678",
    "1234567890123456789",
    "1.5",
    "-0.0",
    "1e3",
    "1E-3",
    "1.",
    ".5",
    "1e",
    "1.5e+2",
    "0e5",
    "inf",
    "nan",
    "+inf",
    "0x1f",
    "true",
    "false",
    "True",
    "[]",
    "[1, 2]",
    '["a", "b",]',
    "[1,,2]",
    "[[1], 2]",
    "[ 'x' , 1 ]",
    "[1 2]",
    "{}",
    "{a = 1}",
    "1979-05-27",
    "07:32:00",
    "",
    '"unterminated',
    "[1,",
    "x",
    "2026-12-01 06:32:52+00:00",
    "2026-12-01T06:32:52.5Z",
    "1979-05-27T07:32:00-07:30",
    "2026-02-30 00:00:00Z",
    "2026-12-01 06:32:52",
    "2026-12-01 24:00:00Z",
    "2026-12-01 06:32:52.1234567Z",
    "2026-12-01 06:32:52+0000",
    "2026-12-01  06:32:52Z",
    "2026-12-01t06:32:52z",
    "[2026-12-01 06:32:52Z, 1]",
    "2026-12-01 06:32:52Z1",
    "2026-12-01 06:32:52+24:00",
    "2026-12-01 06:32:52+23:60",
    "2026-12-01 06:32:52-00:00",
    "2026-12-01 06:32:52.Z",
    "2026-12-01 06:32:52.000001+05:30",
    "2026-12-01 06:32:60Z",
    "0001-01-01 00:00:00Z",
    "2026-13-01 00:00:00Z",
    "2026-12-01_06:32:52Z",
]
HEADERS = [
    "[t]",
    "[t.u]",
    "[u]",
    '["t"]',
    "[ t ]",
    "[t.]",
    "[]",
    "[[arr]]",
    "[t] # c",
    "[t]x",
    "['t'.\"u\"]",
    "[a]",
    "[a.b]",
    "[model]",
]
JUNK = [
    "",
    "   ",
    "# comment",
    "\t# tab comment",
    "a",
    "=",
    "= 1",
    "\x7f",
    "\ufeffa = 1",
    "a = 1 # c",
    "a = 1#c",
    "a = 1 2",
    'a = "v" x',
    "\u202ea = 1",
    'a = "\u00a0"',
]


def _line(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.6:
        space = rng.choice(["", " ", "\t", "  "])
        line = f"{rng.choice(KEYS)}{space}={rng.choice(['', ' ', '  '])}{rng.choice(VALUES)}"
        return rng.choice(["", "  "]) + line + rng.choice(["", " # c", "#c", " "])
    if kind < 0.8:
        return rng.choice(HEADERS)
    return rng.choice(JUNK)


def _typed(value: Any) -> Any:
    """``value`` with its types spelled out (``True == 1`` in Python, not in TOML)."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, value)


def _tomllib(text: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def test_every_file_it_reads_tomllib_reads_the_same() -> None:
    rng = random.Random(1729)
    accepted = 0
    for _ in range(20_000):
        newline = rng.choice(["\n", "\r\n"])
        text = newline.join(_line(rng) for _ in range(rng.randint(1, 6)))
        plain = loads_plain(text)
        if plain is None:
            continue
        accepted += 1
        real = _tomllib(text)
        assert real is not None, repr(text)
        assert _typed(plain) == _typed(real), repr(text)
    assert accepted > 1_500  # the test exercises the subset, not only refusals


CONFIGS = [
    'model = "anthropic/claude-sonnet-4-5"\nprofile = "work"\nsafety = "balanced"\n',
    'max_retries = 2\n\n[providers.anthropic]\napi_key_env = "ANTHROPIC_API_KEY"\n'
    'timeout_s = 60.0\n\n[fallbacks]\n"anthropic/claude-sonnet-4-5" = '
    '["openrouter/anthropic/claude-sonnet-4.5"]\n',
    '[workspaces."/home/me/src/tau"]\ntrusted = true\ndecided = 2026-12-01 06:32:52+00:00\n',
    "# only a comment\n",
    "",
]


@pytest.mark.parametrize("text", CONFIGS)
def test_config_files_as_tau_writes_them_are_in_the_subset(text: str) -> None:
    plain = loads_plain(text)
    assert plain is not None and _typed(plain) == _typed(tomllib.loads(text))


def test_the_trust_and_profile_files_tau_writes_are_in_the_subset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tau_engine.config.profiles import Profile, ProfileStore
    from tau_engine.resources.trust import TrustStore

    monkeypatch.setenv("TAU_CONFIG_DIR", str(tmp_path))
    TrustStore().decide(tmp_path / "ws", True)
    ProfileStore().save(
        "work",
        Profile(provider="offline", model="offline/echo", key_source="none", safety="strict"),
    )
    files = sorted(tmp_path.rglob("*.toml"))
    assert len(files) == 2
    for path in files:
        text = path.read_text()
        plain = loads_plain(text)
        assert plain is not None, text
        assert _typed(plain) == _typed(tomllib.loads(text))


@pytest.mark.parametrize(
    "text",
    [
        'a = "x\\ty"\n',  # escapes
        "a = [\n  1,\n]\n",  # a multi-line array
        "a = {b = 1}\n",  # an inline table
        "a.b = 1\n",  # a dotted key
        "[a.b]\n[a]\n",  # a parent table defined after its child
        "d = 1979-05-27\n",  # a date
        '[ "spaced" ]\n',
    ],
)
def test_valid_toml_outside_the_subset_is_left_to_tomllib(text: str) -> None:
    assert _tomllib(text) is not None and loads_plain(text) is None


@pytest.mark.parametrize(
    "text", ["a = 1\na = 2\n", "[t]\n[t]\n", "a = 1\n[a]\n", "a = 1\n[a.b]\n", "a = 01\n"]
)
def test_what_tomllib_refuses_it_refuses(text: str) -> None:
    assert _tomllib(text) is None and loads_plain(text) is None
