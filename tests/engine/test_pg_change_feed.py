"""The PostgreSQL change feed (issue 16's watch): migration v6's triggers announce each
committed write to an operator view's tables on ``tau_changes``, and ``PgChangeFeed``
hands the table names to its caller, once per transaction, never for a rollback, and
says ``None`` (then listens again) when its connection is lost."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tau_engine.errors import StoreError
from tau_engine.store.postgres.change_feed import CHANNEL, PgChangeFeed
from tau_engine.store.postgres.change_triggers import CHANGE_TABLES
from tau_engine.store.postgres.connection import Connection, connect
from tau_engine.store.postgres.schema import MIGRATIONS, SCHEMA_VERSION, migrate

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (tau[postgres])")

WHERE = "the test store"
WAIT_S = 10.0  # a bound for what must arrive, never reached when it works

WRITES = {
    "sessions": "INSERT INTO sessions (id, created_at, updated_at) VALUES (%(id)s, 1, 1)",
    "jobs": "INSERT INTO jobs (id, kind, inputs, state, reason, created_at, updated_at) "
    "VALUES (%(id)s, 'prompt', '{}', 'queued', 'submitted', 1, 1)",
    "job_attempts": "INSERT INTO job_attempts (job_id, attempt, fence, reason, owner, "
    "started_at) VALUES ('j0', %(n)s, 1, 'claimed', 'w', 1)",
    "missions": "INSERT INTO missions (id, created_at, updated_at, phase, state) "
    "VALUES (%(id)s, 1, 1, 'planning', '{}')",
    "memory_entries": "INSERT INTO memory_entries (namespace, text, source, trust, "
    "created_at, updated_at, content_hash) VALUES ('n', %(id)s, 'user', 'trusted', 1, 1, %(id)s)",
}


@pytest.fixture
def db(postgres_url: str) -> Iterator[Connection]:
    """A migrated store's autocommit connection, with the job the attempts belong to."""
    conn = connect(postgres_url, WHERE)
    migrate(conn, WHERE)
    write(conn, "jobs", "j0")
    yield conn
    conn.close()


def write(conn: Connection, table: str, key: str, n: int = 1) -> None:
    conn.execute(WRITES[table], {"id": key, "n": n})


def feed_pid(conn: Connection) -> int:
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND query = %s AND pid <> pg_backend_pid()",
        (f"LISTEN {CHANNEL}",),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_each_watched_table_wakes_a_waiting_feed(db: Connection, postgres_url: str) -> None:
    assert tuple(WRITES) == CHANGE_TABLES
    with PgChangeFeed.open(postgres_url, WHERE) as feed:
        for n, table in enumerate(CHANGE_TABLES, start=1):
            write(db, table, f"k{n}", n)
            started = time.monotonic()
            assert feed.wait(WAIT_S) == {table}
            assert time.monotonic() - started < WAIT_S  # woken, not timed out
        with db.transaction():  # two tables in one commit: one read sees both
            db.execute("UPDATE missions SET phase = 'done'")
            db.execute("DELETE FROM memory_entries")
        assert feed.wait(WAIT_S) == {"missions", "memory_entries"}


def test_a_transaction_of_many_writes_is_one_notification_per_table(
    db: Connection, postgres_url: str
) -> None:
    with PgChangeFeed.open(postgres_url, WHERE) as feed:
        with psycopg.connect(postgres_url) as other:  # one transaction, committed at exit
            for n in range(50):
                other.execute(WRITES["jobs"], {"id": f"many{n}", "n": n})
                other.execute(WRITES["sessions"], {"id": f"many{n}", "n": n})
            other.execute("UPDATE jobs SET priority = 1")
        assert feed.wait(WAIT_S) == {"jobs", "sessions"}
        # counted at the wire: PostgreSQL sent exactly one notification per table
        with psycopg.connect(postgres_url, autocommit=True) as listener:
            listener.execute(f"LISTEN {CHANNEL}")
            with db.transaction():
                for n in range(20):
                    write(db, "missions", f"m{n}")
            got = [n.payload for n in listener.notifies(timeout=1.0)]
        assert got == ["missions"]


def test_a_rolled_back_transaction_notifies_nothing(db: Connection, postgres_url: str) -> None:
    with PgChangeFeed.open(postgres_url, WHERE) as feed:
        with pytest.raises(RuntimeError), db.transaction():
            write(db, "sessions", "gone")
            write(db, "missions", "gone")
            raise RuntimeError("roll back")
        assert feed.wait(0.5) == set()
        write(db, "sessions", "kept")  # the feed still listens: this one arrives
        assert feed.wait(WAIT_S) == {"sessions"}


def test_messages_and_events_notify_nothing_of_their_own(db: Connection, postgres_url: str) -> None:
    write(db, "sessions", "s1")
    with PgChangeFeed.open(postgres_url, WHERE) as feed:
        db.execute(
            "INSERT INTO messages (id, session_id, created_at, role, body) "
            "VALUES ('m1', 's1', 1, 'user', '{}')"
        )
        db.execute(
            "INSERT INTO events (session_id, seq, type, ts, json) VALUES ('s1', 1, 't', 1, '{}')"
        )
        db.execute("INSERT INTO job_events (job_id, seq, ts, type) VALUES ('j0', 1, 1, 'x')")
        assert feed.wait(0.5) == set()
        db.execute("UPDATE sessions SET updated_at = 2 WHERE id = 's1'")  # what a turn does
        assert feed.wait(WAIT_S) == {"sessions"}


def test_an_idle_feed_returns_an_empty_set_within_its_timeout(
    db: Connection, postgres_url: str
) -> None:
    with PgChangeFeed.open(postgres_url, WHERE) as feed:
        assert feed.changes() == set()
        started = time.monotonic()
        assert feed.wait(0.3) == set()
        assert time.monotonic() - started < WAIT_S  # returned, not blocked for good


def test_a_lost_connection_is_none_then_the_feed_listens_again(
    db: Connection, postgres_url: str
) -> None:
    with PgChangeFeed.open(postgres_url, WHERE) as feed:
        pid = feed_pid(db)
        db.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert feed.wait(WAIT_S) is None
        assert feed_pid(db) != pid  # listening on a new connection already
        write(db, "jobs", "after")
        assert feed.wait(WAIT_S) == {"jobs"}


def test_a_feed_whose_server_is_gone_waits_out_its_timeout_and_says_none(
    db: Connection, postgres_url: str, tmp_path: Path
) -> None:
    feed = PgChangeFeed.open(postgres_url, WHERE)
    db.execute("SELECT pg_terminate_backend(%s)", (feed_pid(db),))
    feed._url = f"postgresql://tau@/tau?host={tmp_path}&port=1"  # now unreachable
    assert feed.wait(WAIT_S) is None  # lost, and the reconnect failed
    started = time.monotonic()
    assert feed.wait(0.3) is None  # still unreachable: waits, never spins
    assert time.monotonic() - started >= 0.3
    feed.close()
    feed.close()
    with pytest.raises(StoreError, match="closed"):
        feed.changes()


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://tau:hunter2@/tau?host={tmp_path}&port=1"
    with pytest.raises(StoreError) as caught:
        PgChangeFeed.open(url, WHERE)
    message = str(caught.value)
    assert "hunter2" not in message and "\n" not in message and WHERE in message


def test_a_write_from_another_process_wakes_the_feed(db: Connection, postgres_url: str) -> None:
    script = (
        "import sys, psycopg\n"
        "with psycopg.connect(sys.argv[1]) as c:\n"
        "    c.execute(\"UPDATE jobs SET priority = 7 WHERE id = 'j0'\")\n"
    )
    with PgChangeFeed.open(postgres_url, WHERE) as feed:
        subprocess.run([sys.executable, "-c", script, postgres_url], check=True, timeout=60)
        assert feed.wait(WAIT_S) == {"jobs"}


def test_v6_applies_to_a_v5_database_with_data_in_it(postgres_url: str) -> None:
    conn = connect(postgres_url, WHERE)
    with conn.transaction():  # the database as tau's schema v5 left it
        conn.execute(
            "CREATE TABLE tau_schema (one boolean PRIMARY KEY DEFAULT true "
            "CHECK (one), version integer NOT NULL)"
        )
        for step in MIGRATIONS[:5]:
            step(conn)
        conn.execute("INSERT INTO tau_schema (version) VALUES (5)")
    write(conn, "jobs", "j0")
    write(conn, "sessions", "s-old")
    with PgChangeFeed.open(postgres_url, WHERE) as feed:
        write(conn, "sessions", "s-v5")
        assert feed.wait(0.3) == set()  # v5 has no triggers
        migrate(conn, WHERE)
        assert SCHEMA_VERSION == 6
        row = conn.execute("SELECT version FROM tau_schema").fetchone()
        assert row is not None and row[0] == 6
        rows = conn.execute("SELECT id FROM sessions ORDER BY seq").fetchall()
        assert [r[0] for r in rows] == ["s-old", "s-v5"]
        triggers = conn.execute(
            "SELECT tgrelid::regclass::text, tgtype & 1 FROM pg_trigger "
            "WHERE tgname LIKE '%%_notify_change' ORDER BY 1"
        ).fetchall()
        assert triggers == [(t, 0) for t in sorted(CHANGE_TABLES)]  # 0: per statement
        conn.execute("UPDATE jobs SET priority = 2 WHERE id = 'j0'")
        assert feed.wait(WAIT_S) == {"jobs"}
    migrate(conn, WHERE)  # a second open of a v6 database changes nothing
    conn.close()
