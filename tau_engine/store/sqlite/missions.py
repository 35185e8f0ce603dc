"""``SqliteMissionStore``: missions in the workspace's ``.tau/tau.db`` (the logic is
``SqlMissionStore``'s, shared with PostgreSQL)."""

from __future__ import annotations

from tau_engine.paths import WorkspacePaths
from tau_engine.store.sql.missions import SqlMissionStore
from tau_engine.store.sqlite.database import Database
from tau_engine.store.sqlite.dialect import SQLITE
from tau_engine.store.sqlite.schema import connect, migrate


class SqliteMissionStore(SqlMissionStore):
    """Missions in SQLite. Open with ``SqliteMissionStore.open``."""

    @classmethod
    def open(cls, paths: WorkspacePaths) -> SqliteMissionStore:
        """Open (creating or migrating) the workspace's database. Blocking."""
        paths.ensure()
        conn = connect(paths.db_path)
        try:
            migrate(conn, paths.db_path)
        except BaseException:
            conn.close()
            raise
        return cls(Database(conn, paths.db_path), SQLITE)
