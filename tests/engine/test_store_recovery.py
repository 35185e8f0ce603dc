"""``tau sessions recover``: a damaged store is rebuilt from what can still be read."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from tau_engine.conversation import Message
from tau_engine.errors import StoreDamagedError, StoreError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.session_lock import SessionLock, StoreLock
from tau_engine.store.sqlite.recovery import recover_store
from tau_engine.store.sqlite.sessions import SqliteSessionStore
from tests.support.damage import damage_table, session_with_messages


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def _histories(paths: WorkspacePaths) -> dict[str, list[str]]:
    store = await asyncio.to_thread(SqliteSessionStore.open, paths)
    try:
        return {
            info.id: [m.message.content for m in await store.history(info.id)]
            for info in await store.list_sessions()
        }
    finally:
        store.close()


async def test_a_damaged_store_is_rebuilt_from_its_readable_rows(tmp_path: Path) -> None:
    paths = WorkspacePaths(tmp_path)
    first = await session_with_messages(tmp_path, 80)
    second = await session_with_messages(tmp_path, 80)
    damage_table(paths.db_path, "messages")
    damaged_sha = _sha(paths.db_path)
    store = SqliteSessionStore.open(paths)
    with pytest.raises(StoreDamagedError):
        await store.history(second)
    store.close()

    report = recover_store(paths)

    assert _sha(report.backup_dir / "tau.db") == damaged_sha  # the damaged file is kept
    messages = report.tables["messages"]
    assert messages.unreadable and 0 < messages.kept < 160
    with sqlite3.connect(paths.db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    histories = await _histories(paths)
    assert set(histories) == {first, second}
    # The first session's messages sit in pages the damage did not reach.
    assert histories[first] == [f"message {i} " + "x" * 1000 for i in range(80)]
    # The second lost its newest messages and ends at the newest one that survived.
    kept = histories[second]
    assert kept and kept == [f"message {i} " + "x" * 1000 for i in range(len(kept))]
    assert "could not be read" in report.summary()
    # The store is writable again.
    store = SqliteSessionStore.open(paths)
    try:
        await store.append(second, Message(role="user", content="after the recovery"))
    finally:
        store.close()


async def test_lost_rows_are_repaired_around(tmp_path: Path) -> None:
    paths = WorkspacePaths(tmp_path)
    session_id = await session_with_messages(tmp_path, 10)
    with sqlite3.connect(paths.db_path) as db:
        ids = [r[0] for r in db.execute("SELECT id FROM messages ORDER BY rowid")]
        # As if the damage had taken the 4th message and the head, and garbled the 7th.
        db.execute("DELETE FROM messages WHERE id IN (?, ?)", (ids[3], ids[9]))
        db.execute("UPDATE messages SET body = 'garbage' WHERE id = ?", (ids[6],))
    report = recover_store(paths)
    assert report.tables["messages"].dropped == 1
    histories = await _histories(paths)
    # The 5th message starts the branch that survived; the head is the newest message
    # nothing continues (the 9th); the 7th could not be read, so 8-9 start over too.
    assert histories[session_id] == [f"message {i} " + "x" * 1000 for i in (7, 8)]
    with sqlite3.connect(paths.db_path) as db:
        assert (
            db.execute("SELECT count(*) FROM messages WHERE parent_id IS NULL").fetchone()[0] == 3
        )


async def test_a_store_with_nothing_readable_becomes_empty(tmp_path: Path) -> None:
    paths = WorkspacePaths(tmp_path)
    await session_with_messages(tmp_path, 4)
    with sqlite3.connect(paths.db_path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(paths.db_path, "r+b") as handle:
        handle.write(b"not a database at all" * 10)
    report = recover_store(paths)
    assert not report.opened
    assert "nothing could be read" in report.summary()
    assert await _histories(paths) == {}
    assert (report.backup_dir / "tau.db").read_bytes().startswith(b"not a database")


async def test_recover_refuses_while_another_process_uses_the_store(tmp_path: Path) -> None:
    paths = WorkspacePaths(tmp_path)
    session_id = await session_with_messages(tmp_path, 2)
    store = SqliteSessionStore.open(paths)  # stands for a running tau
    lock = SessionLock.acquire(paths.locks_dir, session_id)
    try:
        with pytest.raises(
            StoreError,
            match=r"other tau processes have the store open "
            rf"\(pid {os.getpid()}\)",
        ):
            recover_store(paths)
    finally:
        lock.release()
        store.close()
    assert not (paths.state_dir / "backups").exists()
    recover_store(paths)
    # While a recovery holds the store, opening it is refused with a clear line.
    held = StoreLock.exclusive(paths.locks_dir)
    try:
        with pytest.raises(StoreError, match="being recovered by another tau process"):
            SqliteSessionStore.open(paths)
    finally:
        held.release()


async def test_a_store_of_an_older_tau_is_recovered_into_the_current_schema(tmp_path: Path) -> None:
    from tau_engine.store.sqlite.schema import SCHEMA_VERSION, connect, migrate

    paths = WorkspacePaths(tmp_path)
    paths.ensure()
    conn = connect(paths.db_path)
    migrate(conn, paths.db_path, target=2)
    conn.execute(
        "INSERT INTO sessions (id, created_at, updated_at, head_id) VALUES (?, 0, 0, ?)",
        ("a" * 32, "m" * 32),
    )
    conn.execute(
        "INSERT INTO messages (id, session_id, created_at, role, body) VALUES (?, ?, 0, 'user', ?)",
        ("m" * 32, "a" * 32, Message(role="user", content="old").model_dump_json()),
    )
    conn.close()
    report = recover_store(paths)
    assert report.tables["sessions"].kept == 1 and report.tables["messages"].kept == 1
    with sqlite3.connect(paths.db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert await _histories(paths) == {"a" * 32: ["old"]}


async def test_learned_memory_and_missions_come_back_too(tmp_path: Path) -> None:
    paths = WorkspacePaths(tmp_path)
    await session_with_messages(tmp_path, 4)
    with sqlite3.connect(paths.db_path) as db:
        db.execute(
            "INSERT INTO memory_entries (id, namespace, text, source, trust, "
            "created_at, updated_at, content_hash) VALUES (41, 'project', "
            "'Deploy with make deploy', 'user', 'trusted', 0, 0, 'h41')"
        )
        db.execute(
            "INSERT INTO missions (id, created_at, updated_at, phase, state) "
            "VALUES ('m1', 0, 0, 'done', '{}')"
        )
    report = recover_store(paths)
    assert report.tables["memory_entries"].kept == 1
    assert report.tables["missions"].kept == 1
    with sqlite3.connect(paths.db_path) as db:
        # The full-text index is rebuilt from the entries, and ids are never reused.
        assert db.execute(
            "SELECT rowid FROM memory_fts WHERE memory_fts MATCH 'deploy'"
        ).fetchall() == [(41,)]
        assert (
            db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'memory_entries'").fetchone()[
                0
            ]
            >= 41
        )
        assert db.execute("SELECT phase FROM missions").fetchall() == [("done",)]
