"""Session locks on PostgreSQL: a session advisory lock held by a connection of its own.

A session may be continued from any machine that reaches the database, so its lock must
live there too, not in a workspace's ``.tau/locks``. ``pg_try_advisory_lock`` on a
key derived from the session id is held by the connection that took it and dropped by
the server when that connection ends, however it ends (a killed process, a lost
machine: the server notices the closed socket), so, like SQLite's ``flock``, a dead
holder never blocks anyone and there is nothing stale to clean up. The holder's
connection names its pid and host (``application_name``) for the refusal message.

The other side of that: the server also frees the lock when the holder's connection dies
while the holder lives on (a server restart, ``pg_terminate_backend``, a network cut), and
another process may then take the session. So every write of a session's rows checks, in
its own transaction, that the lock is still held by the very backend that took it
(``check_held``): its pid *and* start time, since a pid is reused by a later backend.
The check first takes a ``FOR KEY SHARE`` lock on the session's row, and ``acquire`` ends
by waiting on that row (``FOR UPDATE``): a new holder thus never starts while a write of
the old one that passed its check is still uncommitted, and every later write of the old
holder fails its check. It is one statement per write transaction, not per event: the
event log writes in batches.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import datetime
from types import TracebackType
from typing import Any

import psycopg

from tau_engine.errors import SessionLockedError, SessionLockLostError, StoreError
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
_IDENTITY_SQL = f"SELECT {_KEY}, pid, backend_start FROM pg_stat_get_activity(pg_backend_pid())"
# The row lock comes first (a subquery with a row lock is never flattened, and the
# check, correlated with its row, is evaluated on what it returns); the LEFT JOIN keeps
# one row when the session's row does not exist yet (a lock taken before its session).
# ``pg_stat_get_activity(pid)`` reads one backend's entry, not all of pg_stat_activity;
# a backend serves one database, so its pid also says which database the lock is in.
# (``backend_start`` is NULL only where the server hides it; the pid alone then.)
# ``{mode}``: KEY SHARE, the least a write needs; UPDATE for a write that takes the row
# FOR UPDATE next anyway (``lock_session_row``): a weaker lock taken first and then
# strengthened costs a second row-lock write (measured in bench/bench_session_lock.py).
_CHECK_HELD = """
SELECT EXISTS (
    SELECT 1 FROM pg_locks l, pg_stat_get_activity(%(pid)s) a
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND ((l.classid::bigint << 32) | l.objid::bigint) = %(key)s
      AND l.pid = %(pid)s AND a.pid = %(pid)s
      AND a.backend_start IS NOT DISTINCT FROM %(start)s
      AND coalesce(row_lock.held, true)
)
FROM (SELECT true) AS anchor
LEFT JOIN (SELECT true AS held FROM sessions WHERE id = %(id)s FOR {mode}) AS row_lock
    ON true
"""
CHECK_HELD_SQL = {mode: _CHECK_HELD.format(mode=mode) for mode in ("KEY SHARE", "UPDATE")}
_WAIT_FOR_WRITERS_SQL = "SELECT 1 FROM sessions WHERE id = %s FOR UPDATE"


class PostgresSessionLock:
    """One session's lock, held by this process (its own connection) until ``release``."""

    def __init__(
        self, session_id: str, conn: Connection, key: int, pid: int, started: datetime
    ) -> None:
        self.session_id = session_id
        self._conn: Connection | None = conn
        # Which backend holds the lock: a pid alone could be a later backend's.
        self._holder: dict[str, Any] = {"key": key, "pid": pid, "start": started}

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
                    identity = conn.execute(_IDENTITY_SQL, (key,)).fetchone()
                    if identity is None:
                        raise StoreError(f"{where}: cannot read this connection's backend")
                    # A previous holder's write that passed its check commits first.
                    with conn.transaction():
                        conn.execute(_WAIT_FOR_WRITERS_SQL, (session_id,))
                    return cls(session_id, conn, *identity)
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

    @property
    def released(self) -> bool:
        """``release`` was called (a lost lock is not released: it was taken away)."""
        return self._conn is None

    def check_held(self, conn: Connection, *, for_update: bool = False) -> None:
        """Inside a write transaction on ``conn`` (another connection to the same
        database): raise ``SessionLockLostError`` unless this lock's backend still holds
        it, and hold the session's row so no new holder starts until that write ends
        (``for_update``: in the mode the write takes it in next)."""
        sql = CHECK_HELD_SQL["UPDATE" if for_update else "KEY SHARE"]
        row = conn.execute(sql, {**self._holder, "id": self.session_id}).fetchone()
        if row is None or not row[0]:
            raise SessionLockLostError(self.session_id)

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
