"""``migrate_store``: copy a workspace's SQLite store into PostgreSQL (``tau store
migrate --to postgresql://…``).

Sessions with their messages, events, file checkpoints and redo stacks, missions,
memory and jobs are read from ``.tau/tau.db`` in one snapshot and written to the
database in one transaction, with their ids, so everything that named them (a job's
session, a mission's id in the shell) still does. The workspace's store is held
exclusively meanwhile (no tau process may be writing it), and a database that already
holds this workspace's records is refused with nothing written. The checkpoints' file
copies stay in ``.tau/checkpoints/``, where undo reads them on either backend.

Like the factory, this module names both backends: it is the one other place that may
(an import-linter contract).
"""

from __future__ import annotations

from dataclasses import dataclass

from tau_engine.errors import UsageError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.factory import backend_name, open_store
from tau_engine.store.session_lock import StoreLock


@dataclass(frozen=True)
class MigrationReport:
    """What was copied where (``target`` names the database without its URL)."""

    target: str
    counts: dict[str, int]

    def summary(self) -> str:
        """One line: what was copied, and where."""
        c = self.counts.get
        return (
            f"copied {c('sessions', 0)} session(s) ({c('messages', 0)} messages, "
            f"{c('events', 0)} events), {c('missions', 0)} mission(s), "
            f"{c('memory_entries', 0)} memory entries and {c('jobs', 0)} job(s) "
            f"to {self.target}"
        )

    def to_json(self) -> dict[str, object]:
        return {"target": self.target, "copied": dict(self.counts)}


def migrate_store(paths: WorkspacePaths, url: str) -> MigrationReport:
    """Copy ``paths``' SQLite store into the PostgreSQL database ``url`` names. Blocking.

    ``UsageError`` for a URL that is not PostgreSQL's, a workspace with no store, or a
    database holding this workspace's records already; ``StoreError`` for a database
    that cannot be reached (one line each, never the URL).
    """
    if backend_name(url) != "postgresql":
        raise UsageError("--to must name a PostgreSQL database (postgresql://…)")
    if not paths.db_path.is_file():
        raise UsageError(f"no tau store in {paths.root} (.tau/tau.db): nothing to migrate")
    from tau_engine.store.postgres.backend import PostgresBackend
    from tau_engine.store.sqlite.dump import dump_tables

    target = open_store(paths, url)
    assert isinstance(target, PostgresBackend)
    # Bring the file to this tau's schema, so its tables are the ones copied.
    open_store(paths).open_sessions().close()
    store_lock = StoreLock.exclusive(paths.locks_dir)
    try:
        with dump_tables(paths.db_path) as tables:
            counts = target.load_tables(tables)
    finally:
        store_lock.release()
    return MigrationReport(target=target.where, counts=counts)
