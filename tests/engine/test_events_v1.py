"""Logs written under event schema v1 still load: the rows in
``tests/fixtures/events_v1/session.jsonl`` were written by tau before v2 (two prompts in
one session: a mention, a retried call, read/edit/bash calls) and are read through
``events.EventReader`` by the store, by an import, and one at a time."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tau_engine.event_kinds import FallbackNote, NoticeKind, RetryNote
from tau_engine.events import (
    SCHEMA_VERSION,
    EventReader,
    Notice,
    RunFinished,
    RunStarted,
    SessionFinished,
    SessionStarted,
    ToolCallEvent,
    parse_event,
)
from tau_engine.paths import WorkspacePaths
from tau_engine.store import SessionStore, open_store

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "events_v1" / "session.jsonl"


def _v1_rows() -> list[dict[str, object]]:
    return [json.loads(line) for line in FIXTURE.read_text().splitlines()]


async def _store_with_v1_log(tmp_path: Path) -> tuple[SessionStore, str]:
    paths = WorkspacePaths(tmp_path)
    store = open_store(paths).open_sessions()
    info = await store.create_session(model="offline/replay")
    conn = sqlite3.connect(paths.db_path)
    with conn:
        conn.executemany(
            "INSERT INTO events (session_id, seq, type, ts, json) VALUES (?, ?, ?, ?, ?)",
            [(info.id, row["seq"], row["type"], row["ts"], row["json"]) for row in _v1_rows()],
        )
    conn.close()
    return store, info.id


def test_the_fixture_is_a_v1_log() -> None:
    rows = [json.loads(str(row["json"])) for row in _v1_rows()]
    assert {row["v"] for row in rows} == {1}
    assert [row["type"] for row in rows].count("session_started") == 2


async def test_the_store_reads_a_v1_log_as_runs(tmp_path: Path) -> None:
    store, session_id = await _store_with_v1_log(tmp_path)
    try:
        events = await store.events(session_id)
    finally:
        store.close()
    assert len(events) == len(_v1_rows())
    assert {event.v for event in events} == {SCHEMA_VERSION}
    assert not any(isinstance(e, SessionStarted | SessionFinished) for e in events)
    runs = [(type(e).__name__, e.run_id) for e in events if isinstance(e, RunStarted | RunFinished)]
    assert runs == [
        ("RunStarted", "v1-1"),
        ("RunFinished", "v1-1"),
        ("RunStarted", "v1-21"),
        ("RunFinished", "v1-21"),
    ]
    first_end = next(e for e in events if isinstance(e, RunFinished))
    assert first_end.result == "Fixed: `add` now adds." and first_end.turns == 3
    notices = [e for e in events if isinstance(e, Notice)]
    assert [n.kind for n in notices] == [NoticeKind.MENTION, NoticeKind.RETRY]
    assert notices[0].data is None
    assert notices[1].data == RetryNote(
        route="offline/replay", attempt=1, delay_s=0.0, error_kind="overloaded"
    )
    assert all(e.label == "" for e in events if isinstance(e, ToolCallEvent))


async def test_reading_from_the_middle_of_a_v1_run_keeps_its_id(tmp_path: Path) -> None:
    store, session_id = await _store_with_v1_log(tmp_path)
    try:
        tail = await store.events(session_id, after_seq=25)
        after_first = await store.events(session_id, after_seq=20)
    finally:
        store.close()
    assert [e.run_id for e in tail if isinstance(e, RunFinished)] == ["v1-21"]
    assert [e.run_id for e in after_first if isinstance(e, RunStarted | RunFinished)] == [
        "v1-21",
        "v1-21",
    ]


async def test_an_export_of_a_v1_log_imports_as_v2(tmp_path: Path) -> None:
    store, session_id = await _store_with_v1_log(tmp_path / "a")
    export = tmp_path / "session.jsonl"
    try:
        await store.export_jsonl(session_id, export)
    finally:
        store.close()
    exported = [json.loads(line) for line in export.read_text().splitlines()]
    assert {r["event"]["v"] for r in exported if r.get("kind") == "event"} == {1}
    other = open_store(WorkspacePaths(tmp_path / "b")).open_sessions()
    try:
        info = await other.import_jsonl(export)
        events = await other.events(info.id)
    finally:
        other.close()
    assert [e.run_id for e in events if isinstance(e, RunStarted | RunFinished)] == [
        "v1-1",
        "v1-1",
        "v1-21",
        "v1-21",
    ]
    assert {e.v for e in events} == {SCHEMA_VERSION}


def test_v1_notice_kinds_and_data_become_typed() -> None:
    # The shapes v1's router wrote (its ``fallback`` data), and a kind v2 does not know.
    reader = EventReader()
    fallback = reader.read(
        {
            "type": "notice",
            "v": 1,
            "seq": 4,
            "ts": 1.0,
            "session_id": "s",
            "kind": "fallback",
            "message": "a/x failed (overloaded); falling back to b/y",
            "data": {
                "from": "a/x",
                "to": "b/y",
                "reason": "overloaded",
                "kind": "overloaded",
                "message": "a/x failed (overloaded); falling back to b/y",
            },
        }
    )
    assert isinstance(fallback, Notice) and fallback.kind is NoticeKind.FALLBACK
    assert fallback.data == FallbackNote(
        from_route="a/x", to_route="b/y", reason="overloaded", error_kind="overloaded"
    )
    odd = reader.read(
        {"type": "notice", "v": 1, "kind": "weather", "message": "sunny", "data": {"x": 1}}
    )
    assert isinstance(odd, Notice)
    assert (odd.kind, odd.message, odd.data) == (NoticeKind.INFO, "weather: sunny", None)
    broken = reader.read(
        {"type": "notice", "v": 1, "kind": "retry", "message": "m", "data": {"attempt": "soon"}}
    )
    assert isinstance(broken, Notice) and broken.data is None


def test_a_v1_run_end_whose_start_was_not_read() -> None:
    end = EventReader().read({"type": "session_finished", "v": 1, "stop_reason": "end_turn"})
    assert isinstance(end, RunFinished) and end.run_id == "v1-unknown"


def test_v2_events_are_not_rewritten_by_the_reader() -> None:
    started = SessionStarted(model="offline/echo", workspace="/w", seq=1)
    assert parse_event(started.model_dump_json()) == started
    end = SessionFinished(reason="closed", runs=2)
    assert parse_event(json.loads(end.model_dump_json())) == end


@pytest.mark.parametrize(
    "bad",
    [
        '{"type": "nope", "v": 1}',
        "[1, 2]",
        "not json",
        '{"type": "notice", "v": 2, "kind": "weather", "message": ""}',
    ],
)
def test_what_is_no_event_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_event(bad)
