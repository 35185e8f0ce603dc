"""JSONL export and import: lossless round trips and clear refusals of bad files, for
every store backend (``store_url``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tau_engine.conversation import Message, ToolCall, Usage
from tau_engine.errors import UsageError
from tau_engine.event_kinds import NoticeKind, RetryNote
from tau_engine.events import EventBus, Notice, TextDelta, ToolResultEvent, TurnStarted
from tau_engine.paths import WorkspacePaths
from tau_engine.store import SessionStore, open_store


async def build_session(store: SessionStore) -> str:
    """A session with two branches, usage, meta, provider extras and events."""
    info = await store.create_session(model="openai/gpt", meta={"tags": ["x"]})
    q = await store.append(info.id, Message(role="user", content="héllo ✓"))
    await store.append(
        info.id,
        Message(
            role="assistant",
            content="",
            extra={"thoughtSignature": "sig=="},
            tool_calls=[ToolCall(id="t1", name="bash", arguments={"command": "ls"})],
        ),
        usage=Usage(input_tokens=12, output_tokens=5, cached_input_tokens=2),
        cost_usd=0.003,
        model="openai/gpt",
    )
    await store.append(
        info.id, Message(role="tool", content="a\nb", tool_call_id="t1", name="bash")
    )
    await store.append(
        info.id, Message(role="assistant", content="first answer", meta={"incomplete": True})
    )
    # A second line of work from the prompt: the first stays a branch tip.
    await store.append(
        info.id,
        Message(role="assistant", content="second answer"),
        parent_id=q.id,
        usage=Usage(output_tokens=9),
    )
    bus = EventBus(info.id)
    with store.event_writer(info.id) as writer:
        bus.subscribe(writer.write)
        bus.emit(TurnStarted(turn=1))
        bus.emit(TextDelta(text="first "))
        bus.emit(
            ToolResultEvent(
                call_id="t1",
                name="bash",
                ok=True,
                output="a\nb",
                paths=["x.py"],
                diff="--- a\n+++ b\n",
            )
        )
        bus.emit(
            Notice(
                kind=NoticeKind.RETRY,
                message="again",
                data=RetryNote(route="a/x", attempt=1, delay_s=0.5, error_kind="server"),
            )
        )
    return info.id


async def snapshot(store: SessionStore, session_id: str) -> dict[str, object]:
    tips = await store.branches(session_id)
    return {
        "session": await store.get_session(session_id),
        "history": await store.history(session_id),
        "branches": [await store.history(session_id, tip.id) for tip in tips],
        "events": await store.events(session_id),
    }


async def test_export_import_round_trip_is_exact(
    tmp_path: Path, store_url: str, other_store_url: Callable[[], str]
) -> None:
    source = open_store(WorkspacePaths(tmp_path / "a"), store_url).open_sessions()
    target = open_store(WorkspacePaths(tmp_path / "b"), other_store_url()).open_sessions()
    try:
        session_id = await build_session(source)
        first = tmp_path / "one.jsonl"
        lines = await source.export_jsonl(session_id, first)
        assert lines == 1 + 5 + 4
        header = json.loads(first.read_text(encoding="utf-8").splitlines()[0])
        assert header["format"] == "tau-session" and header["version"] == 1

        imported = await target.import_jsonl(first)
        assert imported.id == session_id
        assert await snapshot(target, session_id) == await snapshot(source, session_id)
        assert len(await target.branches(session_id)) == 2

        second = tmp_path / "two.jsonl"
        await target.export_jsonl(session_id, second)
        assert second.read_bytes() == first.read_bytes()
    finally:
        source.close()
        target.close()


async def test_import_refuses_an_existing_id(tmp_path: Path, store_url: str) -> None:
    store = open_store(WorkspacePaths(tmp_path), store_url).open_sessions()
    try:
        session_id = await build_session(store)
        dump = tmp_path / "s.jsonl"
        await store.export_jsonl(session_id, dump)
        with pytest.raises(UsageError, match="already exists"):
            await store.import_jsonl(dump)
        await store.delete_session(session_id)
        assert (await store.import_jsonl(dump)).id == session_id
    finally:
        store.close()


def _edit_line(lines: list[str], index: int, change: dict[str, object]) -> None:
    record = json.loads(lines[index])
    record.update(change)
    lines[index] = json.dumps(record)


def _bad_json(lines: list[str]) -> None:
    lines[2] = lines[2][:20]


def _bad_header(lines: list[str]) -> None:
    _edit_line(lines, 0, {"format": "something-else"})


def _future_version(lines: list[str]) -> None:
    _edit_line(lines, 0, {"version": 99})


def _unknown_kind(lines: list[str]) -> None:
    _edit_line(lines, 3, {"kind": "mystery"})


def _orphan_parent(lines: list[str]) -> None:
    _edit_line(lines, 3, {"parent_id": "9" * 32})


def _bad_role(lines: list[str]) -> None:
    record = json.loads(lines[3])
    record["message"]["role"] = "robot"
    lines[3] = json.dumps(record)


def _duplicate_seq(lines: list[str]) -> None:
    lines.append(lines[-1])


def _bad_event(lines: list[str]) -> None:
    _edit_line(lines, len(lines) - 1, {"event": {"type": "no_such_event"}})


@pytest.mark.parametrize(
    ("damage", "line", "words"),
    [
        (_bad_json, 3, "not valid JSON"),
        (_bad_header, 1, "not a tau session export"),
        (_future_version, 1, "not supported"),
        (_unknown_kind, 4, "unknown record kind"),
        (_orphan_parent, 4, "not an earlier message"),
        (_bad_role, 4, "message.role"),
        (_duplicate_seq, 11, "appears twice"),
        (_bad_event, 10, "type"),
    ],
)
async def test_malformed_import_names_the_line_and_writes_nothing(
    tmp_path: Path,
    store_url: str,
    other_store_url: Callable[[], str],
    damage: object,
    line: int,
    words: str,
) -> None:
    source = open_store(WorkspacePaths(tmp_path / "a"), store_url).open_sessions()
    target = open_store(WorkspacePaths(tmp_path / "b"), other_store_url()).open_sessions()
    try:
        session_id = await build_session(source)
        dump = tmp_path / "s.jsonl"
        await source.export_jsonl(session_id, dump)
        lines = dump.read_text(encoding="utf-8").splitlines()
        damage(lines)  # type: ignore[operator]
        dump.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with pytest.raises(UsageError) as caught:
            await target.import_jsonl(dump)
        assert f"s.jsonl:{line}:" in str(caught.value)
        assert words in str(caught.value)
        assert await target.list_sessions() == []
    finally:
        source.close()
        target.close()


async def test_import_of_missing_or_empty_file(tmp_path: Path, store_url: str) -> None:
    store = open_store(WorkspacePaths(tmp_path), store_url).open_sessions()
    try:
        with pytest.raises(UsageError, match="cannot read"):
            await store.import_jsonl(tmp_path / "absent.jsonl")
        (tmp_path / "empty.jsonl").write_text("\n")
        with pytest.raises(UsageError, match="empty file"):
            await store.import_jsonl(tmp_path / "empty.jsonl")
        (tmp_path / "binary.jsonl").write_bytes(b"\xff\xfe\x00garbage\n")
        with pytest.raises(UsageError, match=r"binary\.jsonl:1: not UTF-8"):
            await store.import_jsonl(tmp_path / "binary.jsonl")
    finally:
        store.close()
