"""One SQLite connection shared by a store's worker threads, with its transactions.

The store's async methods run on ``asyncio.to_thread`` workers, so the same
connection is used from several threads; a lock serialises them. Once SQLite
has reported the database damaged, writes are refused before they reach it. Writes take
``BEGIN IMMEDIATE`` so that concurrent processes queue on the busy timeout
instead of failing on a read-to-write lock upgrade; multi-statement reads take
a deferred transaction so that they see one consistent snapshot.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tau_engine.errors import StoreError
from tau_engine.store.sqlite.errors import refuse_if_damaged, translate_errors


class Database:
    """A locked connection to ``tau.db``."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.RLock()

    @property
    def closed(self) -> bool:
        return self._conn is None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read snapshot."""
        with self._transaction("BEGIN") as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with self._transaction("BEGIN IMMEDIATE") as conn:
            yield conn

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError(f"the session store {self.path} is closed")
            if begin != "BEGIN":
                refuse_if_damaged(self.path)  # found damaged: nothing more is written
            with translate_errors(self.path):
                conn.execute(begin)
                try:
                    yield conn
                except BaseException:
                    # SQLite may already have rolled back (disk full, I/O error).
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
