"""``PostgresEventWriter``: the event log's buffered appender on PostgreSQL
(``BufferedEventWriter`` holds the batching). Each writer has its own connection, opened
at its first flush, so a reader of the store never waits behind it."""

from __future__ import annotations

import time
from collections.abc import Callable

from psycopg import errors as pg_errors

from tau_engine.store.postgres.connection import Connection, connect, translate_errors
from tau_engine.store.postgres.database import to_format
from tau_engine.store.sql.event_buffer import (
    INSERT_EVENTS,
    BufferedEventWriter,
    EventRow,
    rejected,
)

_INSERT = to_format(INSERT_EVENTS)


class PostgresEventWriter(BufferedEventWriter):
    """A buffered appender of one session's events to a PostgreSQL store."""

    def __init__(
        self,
        url: str,
        where: str,
        session_id: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        check: Callable[[Connection, str], None] = lambda _conn, _session_id: None,
    ) -> None:
        super().__init__(session_id, clock=clock)
        self._check = check  # the store's lost-lock check, in each batch's transaction
        self._url = url
        self.where = where
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self._url, self.where)
        return self._conn

    def _insert(self, rows: list[EventRow]) -> None:
        conn = self._connection()
        with translate_errors(self.where):
            try:
                with conn.transaction(), conn.cursor() as cursor:
                    self._check(conn, self.session_id)
                    cursor.executemany(_INSERT, rows)
            except pg_errors.UniqueViolation as exc:
                raise rejected(rows, self.session_id, exc) from exc

    def _max_seq(self) -> int:
        conn = self._connection()
        with translate_errors(self.where):
            row = conn.execute(
                "SELECT max(seq) FROM events WHERE session_id = %s", (self.session_id,)
            ).fetchone()
        return int(row[0] or 0) if row else 0

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
