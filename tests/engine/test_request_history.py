"""Loading a session for a request reads from its last compaction on, and builds the very
same request view as the whole history would."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tau_engine.agent.compaction import compaction_message, plan_compaction, request_view
from tau_engine.config import Settings
from tau_engine.conversation import Message, ToolCall
from tau_engine.engine import Engine
from tau_engine.errors import StoreDamagedError
from tau_engine.paths import WorkspacePaths
from tau_engine.store import SessionStore, StoreBackend, open_store
from tau_engine.store.sqlite.errors import forget_damage
from tau_engine.store.sqlite.sessions import SqliteSessionStore
from tests.support.damage import damage_table


async def _random_session(store: SessionStore, rng: random.Random) -> str:
    info = await store.create_session(model="m")
    users: list[str] = []
    for step in range(rng.randrange(5, 60)):
        roll = rng.random()
        if roll < 0.06 and users:
            # A compaction that keeps the turns from an earlier user message on.
            keep_from: str | None = rng.choice([*users[-4:], None])
            await store.append(
                info.id,
                compaction_message(f"summary {step}", keep_from=keep_from, before_tokens=100),
            )
        elif roll < 0.1:
            head = (await store.get_session(info.id)).head_id
            history = await store.history(info.id)
            if head and len(history) > 2:
                # An undo: the head moves back, later messages become a branch.
                await store.set_head(info.id, rng.choice(history[:-1]).id)
                users = [m.id for m in await store.history(info.id) if m.message.role == "user"]
        elif roll < 0.45:
            meta: dict[str, object] = {"pinned": True} if rng.random() < 0.1 else {}
            if rng.random() < 0.05:
                meta = {"pinned": rng.choice([0, "", [], {}, None, 1, "yes"])}
            stored = await store.append(
                info.id, Message(role="user", content=f"q{step}", meta=meta)
            )
            users.append(stored.id)
        elif roll < 0.75:
            calls = (
                [ToolCall(id=f"c{step}", name="read", arguments={"path": "a"})]
                if rng.random() < 0.4
                else []
            )
            await store.append(
                info.id, Message(role="assistant", content=f"a{step}", tool_calls=calls)
            )
            if calls and rng.random() < 0.8:
                await store.append(
                    info.id,
                    Message(role="tool", tool_call_id=f"c{step}", name="read", content="ok"),
                )
        else:
            await store.append(info.id, Message(role="assistant", content=f"note {step}"))
    return info.id


async def test_request_history_gives_the_same_view_as_the_whole_history(
    store_backend: StoreBackend,
) -> None:
    store = store_backend.open_sessions()
    rng = random.Random(20261201)
    compacted = 0
    try:
        for _ in range(40):
            session_id = await _random_session(store, rng)
            whole = await store.history(session_id)
            partial = await store.request_history(session_id)
            assert request_view(partial) == request_view(whole)
            for keep in (1, 2, 3):
                assert plan_compaction(partial, keep) == plan_compaction(whole, keep)
            assert len(partial) <= len(whole)
            compacted += len(partial) < len(whole)
    finally:
        store.close()
    assert compacted >= 10  # compactions left older messages unread, in many sessions


async def test_only_what_follows_the_last_compaction_is_read(store_backend: StoreBackend) -> None:
    store = store_backend.open_sessions()
    try:
        info = await store.create_session(model="m")
        pinned = await store.append(
            info.id, Message(role="user", content="the task", meta={"pinned": True})
        )
        await store.append_many(
            info.id,
            [
                Message(role="user" if i % 2 == 0 else "assistant", content=f"old {i}")
                for i in range(2000)
            ],
        )
        kept = await store.append(info.id, Message(role="user", content="kept turn"))
        await store.append(info.id, Message(role="assistant", content="kept answer"))
        await store.append(
            info.id, compaction_message("summary", keep_from=kept.id, before_tokens=9000)
        )
        await store.append(info.id, Message(role="user", content="after"))
        loaded = await store.request_history(info.id)
    finally:
        store.close()
    assert [m.message.content for m in loaded] == [
        pinned.message.content,
        "kept turn",
        "kept answer",
        loaded[3].message.content,
        "after",
    ]
    assert loaded[3].message.meta["compaction"] is True


async def test_a_run_continues_without_reading_the_summarized_history(tmp_path: Path) -> None:
    # The oldest messages sit in a damaged page: only a load that reads them fails.
    paths = WorkspacePaths(tmp_path)
    store = SqliteSessionStore.open(paths)
    try:
        info = await store.create_session(model="offline/echo")
        await store.append_many(
            info.id,
            [
                Message(role="user" if i % 2 == 0 else "assistant", content=f"old {i} " + "x" * 500)
                for i in range(400)
            ],
        )
        kept = await store.append(info.id, Message(role="user", content="kept turn"))
        await store.append(
            info.id, compaction_message("summary", keep_from=kept.id, before_tokens=9000)
        )
    finally:
        store.close()
    damage_table(paths.db_path, "messages", first=True)
    engine = await Engine.open(
        workspace=paths, settings=Settings(model="offline/echo"), environ={}, continue_latest=True
    )
    try:
        result = await engine.run("and now?")
        with pytest.raises(StoreDamagedError):
            await engine.history()  # the whole path does reach the damaged page
    finally:
        await engine.close()
        forget_damage(paths.db_path)
    assert result.stop_reason == "end_turn", result.error
    # The summary riding on the kept turn, then the new prompt.
    assert "received 2 message(s)" in result.result


async def test_an_older_store_learns_which_totals_were_estimated(tmp_path: Path) -> None:
    import sqlite3

    from tau_engine.conversation import Usage
    from tau_engine.store.sqlite.schema import connect, migrate

    paths = WorkspacePaths(tmp_path)
    paths.ensure()
    conn = connect(paths.db_path)
    migrate(conn, paths.db_path, target=2)  # the schema before totals knew "estimated"
    for sid, estimated in (("a" * 32, True), ("b" * 32, False)):
        conn.execute(
            "INSERT INTO sessions (id, created_at, updated_at, head_id) VALUES (?, 0, 0, ?)",
            (sid, sid),
        )
        conn.execute(
            "INSERT INTO messages (id, session_id, created_at, role, body, usage) "
            "VALUES (?, ?, 0, 'assistant', ?, ?)",
            (
                sid,
                sid,
                Message(role="assistant", content="hi").model_dump_json(),
                Usage(input_tokens=5, estimated=estimated).model_dump_json(),
            ),
        )
    conn.close()
    store = SqliteSessionStore.open(paths)  # migrates
    try:
        assert (await store.get_session("a" * 32)).usage.estimated is True
        assert (await store.get_session("b" * 32)).usage.estimated is False
    finally:
        store.close()
    with sqlite3.connect(paths.db_path) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "messages_pinned" in names


async def test_outside_content_before_the_compaction_still_taints_memory_writes(
    tmp_path: Path,
) -> None:
    paths = WorkspacePaths(tmp_path)
    store = open_store(paths).open_sessions()
    try:
        tainted = await store.create_session(model="offline/echo")
        clean = await store.create_session(model="offline/echo")
        for info, tool in ((tainted, "http"), (clean, "read")):
            await store.append_many(
                info.id,
                [
                    Message(role="user", content="look it up"),
                    Message(role="assistant", tool_calls=[ToolCall(id="c1", name=tool)]),
                    Message(role="tool", tool_call_id="c1", name=tool, content="<html>page"),
                    Message(role="assistant", content="done"),
                ],
            )
            kept = await store.append(info.id, Message(role="user", content="next"))
            await store.append(
                info.id, compaction_message("summary", keep_from=kept.id, before_tokens=100)
            )
    finally:
        store.close()
    reasons = {}
    for info in (tainted, clean):
        engine = await Engine.open(
            workspace=paths, settings=Settings(model="offline/echo"), environ={}, resume=info.id
        )
        try:
            assert engine.memory is not None
            await engine.run("remember something")
            assert engine.memory.provenance is not None
            reasons[info.id] = engine.memory.provenance.untrusted_reason
        finally:
            await engine.close()
    assert reasons == {tainted.id: "this session read a web page fetched with http", clean.id: None}
