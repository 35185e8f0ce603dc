"""``SqliteBackend``: the ``StoreBackend`` whose parts all live in ``.tau/tau.db``.

Each part opens its own connection (the session store, missions, memory, jobs), so each can
be opened and closed on its own; SQLite's WAL lets them read and write side by side.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tau_engine.paths import WorkspacePaths
from tau_engine.store.job_models import Fence
from tau_engine.store.sqlite.job_fence import check_fence
from tau_engine.store.sqlite.jobs import SqliteJobQueue
from tau_engine.store.sqlite.memory_fts import SqliteMemoryStore
from tau_engine.store.sqlite.missions import SqliteMissionStore
from tau_engine.store.sqlite.recovery import RecoveryReport, recover_store
from tau_engine.store.sqlite.sessions import SqliteSessionStore


class SqliteBackend:
    """One workspace's SQLite store."""

    name = "sqlite"

    def __init__(self, paths: WorkspacePaths) -> None:
        self.paths = paths

    def open_sessions(
        self, *, clock: Callable[[], float] = time.time, read_only: bool = False
    ) -> SqliteSessionStore:
        if read_only:
            return SqliteSessionStore.open_for_reading(self.paths, clock=clock)
        return SqliteSessionStore.open(self.paths, clock=clock)

    def open_missions(self) -> SqliteMissionStore:
        return SqliteMissionStore.open(self.paths)

    def open_memory(self) -> SqliteMemoryStore:
        return SqliteMemoryStore.open(self.paths)

    def open_jobs(self, *, clock: Callable[[], float] = time.time) -> SqliteJobQueue:
        return SqliteJobQueue.open(self.paths, clock=clock)

    def check_job_fence(self, fence: Fence) -> None:
        check_fence(self.paths.db_path, fence)

    def recover(self, *, clock: Callable[[], float] = time.time) -> RecoveryReport:
        return recover_store(self.paths, clock=clock)
