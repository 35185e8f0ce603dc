"""``EventWriter``: the event log's buffered appender on SQLite (``BufferedEventWriter``
holds the batching). A batch of 100 delta rows commits in well under 2 ms in WAL mode
with ``synchronous=NORMAL`` (see ``bench/bench_store.py``), less than handing it to a
thread would cost, so the flush is synchronous. Each writer has its own connection, and
WAL lets a UI reading history proceed beside a flush.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from tau_engine.store.sql.event_buffer import (
    DELTA_TYPES,
    INSERT_EVENTS,
    BufferedEventWriter,
    EventRow,
    rejected,
)
from tau_engine.store.sqlite.errors import refuse_if_damaged, translate_errors
from tau_engine.store.sqlite.schema import connect

__all__ = ["DELTA_TYPES", "EventWriter"]


class EventWriter(BufferedEventWriter):
    """A buffered appender of one session's events to ``db_path``."""

    def __init__(
        self, db_path: Path, session_id: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(session_id, clock=clock)
        self.db_path = db_path
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.db_path)
        return self._conn

    def _insert(self, rows: list[EventRow]) -> None:
        conn = self._connection()
        with translate_errors(self.db_path):
            refuse_if_damaged(self.db_path)
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(INSERT_EVENTS, rows)
            except sqlite3.IntegrityError as exc:
                conn.execute("ROLLBACK")
                raise rejected(rows, self.session_id, exc) from exc
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _max_seq(self) -> int:
        conn = self._connection()
        with translate_errors(self.db_path):
            row = conn.execute(
                "SELECT max(seq) FROM events WHERE session_id = ?", (self.session_id,)
            ).fetchone()
        return int(row[0] or 0)

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
