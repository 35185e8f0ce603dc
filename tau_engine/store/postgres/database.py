"""One PostgreSQL connection shared by a store's worker threads, with its transactions.

The stores' async methods run their SQL on ``asyncio.to_thread`` workers, so one
connection serves several threads; a lock serialises them, as SQLite's ``Database``
does. Reads run in a ``REPEATABLE READ READ ONLY`` transaction, so a read of several
statements (a path walk and its session row) sees one snapshot; writes in a
``READ COMMITTED`` one that locks the rows its decision rests on (``FOR UPDATE``).

``QmarkConnection`` lets the SQL that both backends share (``store/memory_writes.py``,
``store/checkpoint_sql.py``) be written once with SQLite's ``?`` and ``:name``
placeholders: it rewrites them to psycopg's before each call.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import Cursor

from tau_engine.errors import StoreError
from tau_engine.store.postgres.connection import Connection, connect, translate_errors
from tau_engine.store.postgres.schema import migrate, require_current

# A ``?`` or a ``:name`` outside quotes (``::type`` casts are left alone).
_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|(?<!:):([A-Za-z_][A-Za-z0-9_]*)|\?|%")


def to_format(sql: str) -> str:
    """``sql`` with ``?``/``:name`` placeholders as psycopg's ``%s``/``%(name)s``."""

    def swap(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith("'"):
            return text.replace("%", "%%")
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        return f"%({match.group(1)})s"

    return _PLACEHOLDER.sub(swap, sql)


def storable(parameters: Any) -> Any:
    """``parameters`` with every NUL in a string made U+FFFD: PostgreSQL's text cannot hold
    one, SQLite's can, and a stray NUL (a pasted binary, a tool's output) must not make a
    write fail. JSON columns never hold a raw NUL (JSON escapes it)."""
    if isinstance(parameters, dict):
        return {key: storable(value) for key, value in parameters.items()}
    if isinstance(parameters, (tuple, list)):
        return type(parameters)(storable(value) for value in parameters)
    if isinstance(parameters, str) and "\x00" in parameters:
        return parameters.replace("\x00", "\ufffd")
    return parameters


class QmarkConnection:
    """A psycopg connection that takes SQLite's placeholder style (see the module)."""

    def __init__(self, conn: Connection) -> None:
        self.raw = conn

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor[Any]:
        # Parameters are always passed (an empty tuple too): psycopg then reads ``%%``
        # as ``%``, which ``to_format`` wrote for every literal ``%``.
        return self.raw.execute(to_format(sql), storable(parameters))

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(to_format(sql), [storable(row) for row in parameters])


class PgDatabase:
    """A locked connection to a PostgreSQL store.

    A connection the server dropped (a restart, a network cut, an idle timeout) fails the
    transaction it was in, one line, and the next transaction opens a new one: a failed
    transaction is never retried, since its commit may have happened.
    """

    def __init__(
        self,
        conn: Connection,
        where: str,
        part: str,
        url: str | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        self.where = where
        self.read_only = read_only
        self._part = part
        self._url = url
        self._conn: Connection | None = conn
        self._lock = threading.RLock()

    @classmethod
    def open(cls, url: str, where: str, part: str, *, read_only: bool = False) -> PgDatabase:
        """Connect and migrate (blocking). ``part`` names the store in errors.

        ``read_only``: for commands that only read. The connection's transactions are all
        ``READ ONLY``, it never migrates (a database tau has not brought to this version
        is refused in one line) and ``write`` refuses before any SQL runs."""
        conn = connect(url, where, read_only=read_only)
        try:
            with translate_errors(where):
                if read_only:
                    require_current(conn, where)
                else:
                    migrate(conn, where)
        except BaseException:
            conn.close()
            raise
        return cls(conn, where, part, url, read_only=read_only)

    @property
    def closed(self) -> bool:
        return self._conn is None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @contextmanager
    def read(self) -> Iterator[QmarkConnection]:
        """A consistent read snapshot."""
        with self._transaction("REPEATABLE READ READ ONLY") as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[QmarkConnection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        if self.read_only:
            raise StoreError(f"the {self._part} in {self.where} was opened read-only")
        with self._transaction("READ COMMITTED") as conn:
            yield conn

    @contextmanager
    def _transaction(self, isolation: str) -> Iterator[QmarkConnection]:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError(f"the {self._part} in {self.where} is closed")
            if conn.broken and self._url is not None:
                conn.close()
                conn = self._conn = connect(self._url, self.where, read_only=self.read_only)
            with translate_errors(self.where), conn.transaction():
                conn.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}")
                yield QmarkConnection(conn)
