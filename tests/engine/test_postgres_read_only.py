"""``open_sessions(read_only=True)`` on PostgreSQL (``tau sessions list|show|export``):
every transaction of its connection is ``READ ONLY``, it never migrates (a database tau
has not brought to this version is refused in one line) and it refuses every write
before any SQL runs."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tau_engine.conversation import Message
from tau_engine.errors import StoreError
from tau_engine.paths import WorkspacePaths
from tau_engine.store import open_store
from tau_engine.store.postgres.schema import SCHEMA_VERSION
from tau_engine.store.postgres.sessions import PostgresSessionStore
from tests.cli.tau_process import run_tau


def _schema_version(url: str) -> int | None:
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('tau_schema') IS NOT NULL").fetchone()
        if exists is None or not exists[0]:
            return None
        row = conn.execute("SELECT version FROM tau_schema").fetchone()
    return int(row[0]) if row else 0


def test_a_read_only_store_never_creates_tables_in_an_empty_database(
    tmp_path: Path, postgres_url: str
) -> None:
    backend = open_store(WorkspacePaths(tmp_path), postgres_url)
    with pytest.raises(StoreError) as refused:
        backend.open_sessions(read_only=True)
    message = str(refused.value)
    assert "holds no tau store" in message
    assert "tau store migrate" in message and "a normal tau run" in message
    assert "\n" not in message
    assert _schema_version(postgres_url) is None


def test_a_read_only_store_does_not_migrate_an_older_schema(
    tmp_path: Path, postgres_url: str
) -> None:
    backend = open_store(WorkspacePaths(tmp_path), postgres_url)
    backend.open_sessions().close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE tau_schema SET version = %s", (SCHEMA_VERSION - 1,))
    with pytest.raises(StoreError) as refused:
        backend.open_sessions(read_only=True)
    assert f"holds tau's schema v{SCHEMA_VERSION - 1}" in str(refused.value)
    assert _schema_version(postgres_url) == SCHEMA_VERSION - 1


async def test_a_read_only_store_reads_and_refuses_every_write(
    tmp_path: Path, postgres_url: str
) -> None:
    backend = open_store(WorkspacePaths(tmp_path), postgres_url)
    writable = backend.open_sessions()
    info = await writable.create_session(model="m", title="kept")
    user = await writable.append(info.id, Message(role="user", content="hi"))
    writable.close()
    (tmp_path / "f.txt").write_text("x")

    store = backend.open_sessions(read_only=True)
    assert isinstance(store, PostgresSessionStore)
    try:
        assert (await store.get_session(info.id)).title == "kept"
        assert [m.id for m in await store.history(info.id)] == [user.id]
        writes = [
            store.append(info.id, Message(role="user", content="no")),
            store.set_title(info.id, "changed"),
            store.delete_session(info.id),
            store.create_session(model="m"),
            store.checkpoint_file(info.id, user.id, tmp_path / "f.txt"),
            store.undo(info.id),
            store.fork(info.id, user.id),
        ]
        for write in writes:
            with pytest.raises(StoreError, match="opened read-only"):
                await write
        with pytest.raises(StoreError, match="opened read-only"):
            store.lock_session(info.id)
        with pytest.raises(StoreError, match="opened read-only"):
            store.event_writer(info.id)
        # The server refuses too, should a write ever get past tau's own refusal.
        with store._db.read() as conn:
            assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
    finally:
        store.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM messages), "
            "(SELECT count(*) FROM checkpoints), (SELECT title FROM sessions)"
        ).fetchone()
    assert counts == (1, 1, 0, "kept")


async def test_tau_sessions_list_show_and_export_read_a_postgresql_store_without_writing(
    workspace: Path, postgres_url: str
) -> None:
    empty = run_tau(["sessions", "list", "--store", postgres_url], workspace)
    assert empty.returncode != 0
    assert "Traceback" not in empty.stderr
    assert len(empty.stderr.strip().splitlines()) == 1
    assert "tau store migrate" in empty.stderr
    assert _schema_version(postgres_url) is None

    writable = open_store(WorkspacePaths(workspace), postgres_url).open_sessions()
    info = await writable.create_session(model="m", title="shared")
    await writable.append(info.id, Message(role="user", content="hello"))
    writable.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        before = conn.execute("SELECT updated_at FROM sessions").fetchone()

    listed = run_tau(["sessions", "list", "--json", "--store", postgres_url], workspace)
    assert listed.returncode == 0, listed.stderr
    assert [s["id"] for s in json.loads(listed.stdout)] == [info.id]
    shown = run_tau(["sessions", "show", info.id[:8], "--store", postgres_url], workspace)
    assert shown.returncode == 0, shown.stderr
    assert "hello" in shown.stdout
    exported = run_tau(
        ["sessions", "export", info.id[:8], "out.jsonl", "--store", postgres_url], workspace
    )
    assert exported.returncode == 0, exported.stderr
    assert "hello" in (workspace / "out.jsonl").read_text()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT updated_at FROM sessions").fetchone() == before


async def test_tau_sessions_list_works_with_a_role_that_may_only_read(
    workspace: Path, postgres_url: str
) -> None:
    writable = open_store(WorkspacePaths(workspace), postgres_url).open_sessions()
    info = await writable.create_session(model="m", title="shared")
    writable.close()
    role = f"reader_{info.id[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    reader_url = postgres_url.replace("postgresql://tau@", f"postgresql://{role}@", 1)
    assert reader_url != postgres_url
    try:
        listed = run_tau(["sessions", "list", "--json", "--store", reader_url], workspace)
        assert listed.returncode == 0, listed.stderr
        assert [s["id"] for s in json.loads(listed.stdout)] == [info.id]
        # A normal opening as that role cannot migrate or write: one line, no traceback.
        denied = run_tau(["sessions", "fork", info.id[:8], "--store", reader_url], workspace)
        assert denied.returncode != 0
        assert len(denied.stderr.strip().splitlines()) == 1, denied.stderr
        assert "permission denied" in denied.stderr
        assert "Traceback" not in denied.stderr
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
