"""Sessions, the message DAG, forks, schema migrations and concurrent openers.

Tests taking ``store`` (or ``store_backend``) run against every store backend; the ones
about SQLite's file (WAL, migrations, rows left behind) open ``SqliteSessionStore``.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tau_engine.conversation import Message, Usage
from tau_engine.errors import SessionNotFoundError, StoreError, UsageError
from tau_engine.events import Notice
from tau_engine.paths import WorkspacePaths
from tau_engine.store import NewMessage, SessionStore, StoreBackend
from tau_engine.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION, connect, migrate
from tau_engine.store.sqlite.sessions import SqliteSessionStore


def ticking_clock(start: float = 1_000.0) -> Callable[[], float]:
    """A clock that advances one second per reading, so orderings are deterministic."""
    counter = itertools.count(start, 1.0)
    return lambda: next(counter)


@pytest.fixture
async def store(store_backend: StoreBackend) -> AsyncIterator[SessionStore]:
    opened = store_backend.open_sessions(clock=ticking_clock())
    yield opened
    opened.close()


def user(text: str) -> Message:
    return Message(role="user", content=text)


def assistant(text: str) -> Message:
    return Message(role="assistant", content=text)


async def test_open_creates_state_dir_in_wal_mode(tmp_path: Path) -> None:
    store = SqliteSessionStore.open(WorkspacePaths(tmp_path))
    store.close()
    assert (tmp_path / ".tau" / ".gitignore").is_file()
    conn = sqlite3.connect(tmp_path / ".tau" / "tau.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


async def test_create_list_and_latest(store: SessionStore) -> None:
    assert await store.latest_session() is None
    first = await store.create_session(model="openai/gpt-x")
    second = await store.create_session(model="anthropic/claude", title="named")
    assert len(first.id) == 32 and first.model == "openai/gpt-x"
    assert second.title == "named" and second.workspace == str(store.paths.root)
    listed = await store.list_sessions()
    assert [s.id for s in listed] == [second.id, first.id]
    await store.append(first.id, user("hi"))
    latest = await store.latest_session()
    assert latest is not None and latest.id == first.id
    assert [s.id for s in await store.list_sessions(limit=1)] == [first.id]


async def test_prefix_lookup_exact_unique_ambiguous_and_missing(store: SessionStore) -> None:
    made = [await store.create_session(model="m") for _ in range(40)]
    target = made[0]
    assert (await store.get_session(target.id)).id == target.id
    assert (await store.get_session(target.id[:12].upper())).id == target.id
    # 40 random ids share their first hex digit with near certainty.
    by_first: dict[str, list[str]] = {}
    for info in made:
        by_first.setdefault(info.id[0], []).append(info.id)
    shared = next(prefix for prefix, ids in by_first.items() if len(ids) > 1)
    with pytest.raises(SessionNotFoundError, match="ambiguous") as caught:
        await store.get_session(shared)
    # The message names up to five candidates, every one of them a real match.
    named = [i[:12] for i in by_first[shared] if i[:12] in str(caught.value)]
    assert 1 <= len(named) <= 5
    taken = {info.id[:2] for info in made}
    free = next(f"{n:02x}" for n in range(256) if f"{n:02x}" not in taken)
    with pytest.raises(SessionNotFoundError, match="no session"):
        await store.get_session(free)
    with pytest.raises(SessionNotFoundError):
        await store.get_session("not-hex!")
    with pytest.raises(SessionNotFoundError):
        await store.get_session("")


async def test_append_history_recent_and_title(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    first = await store.append(info.id, user("  Fix the parser\nsecond line"))
    reply = await store.append(
        info.id,
        assistant("done"),
        usage=Usage(input_tokens=10, output_tokens=3),
        cost_usd=0.5,
        model="m",
    )
    assert reply.parent_id == first.id and first.parent_id is None
    results = await store.append_many(
        info.id,
        [Message(role="tool", content=f"r{i}", tool_call_id=str(i)) for i in range(3)]
        + [NewMessage(assistant("after tools"), Usage(input_tokens=1), None, "m")],
    )
    assert [m.parent_id for m in results] == [reply.id, results[0].id, results[1].id, results[2].id]
    history = await store.history(info.id)
    assert [m.message.content for m in history] == [
        "  Fix the parser\nsecond line",
        "done",
        "r0",
        "r1",
        "r2",
        "after tools",
    ]
    assert history[1] == reply
    assert [m.message.content for m in await store.recent(info.id, 2)] == ["r2", "after tools"]
    assert await store.recent(info.id, 100) == history
    assert await store.recent(info.id, 0) == []
    assert [m.id for m in await store.history(info.id, head_id=reply.id)] == [first.id, reply.id]

    session = await store.get_session(info.id)
    assert session.title == "Fix the parser"
    assert session.head_id == results[-1].id and session.message_count == 6
    usage, cost = await store.totals(info.id)
    assert usage == Usage(input_tokens=11, output_tokens=3)
    assert cost == pytest.approx(0.5)


async def test_title_is_cut_and_kept(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    await store.append(info.id, user("x" * 200))
    await store.append(info.id, user("a later prompt"))
    title = (await store.get_session(info.id)).title
    assert len(title) == 60 and title.endswith("…")
    await store.set_title(info.id, "renamed")
    await store.set_model(info.id, "other/model")
    await store.set_meta(info.id, {"pinned": True})
    session = await store.get_session(info.id)
    assert (session.title, session.model, session.meta) == (
        "renamed",
        "other/model",
        {"pinned": True},
    )


async def test_cost_stays_unknown_until_priced(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    await store.append(info.id, assistant("a"), usage=Usage(output_tokens=4))
    assert await store.totals(info.id) == (Usage(output_tokens=4), None)
    await store.append(info.id, assistant("b"), usage=Usage(output_tokens=1), cost_usd=0.25)
    assert await store.totals(info.id) == (Usage(output_tokens=5), 0.25)


async def test_branches_and_set_head(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    root = await store.append(info.id, user("q"))
    line_a = await store.append(info.id, assistant("answer a"))
    line_b = await store.append(info.id, assistant("answer b"), parent_id=root.id)
    assert (await store.get_session(info.id)).head_id == line_b.id
    assert [m.id for m in await store.history(info.id)] == [root.id, line_b.id]
    assert {m.id for m in await store.branches(info.id)} == {line_a.id, line_b.id}
    await store.set_head(info.id, line_a.id)
    assert [m.id for m in await store.history(info.id)] == [root.id, line_a.id]
    other = await store.create_session(model="m")
    with pytest.raises(UsageError, match="not in session"):
        await store.set_head(other.id, line_a.id)
    with pytest.raises(UsageError, match="not in session"):
        await store.append(other.id, user("x"), parent_id=root.id)


async def test_fork_copies_the_path_and_leaves_the_original(store: SessionStore) -> None:
    info = await store.create_session(model="m", title="original")
    q = await store.append(info.id, user("q"))
    a = await store.append(info.id, assistant("a"), usage=Usage(input_tokens=7), cost_usd=0.1)
    await store.append(info.id, user("q2"))
    await store.append(info.id, assistant("a2"), usage=Usage(input_tokens=100), cost_usd=1.0)
    before = await store.history(info.id)

    fork = await store.fork(info.id, a.id, title="experiment")
    assert fork.id != info.id and fork.title == "experiment"
    assert fork.meta == {"forked_from": {"session_id": info.id, "message_id": a.id}}
    forked = await store.history(fork.id)
    assert [m.message for m in forked] == [q.message, a.message]
    assert not {m.id for m in forked} & {m.id for m in before}
    assert forked[1].parent_id == forked[0].id
    usage, cost = await store.totals(fork.id)
    assert usage == Usage(input_tokens=7) and cost == pytest.approx(0.1)

    await store.append(fork.id, user("different direction"))
    assert await store.history(info.id) == before
    await store.delete_session(info.id)
    assert len(await store.history(fork.id)) == 3
    with pytest.raises(UsageError):
        await store.fork(fork.id, a.id)


async def test_delete_session_removes_messages_and_events(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    keep = await store.create_session(model="m")
    await store.append(info.id, user("q"))
    await store.append(keep.id, user("kept"))
    with store.event_writer(info.id) as writer:
        writer.write(Notice(kind="info", message="x"))
    await store.delete_session(info.id)
    with pytest.raises(SessionNotFoundError):
        await store.get_session(info.id)
    with pytest.raises(SessionNotFoundError):
        await store.delete_session(info.id)
    assert await store.events(info.id) == []
    assert [m.message.content for m in await store.history(keep.id)] == ["kept"]


async def test_delete_session_leaves_no_rows_in_sqlite(tmp_path: Path) -> None:
    store = SqliteSessionStore.open(WorkspacePaths(tmp_path))
    try:
        info = await store.create_session(model="m")
        keep = await store.create_session(model="m")
        await store.append(info.id, user("q"))
        await store.append(keep.id, user("kept"))
        with store.event_writer(info.id) as writer:
            writer.write(Notice(kind="info", message="x"))
        await store.delete_session(info.id)
    finally:
        store.close()
    conn = sqlite3.connect(store.paths.db_path)
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    conn.close()


async def test_delete_of_a_long_session(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    await store.append_many(info.id, [user(str(i)) for i in range(3_000)])
    assert len(await store.recent(info.id, 5)) == 5
    await store.delete_session(info.id)
    assert await store.list_sessions() == []


async def test_missing_session_is_a_clear_error(store: SessionStore) -> None:
    with pytest.raises(SessionNotFoundError, match="no session"):
        await store.append("0" * 32, user("x"))
    with pytest.raises(SessionNotFoundError):
        await store.history("0" * 32)


async def test_closed_store_refuses_work(store_backend: StoreBackend) -> None:
    store = store_backend.open_sessions()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.list_sessions()


def _build_v1_db(paths: WorkspacePaths) -> None:
    """A database exactly as the first schema version left it, with one session."""
    paths.ensure()
    conn = connect(paths.db_path)
    migrate(conn, paths.db_path, target=1)
    conn.execute(
        "INSERT INTO sessions (id, title, model, created_at, updated_at, head_id, workspace) "
        "VALUES (?, 'old', 'm', 1, 1, ?, '')",
        ("a" * 32, "b" * 32),
    )
    conn.execute(
        "INSERT INTO messages (id, session_id, parent_id, created_at, role, body) "
        "VALUES (?, ?, NULL, 1, 'user', ?)",
        ("b" * 32, "a" * 32, Message(role="user", content="from v1").model_dump_json()),
    )
    conn.close()


async def test_older_schema_is_migrated(tmp_path: Path) -> None:
    paths = WorkspacePaths(tmp_path)
    _build_v1_db(paths)
    assert SCHEMA_VERSION > 1 and len(MIGRATIONS) == SCHEMA_VERSION
    store = SqliteSessionStore.open(paths)
    try:
        session = await store.get_session("aaaa")
        assert session.title == "old"
        history = await store.history(session.id)
        assert [m.message.content for m in history] == ["from v1"]
        # The v2 tables work on the migrated database.
        target = tmp_path / "f.txt"
        target.write_text("before")
        await store.checkpoint_file(session.id, history[0].id, target)
        target.write_text("after")
        await store.undo(session.id)
        assert target.read_text() == "before"
    finally:
        store.close()
    conn = sqlite3.connect(paths.db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    paths = WorkspacePaths(tmp_path)
    SqliteSessionStore.open(paths).close()
    conn = sqlite3.connect(paths.db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this tau"):
        SqliteSessionStore.open(paths)


async def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    paths = WorkspacePaths(tmp_path)
    paths.ensure()
    paths.db_path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        SqliteSessionStore.open(paths)


async def test_two_instances_share_one_database(store_backend: StoreBackend) -> None:
    opened: list[SessionStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(store_backend.open_sessions())
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    # Both race to create and migrate the same fresh database.
    threads = [threading.Thread(target=open_one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(opened) == 2
    first, second = opened
    try:
        a = await first.create_session(model="m")
        b = await second.create_session(model="m")

        async def chat(s: SessionStore, session_id: str, n: int) -> None:
            for i in range(n):
                await s.append(session_id, user(f"{session_id[:4]}-{i}"))

        # Both append to the same session at once: each append reads the head
        # inside its write transaction, so the chain stays one line.
        await asyncio.gather(chat(first, a.id, 30), chat(second, a.id, 30), chat(second, b.id, 10))
        history = await second.history(a.id)
        assert len(history) == 60
        assert all(m.parent_id == prev.id for prev, m in itertools.pairwise(history))
        assert len(await first.history(b.id)) == 10
        assert {s.id for s in await first.list_sessions()} == {a.id, b.id}
    finally:
        first.close()
        second.close()


async def test_on_postgresql_a_writer_waits_only_for_its_own_session(
    tmp_path: Path, postgres_url: str
) -> None:
    # docs/scale.md: PostgreSQL locks the session being changed, not the whole store.
    import psycopg

    from tau_engine.store import open_store

    store = open_store(WorkspacePaths(tmp_path), postgres_url).open_sessions()
    other = open_store(WorkspacePaths(tmp_path), postgres_url).open_sessions()
    try:
        a = await store.create_session(model="m")
        b = await store.create_session(model="m")
        with psycopg.connect(postgres_url) as writer:  # a transaction changing session a
            writer.execute("SELECT 1 FROM sessions WHERE id = %s FOR UPDATE", (a.id,))
            await asyncio.wait_for(store.append(b.id, user("b goes on")), timeout=30)
            waiting = asyncio.create_task(other.append(a.id, user("a waits")))
            done, _ = await asyncio.wait({waiting}, timeout=0.3)
            assert not done  # held behind the open transaction on its own session
            writer.rollback()
        await asyncio.wait_for(waiting, timeout=30)
        assert [m.message.content for m in await store.history(a.id)] == ["a waits"]
    finally:
        store.close()
        other.close()


async def test_a_nul_in_user_text_is_stored_on_every_backend(store: SessionStore) -> None:
    # A pasted binary: PostgreSQL's text cannot hold a NUL, SQLite's can; neither fails.
    # Titles keep their escape sequences for the front ends to strip whole when shown.
    info = await store.create_session(model="m")
    await store.append(info.id, user("look:\x00\x1b[31m here"))
    title = (await store.get_session(info.id)).title
    assert title in ("look:\x00\x1b[31m here", "look:\ufffd\x1b[31m here")
    assert (await store.history(info.id))[0].message.content == "look:\x00\x1b[31m here"
    await store.set_title(info.id, "t\x00t")
    assert (await store.get_session(info.id)).title in ("t\x00t", "t\ufffdt")


async def test_on_postgresql_a_dropped_connection_fails_one_call_then_reconnects(
    tmp_path: Path, postgres_url: str
) -> None:
    # A server restart or a network cut: the call in flight fails in one line, the next
    # one works on a new connection, and nothing committed is lost.
    import psycopg

    from tau_engine.store import open_store

    store = open_store(WorkspacePaths(tmp_path), postgres_url).open_sessions()
    try:
        info = await store.create_session(model="m")
        await store.append(info.id, user("before"))
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(StoreError) as caught:
            await store.append(info.id, user("lost"))
        assert "\n" not in str(caught.value)
        await store.append(info.id, user("after"))
        contents = [m.message.content for m in await store.history(info.id)]
        assert contents == ["before", "after"]
    finally:
        store.close()
