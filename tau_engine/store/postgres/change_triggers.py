"""Migration step v6: every committed change to a table an operator view shows is
announced on the ``tau_changes`` channel, its payload the table's name, so ``tau watch``
(through ``change_feed.PgChangeFeed``) and any script that runs ``LISTEN tau_changes``
re-read when something changed instead of polling.

The triggers are statement-level: one ``pg_notify`` per statement, however many rows it
touched, and PostgreSQL folds identical notifications of one transaction into one and
delivers them only on commit (nothing for a rolled-back transaction). A statement that
matched no row still notifies; a listener re-reads and finds nothing new.

Not on ``messages`` or ``events``: a streaming session writes those per event, and its
``sessions`` row already changes each turn (``updated_at``), so watching sessions carries
the news at a fraction of the traffic. Not on ``job_events`` either: every job event is
appended in the same transaction as the fenced update of its ``jobs`` row, which notifies.
"""

from __future__ import annotations

from tau_engine.store.postgres.connection import Connection

CHANGE_TABLES = ("sessions", "jobs", "job_attempts", "missions", "memory_entries")
"""The tables v6 puts the trigger on, fixed as of v6 (a later table gets its own step)."""

_FUNCTION = """CREATE FUNCTION tau_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tau_changes', TG_TABLE_NAME);
    RETURN NULL;
END $$"""


def v6_change_triggers(conn: Connection) -> None:
    """The notifying function and one ``AFTER INSERT OR UPDATE OR DELETE ... FOR EACH
    STATEMENT`` trigger per table of ``CHANGE_TABLES``."""
    conn.execute(_FUNCTION)
    for table in CHANGE_TABLES:
        conn.execute(
            f"CREATE TRIGGER {table}_notify_change AFTER INSERT OR UPDATE OR DELETE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION tau_notify_change()"
        )
