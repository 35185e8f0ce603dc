"""Fixtures of the memory tests: a ``MemoryStore`` per backend, a service on a fixed clock.

Every test that takes ``memory_store`` or ``service`` runs once per store backend
(``store_backend``, ``tests/support/store_backends.py``), in the workspace ``memory_root``;
``backend`` names the one a test runs on, for checks that look inside its files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tau_engine.memory.service import MemoryService
from tau_engine.store import MemoryStore, StoreBackend

START = 1_767_268_800.0  # 2026-01-01 12:00 UTC


class StepClock:
    """A clock that starts at ``START`` and moves one second per reading."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def memory_root(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def store_workspace(memory_root: Path) -> Path:
    return memory_root


@pytest.fixture
def backend(store_backend: StoreBackend) -> str:
    return store_backend.name


@pytest.fixture
def memory_store(store_backend: StoreBackend) -> Iterator[MemoryStore]:
    store = store_backend.open_memory()
    yield store
    store.close()


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def service(memory_store: MemoryStore, clock: StepClock) -> MemoryService:
    return MemoryService(memory_store, clock=clock)
