"""A damaged store: tau says so in one line with what to do, and stops writing to it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tau_engine.errors import StoreDamagedError
from tau_engine.events import Notice
from tau_engine.paths import WorkspacePaths
from tau_engine.store.sqlite.errors import forget_damage
from tau_engine.store.sqlite.sessions import SqliteSessionStore
from tests.support.damage import damage_table, session_with_messages


def _digest(paths: WorkspacePaths) -> str:
    state = hashlib.sha256()
    for suffix in ("", "-wal"):
        path = Path(f"{paths.db_path}{suffix}")
        state.update(path.read_bytes() if path.exists() else b"-")
    return state.hexdigest()


async def test_once_found_damaged_nothing_more_is_written(tmp_path: Path) -> None:
    paths = WorkspacePaths(tmp_path)
    session_id = await session_with_messages(tmp_path)
    damage_table(paths.db_path, "messages")
    store = SqliteSessionStore.open(paths)
    try:
        with pytest.raises(StoreDamagedError) as found:
            await store.history(session_id)
        message = str(found.value)
        assert message == (
            f"{paths.db_path} is damaged (database disk image is malformed); tau stopped "
            "writing to it. Back it up (copy tau.db and tau.db-wal), then run: tau sessions "
            "recover (see docs/sessions.md)"
        )
        before = _digest(paths)
        # These writes touch pages that are intact; they are refused all the same.
        with pytest.raises(StoreDamagedError):
            await store.create_session(model="m")
        with pytest.raises(StoreDamagedError):
            await store.set_title(session_id, "renamed")
        writer = store.event_writer(session_id)
        with pytest.raises(StoreDamagedError):
            writer.write(Notice(kind="info", message="an event"))
        assert _digest(paths) == before
        # A new connection in this process is refused too.
        with pytest.raises(StoreDamagedError):
            SqliteSessionStore.open(paths)
    finally:
        try:
            store.close()
        except StoreDamagedError:
            pass
        forget_damage(paths.db_path)
