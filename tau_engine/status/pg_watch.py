"""``tau watch`` on a PostgreSQL store: change notifications instead of polling.

Split from ``pg_snapshot`` (which ``tau status`` loads) because only a watch listens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from tau_engine.errors import StoreError
from tau_engine.status.model import StatusSnapshot
from tau_engine.status.objects import collect_objects, log_paths, log_times
from tau_engine.status.pg_snapshot import QmarkReader, read_pg_snapshot
from tau_engine.store.postgres.change_feed import PgChangeFeed
from tau_engine.store.postgres.connection import connect, describe, first_line
from tau_engine.store.workspace_key import workspace_key


class PgStoreWatcher:
    """``tau watch`` on a PostgreSQL store: whether anything changed since the last look,
    and the watchable objects of this workspace (``objects.collect_objects``).

    Changes come from the database's notifications (``store/postgres/change_feed.py``):
    a tick re-reads only when a committed write was announced, the feed's connection was
    lost (anything may have changed), or a log's mtime moved; a quiet store costs one
    non-blocking look at a socket per tick."""

    def __init__(self, root: Path, url: str) -> None:
        self.root, self.url, self.where = root, url, describe(url)
        self.key = workspace_key(root)
        self.logs = log_paths(root)
        self._seen_logs: list[int | None] | None = None
        self._feed: PgChangeFeed | None = None

    def changed(self) -> bool:
        """True on the first call, when the server announced a write to a table the
        snapshot reads, when notifications may have been missed, or when a log moved."""
        times = log_times(self.logs)
        moved, self._seen_logs = times != self._seen_logs, times
        if self._feed is None:
            # Listen before the first read, so no write between the two goes unseen.
            try:
                self._feed = PgChangeFeed.open(self.url, self.where)
            except StoreError:
                pass  # the server is down: the read says so, and the next tick retries
            return True
        tables = self._feed.changes()
        return tables is None or bool(tables) or moved

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
        """Stop listening (each read has its own short connection)."""
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.close()
