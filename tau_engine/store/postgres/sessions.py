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
from typing import Any

from tau_engine.errors import StoreError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.postgres.connection import Connection
from tau_engine.store.postgres.database import PgDatabase, QmarkConnection
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
        self._read_only = db.read_only
        # The locks this store took, by session: each write of a session checks its own.
        self._held: dict[str, PostgresSessionLock] = {}

    @classmethod
    def open(
        cls,
        paths: WorkspacePaths,
        url: str,
        where: str,
        *,
        clock: Callable[[], float] = time.time,
        read_only: bool = False,
    ) -> PostgresSessionStore:
        """Connect and migrate (blocking). ``where`` names the database in messages.
        ``read_only``: never migrate, never write (``PgDatabase.open``)."""
        db = PgDatabase.open(url, where, "session store", read_only=read_only)
        return cls(paths, db, url, clock=clock)

    def _closed_hook(self) -> None:
        """Nothing beyond the connection: each session lock has its own."""

    def lock_session(self, session_id: str) -> PostgresSessionLock:
        """Take the session's write lock: an advisory lock on its own connection."""
        self._refuse_if_read_only()
        lock = PostgresSessionLock.acquire(self._url, self.where, session_id)
        self._held = {sid: held for sid, held in self._held.items() if not held.released}
        self._held[session_id] = lock
        return lock

    def _check_writer(self, conn: Any, session_id: str, *, locks_row: bool = False) -> None:
        if isinstance(conn, QmarkConnection):
            conn = conn.raw
        self._check_lock(conn, session_id, for_update=locks_row)

    def _check_lock(self, conn: Connection, session_id: str, *, for_update: bool = False) -> None:
        lock = self._held.get(session_id)
        if lock is not None and not lock.released:
            lock.check_held(conn, for_update=for_update)

    def _new_event_writer(self, session_id: str) -> PostgresEventWriter:
        self._refuse_if_read_only()
        return PostgresEventWriter(self._url, self.where, session_id, check=self._check_lock)

    def _refuse_if_read_only(self) -> None:
        if self._read_only:
            raise StoreError(f"the session store in {self.where} was opened read-only")
