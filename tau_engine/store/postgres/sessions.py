"""``PostgresSessionStore``: the ``SessionStore`` (``store/api.py``) in a PostgreSQL
database, shared by tau processes on any number of machines.

The session logic is ``SqlSessionStore``'s, the same as SQLite's; what is PostgreSQL's
own is how a session is locked (an advisory lock held by a connection of its own,
``session_lock.py``) and the event writer's connection. File checkpoints keep their bytes
beside the workspace (``.tau/checkpoints/``), as on SQLite: undo puts files back in the
workspace it runs in, and the database records which turn saved which copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tau_engine.paths import WorkspacePaths
from tau_engine.store.postgres.database import PgDatabase
from tau_engine.store.postgres.dialect import POSTGRES
from tau_engine.store.postgres.event_writer import PostgresEventWriter
from tau_engine.store.postgres.session_lock import PostgresSessionLock
from tau_engine.store.sql.sessions import SqlSessionStore


class PostgresSessionStore(SqlSessionStore):
    """Sessions in PostgreSQL. Open with ``PostgresSessionStore.open``."""

    def __init__(
        self,
        paths: WorkspacePaths,
        db: PgDatabase,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(paths, db, POSTGRES, where=db.where, clock=clock)
        self._url = url

    @classmethod
    def open(
        cls, paths: WorkspacePaths, url: str, where: str, *, clock: Callable[[], float] = time.time
    ) -> PostgresSessionStore:
        """Connect and migrate (blocking). ``where`` names the database in messages."""
        return cls(paths, PgDatabase.open(url, where, "session store"), url, clock=clock)

    def _closed_hook(self) -> None:
        """Nothing beyond the connection: each session lock has its own."""

    def lock_session(self, session_id: str) -> PostgresSessionLock:
        """Take the session's write lock: an advisory lock on its own connection."""
        return PostgresSessionLock.acquire(self._url, self.where, session_id)

    def _new_event_writer(self, session_id: str) -> PostgresEventWriter:
        return PostgresEventWriter(self._url, self.where, session_id)
