"""A session lock on PostgreSQL lives on a connection of its own; when the server drops
that connection (``pg_terminate_backend`` here, a restart or a network cut in life) the
lock is gone, and every later write of the session by this process must fail, writing
nothing, while a process that takes the session since writes alone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from tau_engine.conversation import Message
from tau_engine.errors import SessionLockLostError
from tau_engine.events import TextDelta, TurnFinished
from tau_engine.paths import WorkspacePaths
from tau_engine.store import open_store
from tau_engine.store.postgres.sessions import PostgresSessionStore
from tests.support.lock_connections import end_lock_connections

REPO_ROOT = Path(__file__).resolve().parents[2]


def _store(root: Path, url: str) -> PostgresSessionStore:
    store = open_store(WorkspacePaths(root), url).open_sessions()
    assert isinstance(store, PostgresSessionStore)
    return store


def _count(url: str, sql: str, *params: object) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_write_after_the_lock_connection_dies_raises_and_writes_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    store = _store(tmp_path, postgres_url)
    try:
        info = await store.create_session(model="m")
        lock = store.lock_session(info.id)
        user = await store.append(info.id, Message(role="user", content="hi"))
        (tmp_path / "f.txt").write_text("before")
        await store.checkpoint_file(info.id, user.id, tmp_path / "f.txt")
        writer = store.event_writer(info.id)
        writer.write(TextDelta(text="a"))
        writer.flush()
        messages = "SELECT count(*) FROM messages WHERE session_id = %s"
        events = "SELECT count(*) FROM events WHERE session_id = %s"
        assert _count(postgres_url, messages, info.id) == 1
        assert _count(postgres_url, events, info.id) == 1

        assert end_lock_connections(postgres_url, os.getpid()) == 1

        with pytest.raises(SessionLockLostError) as lost:
            await store.append(info.id, Message(role="assistant", content="late"))
        assert str(lost.value).startswith(f"lost the lock on session {info.id[:8]}")
        assert f"tau --resume {info.id[:8]}" in str(lost.value)
        assert "\n" not in str(lost.value)
        with pytest.raises(SessionLockLostError):
            await store.set_title(info.id, "renamed")
        with pytest.raises(SessionLockLostError):
            await store.undo(info.id)
        with pytest.raises(SessionLockLostError):
            await store.checkpoint_file(info.id, user.id, tmp_path / "g.txt")
        writer.write(TextDelta(text="b"))
        with pytest.raises(SessionLockLostError):
            writer.write(
                TurnFinished(turn=1, stop_reason="end")
            )  # a non-delta event flushes the batch
        with pytest.raises(SessionLockLostError):
            await store.delete_session(info.id)

        assert _count(postgres_url, messages, info.id) == 1
        assert _count(postgres_url, events, info.id) == 1
        assert _count(postgres_url, "SELECT count(*) FROM checkpoints") == 1
        assert (await store.get_session(info.id)).title == "hi"
        assert (tmp_path / "f.txt").read_text() == "before"  # undo restored nothing
        assert lock.released is False
    finally:
        with pytest.raises(SessionLockLostError):
            store.close()  # the writer's last flush is refused too


TAKER = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from tau_engine.conversation import Message
    from tau_engine.paths import WorkspacePaths
    from tau_engine.store import open_store

    async def main():
        store = open_store(WorkspacePaths(Path(sys.argv[1])), sys.argv[2]).open_sessions()
        with store.lock_session(sys.argv[3]):
            await store.append(sys.argv[3], Message(role="user", content="taken over"))
            with store.event_writer(sys.argv[3]) as writer:
                from tau_engine.events import TurnFinished
                writer.write(TurnFinished(turn=1, stop_reason="end"))
        store.close()
        print("written", flush=True)

    asyncio.run(main())
""")


async def test_another_process_takes_the_lost_session_and_writes_alone(
    tmp_path: Path, postgres_url: str
) -> None:
    store = _store(tmp_path, postgres_url)
    try:
        info = await store.create_session(model="m")
        store.lock_session(info.id)
        await store.append(info.id, Message(role="user", content="first"))
        writer = store.event_writer(info.id)
        writer.write(TurnFinished(turn=1, stop_reason="end"))

        assert end_lock_connections(postgres_url, os.getpid()) == 1
        taker = subprocess.run(
            [sys.executable, "-c", TAKER, str(tmp_path), postgres_url, info.id],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        assert taker.returncode == 0, taker.stderr
        assert taker.stdout == "written\n"

        with pytest.raises(SessionLockLostError):
            await store.append(info.id, Message(role="assistant", content="interleaved"))
        with pytest.raises(SessionLockLostError):
            writer.write(TurnFinished(turn=1, stop_reason="end"))

        history = await store.history(info.id)
        assert [m.message.content for m in history] == ["first", "taken over"]
        events = await store.events(info.id)
        assert [e.seq for e in events] == [1, 2]  # ours, then the taker's; none after
    finally:
        with pytest.raises(SessionLockLostError):
            store.close()


async def test_a_healthy_holder_writes_on_while_another_sessions_lock_is_lost(
    tmp_path: Path, postgres_url: str
) -> None:
    store = _store(tmp_path, postgres_url)
    other = _store(tmp_path, postgres_url)
    try:
        info = await store.create_session(model="m")
        lock = store.lock_session(info.id)
        theirs = await other.create_session(model="m")
        # Another session's lock, lost: nothing to do with ours.
        other.lock_session(theirs.id)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid <> %s",
                (lock._holder["pid"],),
            ).fetchone()
        assert ended == (1,)
        for n in range(5):
            await store.append(info.id, Message(role="user", content=f"m{n}"))
        with store.event_writer(info.id) as writer:
            writer.write(TurnFinished(turn=1, stop_reason="end"))
        await store.set_title(info.id, "still mine")
        report = await store.undo(info.id)
        assert report.messages == 1
        assert len(await store.history(info.id)) == 4
        assert (await store.get_session(info.id)).title == "still mine"
        assert len(await store.events(info.id)) == 1
        lock.release()
        # Released by choice, writes without the lock behave as before (no check).
        await store.set_title(info.id, "after release")
    finally:
        store.close()
        other.close()


async def test_a_later_backend_with_the_same_pid_is_not_taken_for_the_holder(
    tmp_path: Path, postgres_url: str
) -> None:
    # A pid alone is reused by later backends: the check compares the start time too.
    # A lock whose recorded start differs from its backend's is, to the check, another
    # backend's lock that happens to carry the same pid.
    from datetime import timedelta

    store = _store(tmp_path, postgres_url)
    try:
        info = await store.create_session(model="m")
        lock = store.lock_session(info.id)
        await store.append(info.id, Message(role="user", content="ok"))
        lock._holder["start"] -= timedelta(microseconds=1)
        with pytest.raises(SessionLockLostError):
            await store.append(info.id, Message(role="user", content="not ok"))
        assert len(await store.history(info.id)) == 1
    finally:
        store.close()
