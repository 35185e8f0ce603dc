"""What changed in a PostgreSQL store, pushed by the server: ``LISTEN tau_changes``.

Migration v6 (``change_triggers.py``) makes every statement that writes sessions, jobs,
job attempts, missions or memory send ``pg_notify('tau_changes', <table name>)``.
PostgreSQL delivers notifications only when their transaction commits (a rolled-back
transaction sends nothing) and folds identical ones of one transaction into one, so a
transaction that writes a thousand jobs wakes a listener once, with ``{"jobs"}``. This
feed relies on both: it only collects table names, and the caller re-reads those.

A feed holds its own autocommit connection that does nothing but listen. When that
connection is lost, notifications may have been missed: the next call says so with
``None`` (re-read everything) and the feed connects and listens again. One thread at a
time uses a feed.
"""

from __future__ import annotations

import time
from types import TracebackType

import psycopg

from tau_engine.errors import StoreError
from tau_engine.store.postgres.connection import Connection, connect, first_line

CHANNEL = "tau_changes"


class PgChangeFeed:
    """The names of the tables changed since the last call, from ``LISTEN tau_changes``."""

    def __init__(self, url: str, where: str, conn: Connection) -> None:
        self._url = url
        self._where = where
        self._conn: Connection | None = conn
        self._closed = False

    @classmethod
    def open(cls, url: str, where: str) -> PgChangeFeed:
        """Connect and listen (blocking); a one-line ``StoreError`` naming ``where``
        (never the URL, which may carry a password) when the server cannot be reached."""
        return cls(url, where, _listen(url, where))

    def changes(self) -> set[str] | None:
        """The tables notified since the last call, without waiting (empty: nothing
        changed); ``None`` when the connection was lost, so anything may have changed."""
        return self._collect(0.0)

    def wait(self, timeout_s: float) -> set[str] | None:
        """As ``changes()``, but waits up to ``timeout_s`` seconds for the first
        notification (returning as soon as one arrives)."""
        return self._collect(max(0.0, timeout_s))

    def close(self) -> None:
        """Stop listening and close the connection (a second close does nothing)."""
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> PgChangeFeed:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _collect(self, timeout_s: float) -> set[str] | None:
        if self._closed:
            raise StoreError(f"the change feed of {self._where} is closed")
        conn = self._conn
        if conn is None:
            self._relisten(timeout_s)
            return None
        tables: set[str] = set()
        try:
            # Wait for the first notification, then take whatever else has arrived.
            for notify in conn.notifies(timeout=timeout_s, stop_after=1):
                _add(tables, notify)
            if tables:
                for notify in conn.notifies(timeout=0):
                    _add(tables, notify)
        except psycopg.Error:
            self._conn = None
            conn.close()
            self._relisten(0.0)
            return None
        return tables

    def _relisten(self, timeout_s: float) -> None:
        """Connect and listen again; while the server cannot be reached, wait out
        ``timeout_s`` (a caller looping on ``wait`` retries once per timeout, never in a
        busy loop). Either way the caller says ``None``: changes may have been missed."""
        try:
            self._conn = _listen(self._url, self._where)
        except StoreError:
            time.sleep(timeout_s)


def _listen(url: str, where: str) -> Connection:
    conn = connect(url, where)
    try:
        conn.execute(f"LISTEN {CHANNEL}")
    except psycopg.Error as exc:
        conn.close()
        raise StoreError(f"cannot listen for changes in {where}: {first_line(exc)}") from None
    return conn


def _add(tables: set[str], notify: psycopg.Notify) -> None:
    if notify.channel == CHANNEL and notify.payload:
        tables.add(notify.payload)
