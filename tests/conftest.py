"""Suite-wide fixtures: every test runs hermetic, with no real config, keys or network."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.postgres_server import PostgresServer, find_binaries
from tests.support.scripted_server import ScriptedServer
from tests.support.store_backends import STORE_BACKENDS, STORE_URLS

if TYPE_CHECKING:
    from tau_engine.store import StoreBackend

_PROVIDER_VARS = [
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OPENROUTER_API_KEY",
    "DEEPSEEK_API_KEY",
    "XAI_API_KEY",
    "MISTRAL_API_KEY",
    "TAU_MODEL",
    "TAU_BASE_URL",
    "TAU_APPROVAL",
    "TAU_MAX_TURNS",
    "TAU_THEME",
    "TAU_STORE_URL",  # a developer's shared store must not receive the suite's jobs
]


@pytest.fixture(autouse=True)
def _hermetic_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A private user config dir and no provider keys from the developer's environment."""
    monkeypatch.setenv("TAU_CONFIG_DIR", str(tmp_path_factory.mktemp("tau-config")))
    for var in list(os.environ):
        if var in _PROVIDER_VARS or (
            var.startswith("TAU_") and var.endswith(("_API_KEY", "_BASE_URL"))
        ):
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


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of one store backend: a test taking it runs once per ``STORE_BACKENDS``
    entry (``open_store(paths, store_url)`` opens that backend for any workspace;
    PostgreSQL in a fresh database, dropped afterwards)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return STORE_URLS[str(request.param)]


@pytest.fixture
def other_store_url(store_url: str, request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Makes the URL of another, separate store of ``store_url``'s backend (a second
    workspace): SQLite's URL names each workspace's own file, PostgreSQL's a database."""
    made: list[str] = []
    server: PostgresServer | None = None
    if not store_url.startswith("postgresql"):
        yield lambda: store_url
        return
    server = request.getfixturevalue("postgres_server")

    def make() -> str:
        assert server is not None
        made.append(server.database())
        return made[-1]

    yield make
    for url in made:
        server.drop(url)


@pytest.fixture
def store_workspace(tmp_path: Path) -> Path:
    """The workspace whose store ``store_backend`` opens (a test module may override it)."""
    return tmp_path


@pytest.fixture
def store_backend(store_url: str, store_workspace: Path) -> StoreBackend:
    """The store of a temp workspace, once per backend in ``STORE_BACKENDS``."""
    from tau_engine.paths import WorkspacePaths
    from tau_engine.store import open_store

    return open_store(WorkspacePaths(store_workspace), store_url)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for this test process (initdb into a temp folder, a
    free local port, its socket in that folder); skips, saying why, without binaries."""
    bin_dir, why = find_binaries()
    if bin_dir is None:
        pytest.skip(why)
    server = PostgresServer(bin_dir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database on ``postgres_server``, dropped afterwards."""
    url = postgres_server.database()
    yield url
    postgres_server.drop(url)
