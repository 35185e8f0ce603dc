"""Suite-wide fixtures: every test runs hermetic, with no real config, keys or network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.scripted_server import ScriptedServer

_PROVIDER_VARS = [
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
    "GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY",
    "XAI_API_KEY", "MISTRAL_API_KEY", "TAU_MODEL", "TAU_BASE_URL", "TAU_APPROVAL",
    "TAU_MAX_TURNS", "TAU_THEME",
]


@pytest.fixture(autouse=True)
def _hermetic_env(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A private user config dir and no provider keys from the developer's environment."""
    monkeypatch.setenv("TAU_CONFIG_DIR", str(tmp_path_factory.mktemp("tau-config")))
    for var in list(os.environ):
        if var in _PROVIDER_VARS or (var.startswith("TAU_") and var.endswith(
                ("_API_KEY", "_BASE_URL"))):
            monkeypatch.delenv(var, raising=False)


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    """The loopback scripted provider server, started for one test."""
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A temp git repository to run tau in."""
    import subprocess

    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    return root
