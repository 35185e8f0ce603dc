"""Damaging a tau database on purpose, as a failing disk or a bad copy would."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

GARBAGE = b"\x0d\xff\xff\xff\xff" * 40


def damage_table(db_path: Path, table: str, *, first: bool = False) -> None:
    """Overwrite the b-tree header of ``table``'s last (or ``first``) leaf page with garbage.

    The WAL is checkpointed first, so the damage is in the file SQLite reads. Every
    connection to the database must be closed.
    """
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            row[0]
            for row in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
                (table,),
            )
        ]
    finally:
        conn.close()
    assert pages, f"{table} has no leaf page to damage"
    with open(db_path, "r+b") as handle:
        handle.seek(((pages[0] if first else pages[-1]) - 1) * page_size)
        handle.write(GARBAGE)


async def session_with_messages(root: Path, count: int = 60) -> str:
    """A session of ``count`` messages of ~1 KB (several pages of them); returns its id."""
    from tau_engine.conversation import Message
    from tau_engine.paths import WorkspacePaths
    from tau_engine.store.sqlite.sessions import SqliteSessionStore

    store = await asyncio.to_thread(SqliteSessionStore.open, WorkspacePaths(root))
    try:
        info = await store.create_session(model="offline/echo")
        await store.append_many(
            info.id,
            [
                Message(
                    role="user" if i % 2 == 0 else "assistant", content=f"message {i} " + "x" * 1000
                )
                for i in range(count)
            ],
        )
        return info.id
    finally:
        store.close()
