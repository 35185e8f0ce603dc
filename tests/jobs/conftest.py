"""Fixtures of the job tests: a queue per backend, a clock the test moves, an owner.

``queue_backend`` is parametrized by backend name; the PostgreSQL queue adds its
name to ``BACKENDS`` (and a factory to ``open_queue``) and every queue test runs
against it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tau_engine.paths import WorkspacePaths
from tau_engine.store.job_models import LeaseOwner
from tau_engine.store.job_queue import JobQueue

BACKENDS = ["sqlite"]


class Clock:
    """Wall time the test sets and moves."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def open_queue(backend: str, paths: WorkspacePaths, clock: Clock | None = None) -> JobQueue:
    if backend == "sqlite":
        from tau_engine.store.jobs import SqliteJobQueue

        return SqliteJobQueue.open(paths, clock=clock) if clock else SqliteJobQueue.open(paths)
    raise AssertionError(f"no job queue backend {backend}")


@pytest.fixture
def paths(tmp_path: Path) -> WorkspacePaths:
    root = tmp_path / "ws"
    root.mkdir()
    return WorkspacePaths(root.resolve())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=BACKENDS)
def queue_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def queue(queue_backend: str, paths: WorkspacePaths, clock: Clock) -> Iterator[JobQueue]:
    opened = open_queue(queue_backend, paths, clock)
    try:
        yield opened
    finally:
        opened.close()


def owner(name: str = "slot-0", pid: int = 4121, host: str = "host-a") -> LeaseOwner:
    return LeaseOwner(worker=name, host=host, boot_id="boot", pid=pid, pid_start=1)
