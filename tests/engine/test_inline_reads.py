"""Small reads skip the worker-thread hop (it costs more than the read on a loaded
machine), and fall back to it whenever the inline connection would have to wait."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from tau_engine.conversation import Message
from tau_engine.paths import WorkspacePaths
from tau_engine.store.sqlite.sessions import SqliteSessionStore


async def _store_with_messages(root: Path, count: int) -> tuple[SqliteSessionStore, str]:
    store = SqliteSessionStore.open(WorkspacePaths(root))
    info = await store.create_session(model="m")
    await store.append_many(info.id, [Message(role="user", content=f"m{i}") for i in range(count)])
    return store, info.id


async def test_recent_and_session_reads_run_on_the_calling_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, session_id = await _store_with_messages(tmp_path, 1000)
    hops: list[str] = []
    real = asyncio.to_thread

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__name__", "?"))
        return await real(func, *args, **kwargs)

    # session_store calls asyncio.to_thread through the module, so patching it counts every hop.
    monkeypatch.setattr(asyncio, "to_thread", counting)
    try:
        recent = await store.recent(session_id, 200)
        info = await store.get_session(session_id[:8])
        seq = await store.last_seq(session_id)
        assert hops == []
        assert [m.message.content for m in recent] == [f"m{i}" for i in range(800, 1000)]
        assert info.id == session_id and seq == 0
        # A long read still goes to a worker thread.
        await store.history(session_id)
        assert hops == ["_read"]
    finally:
        store.close()


async def test_an_inline_read_that_would_wait_takes_the_thread(tmp_path: Path) -> None:
    store, session_id = await _store_with_messages(tmp_path, 10)
    try:
        inline = store._inline  # another thread is using the inline connection
        holding = threading.Event()
        release = threading.Event()

        def hold() -> None:
            with inline._lock:
                holding.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        holding.wait(10)
        try:
            recent = await asyncio.wait_for(store.recent(session_id, 5), 10)
        finally:
            release.set()
            holder.join()
        assert [m.message.content for m in recent] == ["m5", "m6", "m7", "m8", "m9"]
    finally:
        store.close()
