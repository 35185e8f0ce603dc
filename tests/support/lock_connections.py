"""Ending a tau process's session-lock connections on a PostgreSQL server, as a server
restart, ``pg_terminate_backend`` or a network cut would end them."""

from __future__ import annotations

import psycopg


def end_lock_connections(url: str, pid: int) -> int:
    """Terminate the lock connections of tau process ``pid`` (named by their
    ``application_name``, ``store/postgres/session_lock.py``) and wait until their
    backends are gone, their locks with them; how many there were."""
    with psycopg.connect(url, autocommit=True) as admin:
        # In the select list, not the WHERE: only the rows the filter kept are ended.
        rows = admin.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE %s",
            (f"tau session lock pid={pid} %",),
        ).fetchall()
        pids = [row[0] for row in rows if row[1]]
        # A terminated backend exits asynchronously: wait for it to be gone.
        while (
            pids
            and admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
            ).fetchone()
        ):
            admin.execute("SELECT pg_sleep(0.01)")
    return len(pids)
