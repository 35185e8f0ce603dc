"""Writing a whole store copied from another backend into PostgreSQL (``tau store
migrate``), in one transaction: all of it, or nothing.

A database that already holds any of the copied sessions, missions or jobs (the same
workspace migrated before), or memory of its own (whose ids the copy's would clash
with), is refused before anything is written. Values are adapted to PostgreSQL's
column types (SQLite's 0/1 to booleans); ids the copy sets explicitly move their
sequences on, so the next entry gets a fresh id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from tau_engine.errors import UsageError
from tau_engine.store.postgres.connection import Connection, connect, translate_errors
from tau_engine.store.postgres.database import storable
from tau_engine.store.postgres.schema import migrate
from tau_engine.store.table_rows import TableRows

BATCH_ROWS = 1000
LOAD_LOCK = 0x7461755F6C6F6164  # "tau_load": one copy into a database at a time
_KEYED = ("sessions", "missions", "jobs")
_SEQUENCES = {"memory_entries": "id", "checkpoints": "seq"}


def _target_columns(conn: Connection, table: str) -> dict[str, str]:
    """The table's writable columns and their types (generated columns left out)."""
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s AND is_generated = 'NEVER'",
        (table,),
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def _adapted(rows: Iterator[tuple[Any, ...]], booleans: list[int]) -> Iterator[tuple[Any, ...]]:
    for row in map(storable, rows):
        if booleans:
            values = list(row)
            for i in booleans:
                if values[i] is not None:
                    values[i] = bool(values[i])
            row = tuple(values)
        yield row


def _refuse_held_ids(conn: Connection, table: str, ids: list[Any]) -> None:
    row = conn.execute(f"SELECT count(*) FROM {table} WHERE id = ANY(%s)", (ids,)).fetchone()
    found = int(row[0]) if row else 0
    if found:
        raise UsageError(
            f"the target already holds {found} of this workspace's {table}: it was "
            "migrated there before; nothing was copied"
        )


def _refuse_foreign_memory(conn: Connection) -> None:
    if conn.execute("SELECT 1 FROM memory_entries LIMIT 1").fetchone():
        raise UsageError(
            "the target already holds memory entries (another workspace's); their ids "
            "would clash with this workspace's, so nothing was copied"
        )


def load_tables(url: str, where: str, tables: Iterable[TableRows]) -> dict[str, int]:
    """Copy ``tables`` into the database (migrating it first); rows copied per table."""
    conn = connect(url, where)
    counts: dict[str, int] = {}
    try:
        with translate_errors(where):
            migrate(conn, where)
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOAD_LOCK,))
                for table in tables:
                    counts[table.name] = _load(conn, table)
                for name, column in _SEQUENCES.items():
                    conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{name}', '{column}'), "
                        f"coalesce((SELECT max({column}) FROM {name}), 0) + 1, false)"
                    )
    finally:
        conn.close()
    return counts


def _load(conn: Connection, table: TableRows) -> int:
    target = _target_columns(conn, table.name)
    keep = [i for i, column in enumerate(table.columns) if column in target]
    columns = [table.columns[i] for i in keep]
    booleans = [n for n, column in enumerate(columns) if target[column] == "boolean"]
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    rows = _adapted((tuple(row[i] for i in keep) for row in table.rows), booleans)
    count = 0
    while batch := list(islice(rows, BATCH_ROWS)):
        if table.name in _KEYED:
            at = columns.index("id")
            _refuse_held_ids(conn, table.name, [row[at] for row in batch])
        if table.name == "memory_entries" and count == 0:
            _refuse_foreign_memory(conn)
        with conn.cursor() as cursor:
            cursor.executemany(sql, batch)
        count += len(batch)
    return count
