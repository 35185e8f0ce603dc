"""Reading a whole SQLite store, table by table, for ``tau store migrate``.

Everything is read in one read transaction, so the copy is one consistent snapshot of
the store; rows come in insertion order (``rowid``, or the key of a table without
one), which keeps every message after its parent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tau_engine.store.sqlite.errors import translate_errors
from tau_engine.store.sqlite.schema import connect
from tau_engine.store.table_rows import COPIED_TABLES, TableRows

_ORDER = {
    "events": "session_id, seq",
    "job_attempts": "job_id, attempt",
    "job_events": "job_id, seq",
}
"""Tables without a rowid: their key orders them."""


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@contextmanager
def dump_tables(db_path: Path) -> Iterator[Iterator[TableRows]]:
    """The store's tables (``COPIED_TABLES``), read lazily inside one transaction that
    lasts as long as the block."""
    conn = connect(db_path)
    try:
        with translate_errors(db_path):
            conn.execute("BEGIN")

            def tables() -> Iterator[TableRows]:
                for name in COPIED_TABLES:
                    with translate_errors(db_path):
                        columns = tuple(
                            row[1] for row in conn.execute(f"PRAGMA table_info({name})")
                        )
                        # The names come from the file (workspace content): quoted.
                        quoted = ", ".join(_quoted(column) for column in columns)
                        cursor = conn.execute(
                            f"SELECT {quoted} FROM {name} ORDER BY {_ORDER.get(name, 'rowid')}"
                        )
                    yield TableRows(name, columns, iter(cursor))

            yield tables()
    finally:
        conn.close()
