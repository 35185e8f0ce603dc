"""``tau watch`` on a PostgreSQL store (split from ``pg_snapshot``, which ``tau status``
loads: only a watch follows changes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from tau_engine.errors import StoreError
from tau_engine.status.model import StatusSnapshot
from tau_engine.status.objects import collect_objects
from tau_engine.status.pg_snapshot import QmarkReader, read_pg_snapshot
from tau_engine.store.postgres.connection import connect, describe, first_line
from tau_engine.store.workspace_key import workspace_key


class PgStoreWatcher:
    """``tau watch`` on a PostgreSQL store: whether anything changed since the last look,
    and the watchable objects of this workspace (``objects.collect_objects``).

    The database has no ``PRAGMA data_version``: until its change feed is here, every tick
    counts as a change and the watcher re-reads (``diff_objects`` and the tables' own
    diffing keep the output to what really changed)."""

    def __init__(self, root: Path, url: str) -> None:
        self.root, self.url, self.where = root, url, describe(url)
        self.key = workspace_key(root)

    def changed(self) -> bool:
        return True

    def snapshot(self, limit: int) -> StatusSnapshot:
        """The workspace's snapshot from the database."""
        return read_pg_snapshot(self.root, self.url, limit=limit)

    def objects(self, now: float) -> dict[tuple[str, str], dict[str, Any]]:
        """Every session, job (this workspace's) and mission, in one read-only
        transaction; ``StoreError`` (one line) when the database cannot be read."""
        conn = connect(self.url, self.where)
        try:
            reader = QmarkReader(conn)
            reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                table = reader.execute("SELECT to_regclass('tau_schema')").fetchone()
                if table is None or table[0] is None:
                    return {}  # an empty database: nothing written yet
                return collect_objects(reader, now, scope="workspace = ?", scope_params=(self.key,))
            finally:
                reader.execute("COMMIT")
        except psycopg.Error as exc:
            raise StoreError(f"cannot read {self.where}: {first_line(exc)}") from None
        finally:
            conn.close()

    def close(self) -> None:
        """Nothing held between reads (each read has its own short connection)."""
