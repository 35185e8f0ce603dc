"""The event log: batching policy, ordering and sequence numbers, for every store backend
(``store`` and ``store_backend``); the clock-driven flush is tested on SQLite's
``EventWriter`` itself."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tau_engine.conversation import Usage
from tau_engine.errors import StoreError
from tau_engine.events import (
    EventBus,
    TextDelta,
    ThinkingDelta,
    ToolCallEvent,
    TurnFinished,
    TurnStarted,
    UsageEvent,
)
from tau_engine.paths import WorkspacePaths
from tau_engine.store import SessionStore, StoreBackend
from tau_engine.store.api import DELTA_FLUSH_INTERVAL_S
from tau_engine.store.sqlite.event_writer import EventWriter
from tau_engine.store.sqlite.sessions import SqliteSessionStore


class ManualClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(store_backend: StoreBackend) -> AsyncIterator[SessionStore]:
    opened = store_backend.open_sessions()
    yield opened
    opened.close()


async def test_non_delta_events_are_written_at_once(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    bus = EventBus(info.id)
    writer = store.event_writer(info.id)
    bus.subscribe(writer.write)
    bus.emit(TurnStarted(turn=1))
    bus.emit(TextDelta(text="partial"))
    assert writer.pending == 1
    bus.emit(ToolCallEvent(call_id="c1", name="read", arguments={"path": "a"}))
    assert writer.pending == 0
    logged = await store.events(info.id)
    assert [e.type for e in logged] == ["turn_started", "text_delta", "tool_call"]
    assert [e.seq for e in logged] == [1, 2, 3]
    assert logged[2] == ToolCallEvent(
        call_id="c1",
        name="read",
        arguments={"path": "a"},
        seq=3,
        ts=logged[2].ts,
        session_id=info.id,
    )
    writer.close()


def logged_count(db_path: Path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def test_deltas_flush_after_the_interval(tmp_path: Path) -> None:
    # Synchronous on purpose: with no running loop, only the clock decides.
    store = SqliteSessionStore.open(WorkspacePaths(tmp_path))
    info = asyncio.run(store.create_session(model="m"))
    clock = ManualClock()
    writer = EventWriter(store.paths.db_path, info.id, clock=clock)
    for i in range(10):
        clock.now = i * 0.01
        writer.write(TextDelta(text=str(i)))
    assert writer.pending == 10 and logged_count(store.paths.db_path) == 0
    clock.now = EventWriter.FLUSH_INTERVAL_S
    writer.write(ThinkingDelta(text="at 100 ms"))
    assert writer.pending == 0 and logged_count(store.paths.db_path) == 11
    writer.write(TextDelta(text="tail"))
    writer.close()
    store.close()
    assert logged_count(store.paths.db_path) == 12


async def test_stalled_deltas_reach_the_log_without_another_write(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    writer = store.event_writer(info.id)
    writer.write(TextDelta(text="a lone delta"))
    assert writer.pending == 1
    # The writer's timer (armed for the flush interval) fires before this sleep ends.
    await asyncio.sleep(DELTA_FLUSH_INTERVAL_S * 2.5)
    assert writer.pending == 0
    assert [e.type for e in await store.events(info.id)] == ["text_delta"]
    writer.close()


async def test_many_deltas_round_trip_in_order(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    bus = EventBus(info.id)
    with store.event_writer(info.id) as writer:
        bus.subscribe(writer.write)
        bus.emit(TurnStarted(turn=1))
        for i in range(3_000):
            bus.emit(TextDelta(text=f"w{i} "))
        bus.emit(UsageEvent(usage=Usage(input_tokens=3), total_usage=Usage(input_tokens=3)))
        bus.emit(TurnFinished(turn=1, stop_reason="end_turn"))
    logged = await store.events(info.id)
    assert len(logged) == 3_003
    assert [e.seq for e in logged] == list(range(1, 3_004))
    text = "".join(e.text for e in logged if isinstance(e, TextDelta))
    assert text == "".join(f"w{i} " for i in range(3_000))
    assert isinstance(logged[-2], UsageEvent) and logged[-2].usage.input_tokens == 3
    assert await store.last_seq(info.id) == 3_003
    page = await store.events(info.id, after_seq=3_000, limit=2)
    assert [e.seq for e in page] == [3_001, 3_002]


async def test_unstamped_events_continue_the_sequence(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    with store.event_writer(info.id) as writer:
        writer.write(TurnStarted(turn=1))
        writer.write(TurnFinished(turn=1, stop_reason="end_turn"))
    with store.event_writer(info.id) as writer:
        event = TurnStarted(turn=2)
        writer.write(event)
        assert event.seq == 3 and event.session_id == info.id and event.ts > 0
    assert await store.last_seq(info.id) == 3


async def test_duplicate_seq_is_reported_and_writer_recovers(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    writer = store.event_writer(info.id)
    writer.write(TurnStarted(turn=1, seq=1, ts=1.0, session_id=info.id))
    with pytest.raises(StoreError, match="not logged"):
        writer.write(TurnStarted(turn=1, seq=1, ts=1.0, session_id=info.id))
    writer.write(TurnStarted(turn=2, seq=2, ts=2.0, session_id=info.id))
    writer.close()
    assert [e.seq for e in await store.events(info.id)] == [1, 2]


async def test_event_of_another_session_is_refused(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    with store.event_writer(info.id) as writer, pytest.raises(StoreError, match="written to"):
        writer.write(TurnStarted(turn=1, seq=1, session_id="f" * 32))


async def test_store_close_flushes_open_writers(store_backend: StoreBackend) -> None:
    store = store_backend.open_sessions()
    info = await store.create_session(model="m")
    writer = store.event_writer(info.id)
    writer.write(TextDelta(text="buffered"))
    store.close()
    with pytest.raises(StoreError, match="closed"):
        writer.write(TextDelta(text="late"))
    reopened = store_backend.open_sessions()
    try:
        assert [e.type for e in await reopened.events(info.id)] == ["text_delta"]
    finally:
        reopened.close()
