"""``PostgresMissionStore``: missions in a PostgreSQL database (the logic, with its
compare-and-swap on ``revision``, is ``SqlMissionStore``'s, shared with SQLite), so a
mission started on one machine is listed and resumed from any other."""

from __future__ import annotations

from tau_engine.store.postgres.database import PgDatabase
from tau_engine.store.postgres.dialect import POSTGRES
from tau_engine.store.sql.missions import SqlMissionStore


class PostgresMissionStore(SqlMissionStore):
    """Missions in PostgreSQL. Open with ``PostgresMissionStore.open``."""

    @classmethod
    def open(cls, url: str, where: str) -> PostgresMissionStore:
        """Connect and migrate (blocking). ``where`` names the database in messages."""
        return cls(PgDatabase.open(url, where, "mission store"), POSTGRES)
