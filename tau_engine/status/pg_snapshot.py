"""The operator snapshot of a workspace whose store is a shared PostgreSQL database.

The same typed snapshot as ``snapshot.read_snapshot`` (SQLite), read the same way: one
``REPEATABLE READ, READ ONLY`` transaction, so every count agrees with the others while
workers on other machines keep writing, and no lock taken (a read-only transaction takes
none a writer waits on). What differs is where the facts come from:

* jobs are this workspace's only (``store/workspace_key.py``): the database is shared by
  several repositories, as every ``tau jobs`` command scopes them;
* a session runs when a connection holds its session advisory lock
  (``store/postgres/session_lock.py``'s key), read from ``pg_locks``: its holder may be on
  another machine, so ``.tau/locks`` says nothing about it;
* a job's liveness comes from its lease and heartbeats; ``/proc`` is asked only about an
  owner on this machine (``jobs.liveness.owner_alive`` checks the host first).

An empty database (no ``tau_schema`` yet) is a fresh store (health ok, all zero); a
server that cannot be reached, or a schema another tau wrote, is health ``error`` with
one line naming the database by ``describe`` (never the URL: it may hold a password).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg

from tau_engine.errors import StoreError
from tau_engine.status.job_view import read_jobs
from tau_engine.status.model import StatusSnapshot
from tau_engine.status.snapshot import StoreRead, assemble_snapshot, workspace_paths
from tau_engine.status.tables import read_memory, read_missions, read_sessions
from tau_engine.store.postgres.connection import Connection, connect, describe, first_line
from tau_engine.store.postgres.database import to_format
from tau_engine.store.postgres.schema import SCHEMA_VERSION
from tau_engine.store.postgres.session_lock import LOCK_SPACE
from tau_engine.store.workspace_key import workspace_key

# The sessions whose advisory lock a connection to this database holds: the key is
# session_lock's (``hashtextextended('tau.session:' || id, 0)``, split by pg_locks into
# classid and objid).
RUNNING_SESSIONS_SQL = """
SELECT s.id FROM sessions s JOIN pg_locks l
  ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
 AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(? || s.id, 0)
"""


class QmarkReader:
    """A psycopg connection that runs the shared ``?``-placeholder SQL of ``tables``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Any = ()) -> psycopg.Cursor[Any]:
        return self._conn.execute(to_format(sql), tuple(parameters))


def read_pg_snapshot(
    root: str | Path,
    url: str,
    *,
    limit: int = 5,
    job_limit: int | None = None,
    now: float | None = None,
) -> StatusSnapshot:
    """The snapshot of the workspace at ``root`` whose store is the database at ``url``."""
    now = time.time() if now is None else now
    where = describe(url)
    paths = workspace_paths(root, database=where)
    read = StoreRead("postgresql", SCHEMA_VERSION)
    key = workspace_key(Path(root))  # runs git: before the transaction, not inside it
    try:
        conn = connect(url, where)
    except StoreError as exc:
        read.fail(str(exc))
        return assemble_snapshot(root, paths, now, limit, read)
    try:
        _read_store(QmarkReader(conn), read, key, now, limit, job_limit)
    except psycopg.Error as exc:
        read.fail(f"cannot read {where}: {first_line(exc)}")
    finally:
        conn.close()
    return assemble_snapshot(root, paths, now, limit, read)


def _read_store(
    conn: QmarkReader, read: StoreRead, key: str, now: float, limit: int, job_limit: int | None
) -> None:
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        table = conn.execute("SELECT to_regclass('tau_schema')").fetchone()
        if table is None or table[0] is None:
            return  # an empty database: nothing written yet (status stays "absent")
        row = conn.execute("SELECT version FROM tau_schema").fetchone()
        read.version = None if row is None else int(row[0])
        if read.version != SCHEMA_VERSION:
            found = "no" if read.version is None else str(read.version)
            read.fail(f"schema version {found}, this tau reads {SCHEMA_VERSION}")
            return
        running = {str(r[0]) for r in conn.execute(RUNNING_SESSIONS_SQL, (f"{LOCK_SPACE}:",))}
        read.sessions = read_sessions(conn, limit, running.__contains__, len(running))
        read.jobs = read_jobs(
            conn,
            now,
            limit if job_limit is None else job_limit,
            scope="workspace = ?",
            scope_params=(key,),
        )
        read.missions = read_missions(conn, limit, read.notes)
        read.memory = read_memory(conn)
        read.status = "ok"
    finally:
        conn.execute("COMMIT")
