"""``PostgresBackend``: the ``StoreBackend`` of a PostgreSQL database.

So far it holds the job queue only: ``open_jobs`` and the fence check work, and the
other parts (sessions, missions, memory, recovery) refuse with a clear error until they
move here too, rather than quietly staying in the workspace's SQLite file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NoReturn

from tau_engine.errors import LeaseLostError, StoreError, UsageError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.job_models import Fence
from tau_engine.store.postgres.connection import connect, describe, translate_errors
from tau_engine.store.postgres.jobs import PostgresJobQueue


class PostgresBackend:
    """One PostgreSQL database, named by a ``postgresql://`` URL."""

    name = "postgresql"

    def __init__(self, paths: WorkspacePaths, url: str) -> None:
        self.paths = paths
        self._url = url
        self.where = describe(url)

    def _not_yet(self, part: str) -> NoReturn:
        raise UsageError(
            f"{part} cannot live in PostgreSQL yet (only the job queue does); "
            "use the workspace's SQLite store for them"
        )

    def open_sessions(
        self, *, clock: Callable[[], float] = time.time, read_only: bool = False
    ) -> NoReturn:
        self._not_yet("sessions")

    def open_missions(self) -> NoReturn:
        self._not_yet("missions")

    def open_memory(self) -> NoReturn:
        self._not_yet("memory")

    def recover(self, *, clock: Callable[[], float] = time.time) -> NoReturn:
        raise UsageError(
            "'tau sessions recover' rebuilds a SQLite store; PostgreSQL keeps "
            "its own consistency and holds no sessions yet"
        )

    def open_jobs(self, *, clock: Callable[[], float] = time.time) -> PostgresJobQueue:
        from tau_engine.store.workspace_key import workspace_key

        return PostgresJobQueue.open(
            self._url, self.where, workspace=workspace_key(self.paths.root), clock=clock
        )

    def check_job_fence(self, fence: Fence) -> None:
        conn = connect(self._url, self.where)
        try:
            with translate_errors(self.where):
                row = conn.execute(
                    "SELECT 1 FROM jobs WHERE id = %s AND fence = %s AND state = 'running'",
                    (fence.job_id, fence.token),
                ).fetchone()
        except StoreError as exc:
            raise StoreError(f"cannot check job {fence.job_id[:8]}'s fence: {exc}") from None
        finally:
            conn.close()
        if row is None:
            raise LeaseLostError(
                f"job {fence.job_id[:8]} no longer holds fence {fence.token} "
                "(it was recovered or cancelled); not going on"
            )
