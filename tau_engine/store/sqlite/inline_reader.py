"""Small reads on the caller's own thread, on a connection that never waits.

The store hands its SQLite work to worker threads so that a UI's event loop
never blocks on disk. But waking a worker costs more than a small read: about
0.1 ms on an idle machine and 5 to 15 ms on a loaded one (measured by
``bench/bench_store.py``), while reading the last 200 messages of a session
takes about 1 ms. Reads that are small and bounded (a session's row, the last
few hundred messages) therefore run inline, on a second connection kept for
them, and only when that cannot wait:

- WAL readers never wait for writers, and this connection's busy timeout is
  zero, so SQLite answers at once or says busy;
- the connection is taken without blocking: if another thread is using it, or
  SQLite says busy, ``read`` returns ``UNAVAILABLE`` and the caller takes the
  worker-thread path instead.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Literal, TypeVar

from tau_engine.store.sqlite.errors import store_error

T = TypeVar("T")


class _Unavailable(Enum):
    UNAVAILABLE = "unavailable"


UNAVAILABLE: Literal[_Unavailable.UNAVAILABLE] = _Unavailable.UNAVAILABLE
"""``InlineReader.read`` could not read without waiting: use the worker thread."""


class InlineReader:
    """A lazily opened read connection for bounded reads on the calling thread."""

    def __init__(self, path: Path, connect: Callable[[], sqlite3.Connection]) -> None:
        self.path = path
        self._connect = connect
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._closed = False

    def read(self, query: Callable[..., T], *args: object) -> T | _Unavailable:
        """``query(conn, *args)`` in one read transaction, or ``UNAVAILABLE``."""
        if not self._lock.acquire(blocking=False):
            return UNAVAILABLE
        try:
            if self._closed:
                return UNAVAILABLE
            if self._conn is None:
                self._conn = self._connect()
                self._conn.execute("PRAGMA busy_timeout = 0")
            conn = self._conn
            conn.execute("BEGIN")
            try:
                return query(conn, *args)
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                return UNAVAILABLE
            raise store_error(self.path, exc) from exc
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None
