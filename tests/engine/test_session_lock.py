"""Per-session locks: one process writes a session; a dead holder's lock is no lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tau_engine.config import Settings
from tau_engine.engine import Engine
from tau_engine.errors import SessionLockedError, StoreError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.session_lock import SessionLock, lock_file_name

REPO_ROOT = Path(__file__).resolve().parents[2]
SID = "3f2a1b2c" + "0" * 24

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from tau_engine.store.session_lock import SessionLock
    SessionLock.acquire(Path(sys.argv[1]), sys.argv[2])
    print("held", flush=True)
    time.sleep(60)
""")


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    first = SessionLock.acquire(tmp_path, SID)
    with pytest.raises(SessionLockedError) as refused:
        SessionLock.acquire(tmp_path, SID)
    assert refused.value.pid == os.getpid()
    assert refused.value.exit_code == 2
    assert str(refused.value) == (
        f"session 3f2a1b2c is in use by another tau process (pid {os.getpid()}); wait for "
        "it to finish, or fork it: tau sessions fork 3f2a1b2c"
    )
    first.release()
    SessionLock.acquire(tmp_path, SID).release()


def test_a_holder_killed_with_sigkill_holds_nothing(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path), SID],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(SessionLockedError) as refused:
            SessionLock.acquire(tmp_path, SID)
        assert refused.value.pid == holder.pid
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    SessionLock.acquire(tmp_path, SID).release()


def test_child_processes_do_not_inherit_the_lock(tmp_path: Path) -> None:
    # A tool's background process that outlives tau must not keep the session locked.
    lock = SessionLock.acquire(tmp_path, SID)
    child = subprocess.Popen(["sleep", "30"], close_fds=False)
    try:
        lock.release()
        SessionLock.acquire(tmp_path, SID).release()
    finally:
        child.kill()
        child.wait()


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    locks.mkdir()
    target = tmp_path / "bashrc"
    target.write_text("precious\n")
    (locks / lock_file_name(SID)).symlink_to(target)
    with pytest.raises(StoreError, match="is a symlink"):
        SessionLock.acquire(locks, SID)
    assert target.read_text() == "precious\n"


def test_a_symlinked_locks_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "locks").symlink_to(elsewhere)
    with pytest.raises(StoreError, match="is a symlink"):
        SessionLock.acquire(tmp_path / "locks", SID)
    assert list(elsewhere.iterdir()) == []


def test_a_session_id_with_a_path_in_it_stays_inside_the_locks_folder(tmp_path: Path) -> None:
    locks = tmp_path / "deep" / "locks"
    with SessionLock.acquire(locks, "../../../escaped"):
        pass
    assert not (tmp_path / "escaped.lock").exists()
    assert [p.parent for p in tmp_path.rglob("*.lock")] == [locks]


async def _open(root: Path, **kwargs: object) -> Engine:
    return await Engine.open(
        workspace=WorkspacePaths(root),
        settings=Settings(model="offline/echo"),
        environ={},
        **kwargs,  # type: ignore[arg-type]
    )


async def test_two_engines_cannot_write_one_session(tmp_path: Path) -> None:
    first = await _open(tmp_path)
    try:
        await first.run("hello")
        assert first.session is not None
        session_id = first.session.id
        with pytest.raises(SessionLockedError):
            await _open(tmp_path, continue_latest=True)
        # Offered a fork instead, the second engine continues a copy of the session.
        second = await _open(tmp_path, resume=session_id[:8], if_busy="fork")
        try:
            assert second.session is not None and second.session.id != session_id
            assert second.session.meta["forked_from"]["session_id"] == session_id
            assert any("continuing in a fork" in n.message for n in second.startup_notices)
            assert (await second.history())[0].message.content == "hello"
            with pytest.raises(SessionLockedError):
                await second.sessions.resume(session_id)
        finally:
            await second.close()
        # Leaving the session (a new one) lets another process take it.
        await first.sessions.new()
        third = await _open(tmp_path, resume=session_id)
        await third.close()
    finally:
        await first.close()
    # Closing releases it too.
    await (await _open(tmp_path, resume=session_id)).close()


# -- through the store, on every backend ------------------------------------------------

STORE_HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from tau_engine.paths import WorkspacePaths
    from tau_engine.store import open_store
    store = open_store(WorkspacePaths(Path(sys.argv[1])), sys.argv[2]).open_sessions()
    lock = store.lock_session(sys.argv[3])
    print("held", flush=True)
    time.sleep(60)
""")


def test_a_store_lock_is_exclusive_and_dies_with_its_holder(tmp_path: Path, store_url: str) -> None:
    from tau_engine.store import open_store

    store = open_store(WorkspacePaths(tmp_path), store_url).open_sessions()
    holder = subprocess.Popen(
        [sys.executable, "-c", STORE_HOLDER, str(tmp_path), store_url, SID],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(SessionLockedError) as refused:
            store.lock_session(SID)
        assert refused.value.pid == holder.pid
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        # The database notices the killed holder's closed connection at once (no lease
        # to wait out), so the lock is free as soon as its process is gone.
        lock = store.lock_session(SID)
        assert lock.held
        with pytest.raises(SessionLockedError) as again:
            store.lock_session(SID)
        assert again.value.pid == os.getpid()
        lock.release()
        lock.release()  # twice is fine
        assert not lock.held
        store.lock_session(SID).release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        store.close()


def test_on_postgresql_a_session_is_locked_for_every_workspace_sharing_the_database(
    tmp_path: Path, postgres_url: str
) -> None:
    # Two machines with their own checkouts and one database: the lock is in the database.
    from tau_engine.store import open_store

    here = open_store(WorkspacePaths(tmp_path / "a"), postgres_url).open_sessions()
    there = open_store(WorkspacePaths(tmp_path / "b"), postgres_url).open_sessions()
    try:
        with here.lock_session(SID), pytest.raises(SessionLockedError):
            there.lock_session(SID)
        there.lock_session(SID).release()
    finally:
        here.close()
        there.close()
