"""Session locks on PostgreSQL: a session advisory lock held by a connection of its own.

A session may be continued from any machine that reaches the database, so its lock must
live there too, not in a workspace's ``.tau/locks``. ``pg_try_advisory_lock`` on a
key derived from the session id is held by the connection that took it and dropped by
the server when that connection ends, however it ends (a killed process, a lost
machine: the server notices the closed socket), so, like SQLite's ``flock``, a dead
holder never blocks anyone and there is nothing stale to clean up. The holder's
connection names its pid and host (``application_name``) for the refusal message.
"""

from __future__ import annotations

import os
import re
import socket
from types import TracebackType

import psycopg

from tau_engine.errors import SessionLockedError, StoreError
from tau_engine.store.postgres.connection import Connection, connect, translate_errors

LOCK_SPACE = "tau.session"
"""Mixed into each key, so session locks never meet the store's other advisory locks."""

_KEY = "hashtextextended(%s, 0)"
_HOLDER = re.compile(r"tau session lock pid=(\d+)")
_HOLDER_SQL = f"""
SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND ((l.classid::bigint << 32) | l.objid::bigint) = {_KEY}
LIMIT 1
"""


class PostgresSessionLock:
    """One session's lock, held by this process (its own connection) until ``release``."""

    def __init__(self, session_id: str, conn: Connection) -> None:
        self.session_id = session_id
        self._conn: Connection | None = conn

    @classmethod
    def acquire(cls, url: str, where: str, session_id: str) -> PostgresSessionLock:
        """Take the lock now, or raise ``SessionLockedError`` naming the holder's pid."""
        conn = connect(url, where)
        key = f"{LOCK_SPACE}:{session_id}"
        try:
            with translate_errors(where):
                name = f"tau session lock pid={os.getpid()} host={socket.gethostname()}"
                conn.execute("SELECT set_config('application_name', %s, false)", (name[:63],))
                row = conn.execute(f"SELECT pg_try_advisory_lock({_KEY})", (key,)).fetchone()
                if row is not None and row[0]:
                    return cls(session_id, conn)
                holder = conn.execute(_HOLDER_SQL, (key,)).fetchone()
        except BaseException:
            conn.close()
            raise
        conn.close()
        found = _HOLDER.match(holder[0]) if holder and holder[0] else None
        raise SessionLockedError(session_id, int(found.group(1)) if found else None)

    @property
    def held(self) -> bool:
        conn = self._conn
        return conn is not None and not conn.closed and not conn.broken

    def release(self) -> None:
        """Let another process take the session. Safe to call twice."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()  # ending the connection drops its advisory locks
            except psycopg.Error as exc:
                raise StoreError(
                    f"cannot release the lock of session {self.session_id[:8]}: {exc}"
                ) from exc

    def release_and_remove(self) -> None:
        """Release (an advisory lock leaves nothing behind to remove)."""
        self.release()

    def __enter__(self) -> PostgresSessionLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
