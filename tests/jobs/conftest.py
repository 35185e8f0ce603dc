"""Fixtures of the job tests: a queue per backend, a clock the test moves, an owner.

``queue_backend`` is the store URL of one backend, once per ``JOB_QUEUE_BACKENDS``
entry (``tests/support/store_backends.py``; PostgreSQL in a fresh database), and the
queue is opened through ``open_store`` as tau opens it, so every queue test runs
against each backend listed there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tau_engine.paths import WorkspacePaths
from tau_engine.store import JobQueue, open_store
from tau_engine.store.job_models import LeaseOwner
from tests.support.store_backends import JOB_QUEUE_BACKENDS, STORE_URLS


class Clock:
    """Wall time the test sets and moves."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def open_queue(url: str, paths: WorkspacePaths, clock: Clock | None = None) -> JobQueue:
    """The job queue of the store ``url`` names (``queue_backend``)."""
    store = open_store(paths, url)
    return store.open_jobs(clock=clock) if clock else store.open_jobs()


@pytest.fixture
def paths(tmp_path: Path) -> WorkspacePaths:
    root = tmp_path / "ws"
    root.mkdir()
    return WorkspacePaths(root.resolve())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=JOB_QUEUE_BACKENDS)
def queue_backend(request: pytest.FixtureRequest) -> str:
    """The store URL of one job queue backend."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return STORE_URLS[str(request.param)]


@pytest.fixture
def queue(queue_backend: str, paths: WorkspacePaths, clock: Clock) -> Iterator[JobQueue]:
    opened = open_queue(queue_backend, paths, clock)
    try:
        yield opened
    finally:
        opened.close()


def owner(name: str = "slot-0", pid: int = 4121, host: str = "host-a") -> LeaseOwner:
    return LeaseOwner(worker=name, host=host, boot_id="boot", pid=pid, pid_start=1)
