"""Fixtures of the memory tests: a ``MemoryStore`` per backend, a service on a fixed clock.

Every test that takes ``memory_store`` or ``service`` runs once per backend in
``BACKENDS``; a PostgreSQL backend joins by adding its name and its opener here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tau_engine.memory.service import MemoryService
from tau_engine.paths import WorkspacePaths
from tau_engine.store.memory_api import MemoryStore
from tau_engine.store.memory_fts import SqliteMemoryStore

START = 1_767_268_800.0  # 2026-01-01 12:00 UTC


def _open_sqlite(root: Path) -> MemoryStore:
    return SqliteMemoryStore.open(WorkspacePaths(root))


OPENERS: dict[str, Callable[[Path], MemoryStore]] = {"sqlite": _open_sqlite}
BACKENDS = list(OPENERS)


class StepClock:
    """A clock that starts at ``START`` and moves one second per reading."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def memory_root(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def memory_store(backend: str, memory_root: Path) -> Iterator[MemoryStore]:
    store = OPENERS[backend](memory_root)
    yield store
    store.close()


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def service(memory_store: MemoryStore, clock: StepClock) -> MemoryService:
    return MemoryService(memory_store, clock=clock)
