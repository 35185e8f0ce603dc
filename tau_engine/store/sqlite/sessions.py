"""``SqliteSessionStore``: the ``SessionStore`` (``store/api.py``) in SQLite.

Everything lives in the workspace's ``.tau/tau.db`` (SQLite, WAL) and, for file
checkpoints, ``.tau/checkpoints/``; the session logic itself is ``SqlSessionStore``'s,
shared with PostgreSQL. What is SQLite's own: the store lock that ``tau sessions
recover`` takes, the ``flock`` session locks in ``.tau/locks/``, read-only opening, and
small reads answered on the caller's thread (``InlineReader``).

Several processes may open the same database (the TUI, a headless run, live-watch);
writers queue on SQLite's busy timeout.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from tau_engine.conversation import StoredMessage
from tau_engine.errors import StoreError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.session_lock import SessionLock, StoreLock
from tau_engine.store.sql.queries import session_path
from tau_engine.store.sql.sessions import SqlSessionStore
from tau_engine.store.sqlite.database import Database
from tau_engine.store.sqlite.dialect import SQLITE
from tau_engine.store.sqlite.event_writer import EventWriter
from tau_engine.store.sqlite.inline_reader import UNAVAILABLE, InlineReader
from tau_engine.store.sqlite.schema import connect, connect_readonly, migrate

T = TypeVar("T")

INLINE_READ_LIMIT = 500
"""``recent`` reads up to this many messages inline (about 2.5 ms of parsing at most)."""


class SqliteSessionStore(SqlSessionStore):
    """Async access to one workspace's sessions. Open with ``SqliteSessionStore.open``."""

    def __init__(
        self,
        paths: WorkspacePaths,
        db: Database,
        *,
        clock: Callable[[], float] = time.time,
        store_lock: StoreLock | None = None,
        reader: Callable[[], sqlite3.Connection] | None = None,
    ) -> None:
        super().__init__(paths, db, SQLITE, where=str(db.path), clock=clock)
        self._store_lock = store_lock
        self._inline = InlineReader(db.path, reader or (lambda: connect(db.path)))

    @classmethod
    def open(
        cls, paths: WorkspacePaths, *, clock: Callable[[], float] = time.time
    ) -> SqliteSessionStore:
        """Open (creating or migrating) ``paths.db_path``. Blocking: call it at start-up."""
        paths.ensure()
        store_lock = StoreLock.shared(paths.locks_dir)
        try:
            conn = connect(paths.db_path)
            try:
                migrate(conn, paths.db_path)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            if store_lock is not None:
                store_lock.release()
            raise
        return cls(paths, Database(conn, paths.db_path), clock=clock, store_lock=store_lock)

    @classmethod
    def open_for_reading(
        cls, paths: WorkspacePaths, *, clock: Callable[[], float] = time.time
    ) -> SqliteSessionStore:
        """Open for commands that only read (``tau sessions list|show|export``).

        A store the user may write is opened as by ``open``; one they may not is
        opened read-only, so reading it still works (writes then fail with
        "no write permission on ...").
        """
        db_path = paths.db_path
        writable = all(os.access(p, os.W_OK) for p in (db_path, db_path.parent) if p.exists())
        if writable or not db_path.exists():
            return cls.open(paths, clock=clock)
        store_lock = StoreLock.shared(paths.locks_dir)
        try:
            conn = connect_readonly(db_path)
        except BaseException:
            if store_lock is not None:
                store_lock.release()
            raise
        return cls(
            paths,
            Database(conn, db_path),
            clock=clock,
            store_lock=store_lock,
            reader=lambda: connect_readonly(db_path),
        )

    def _closed_hook(self) -> None:
        self._inline.close()
        if self._store_lock is not None:
            self._store_lock.release()
            self._store_lock = None

    def lock_session(self, session_id: str) -> SessionLock:
        """Take the session's write lock: an exclusive ``flock`` in ``.tau/locks/``."""
        return SessionLock.acquire(self.paths.locks_dir, session_id)

    def _new_event_writer(self, session_id: str) -> EventWriter:
        return EventWriter(self.paths.db_path, session_id)

    async def recent(self, session_id: str, limit: int) -> list[StoredMessage]:
        """The last ``limit`` messages of the head path, oldest first (a short read is
        answered inline, see ``InlineReader``)."""
        if limit <= INLINE_READ_LIMIT:
            return await self._read_small(session_path, session_id, None, limit)
        return await self._run(self._read, session_path, session_id, None, limit)

    async def _read_small(self, query: Callable[..., T], *args: Any) -> T:
        """A small, bounded read: on this thread when that cannot wait (no thread hop),
        else on a worker thread (see ``InlineReader``)."""
        if self._db.closed:
            raise StoreError(f"the session store {self.paths.db_path} is closed")
        found = self._inline.read(query, *args)
        if found is UNAVAILABLE:
            return await self._run(self._read, query, *args)
        return found
