"""``PostgresBackend``: the ``StoreBackend`` of a PostgreSQL database.

It holds every part of the store: sessions and their event log, missions, memory and
the job queue, each opening its own connection. ``recover`` is SQLite's alone (it
rebuilds a damaged file) and refuses here with a clear error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import NoReturn

from tau_engine.errors import LeaseLostError, StoreError, UsageError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.job_models import Fence
from tau_engine.store.postgres.connection import connect, describe, translate_errors
from tau_engine.store.postgres.jobs import PostgresJobQueue
from tau_engine.store.postgres.load import load_tables
from tau_engine.store.postgres.memory import PostgresMemoryStore
from tau_engine.store.postgres.missions import PostgresMissionStore
from tau_engine.store.postgres.sessions import PostgresSessionStore
from tau_engine.store.table_rows import TableRows


class PostgresBackend:
    """One PostgreSQL database, named by a ``postgresql://`` URL."""

    name = "postgresql"

    def __init__(self, paths: WorkspacePaths, url: str) -> None:
        self.paths = paths
        self._url = url
        self.where = describe(url)

    def open_sessions(
        self, *, clock: Callable[[], float] = time.time, read_only: bool = False
    ) -> PostgresSessionStore:
        # ``read_only``: the command only reads, so it neither migrates nor writes (and
        # works with a role that may only read).
        return PostgresSessionStore.open(
            self.paths, self._url, self.where, clock=clock, read_only=read_only
        )

    def open_missions(self) -> PostgresMissionStore:
        return PostgresMissionStore.open(self._url, self.where)

    def open_memory(self) -> PostgresMemoryStore:
        return PostgresMemoryStore.open(self._url, self.where)

    def recover(self, *, clock: Callable[[], float] = time.time) -> NoReturn:
        raise UsageError(
            "'tau sessions recover' rebuilds a SQLite store; PostgreSQL keeps "
            "its own consistency (its backups are the server's)"
        )

    def open_jobs(self, *, clock: Callable[[], float] = time.time) -> PostgresJobQueue:
        from tau_engine.store.workspace_key import workspace_key

        return PostgresJobQueue.open(
            self._url, self.where, workspace=workspace_key(self.paths.root), clock=clock
        )

    def load_tables(self, tables: Iterable[TableRows]) -> dict[str, int]:
        """Copy another store's tables in, all or nothing (``tau store migrate``)."""
        from tau_engine.store.workspace_key import workspace_key

        key = workspace_key(self.paths.root)
        return load_tables(self._url, self.where, (_scoped(table, key) for table in tables))

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


def _scoped(table: TableRows, key: str) -> TableRows:
    """SQLite's jobs hold one workspace's jobs and have no ``workspace`` column; in a
    shared database each copied job must belong to this workspace, or no worker or
    ``tau jobs`` of it would ever see it."""
    if table.name != "jobs" or "workspace" in table.columns:
        return table
    rows = ((*row, key) for row in table.rows)
    return TableRows(table.name, (*table.columns, "workspace"), rows)
