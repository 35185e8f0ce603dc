"""Schema v2 from a real engine: runs between ``run_started`` and ``run_finished``,
sessions between ``session_started`` and ``session_finished``, the prompt as a
``user_message``, the tool label on ``tool_call``, and the notices of opening as events."""

from __future__ import annotations

import json
from pathlib import Path

from tau_engine.config import Settings
from tau_engine.engine import Engine
from tau_engine.event_kinds import NoticeKind
from tau_engine.events import (
    Event,
    Notice,
    RunFinished,
    RunStarted,
    SessionFinished,
    SessionStarted,
    ToolCallEvent,
    UserMessage,
)
from tau_engine.paths import WorkspacePaths
from tau_engine.store import open_store


async def _open(root: Path, script: Path | None = None) -> Engine:
    return await Engine.open(
        workspace=WorkspacePaths(root),
        environ={},
        script_path=script,
        settings=Settings(model="offline/replay" if script else "offline/echo"),
    )


def _brackets(events: list[Event]) -> list[tuple[str, str]]:
    """The session and run events, with the run's id or the session's reason."""
    out: list[tuple[str, str]] = []
    for event in events:
        match event:
            case SessionStarted(resumed=resumed):
                out.append(("session_started", "resumed" if resumed else "new"))
            case RunStarted(run_id=run_id) | RunFinished(run_id=run_id):
                out.append((event.type, run_id))
            case SessionFinished(reason=reason):
                out.append(("session_finished", reason))
            case _:
                pass
    return out


async def test_two_prompts_are_two_runs_in_one_session(workspace: Path) -> None:
    engine = await _open(workspace)
    events: list[Event] = []
    engine.subscribe(events.append)
    try:
        first = await engine.run("one")
        second = await engine.run("two")
        assert engine.session is not None
        session_id = engine.session.id
    finally:
        await engine.close()
    assert first.run_id != second.run_id
    assert _brackets(events) == [
        ("session_started", "new"),
        ("run_started", first.run_id),
        ("run_finished", first.run_id),
        ("run_started", second.run_id),
        ("run_finished", second.run_id),
        ("session_finished", "closed"),
    ]
    end = events[-1]
    assert isinstance(end, SessionFinished) and end.runs == 2
    assert end.usage.output_tokens > 0
    store = open_store(WorkspacePaths(workspace)).open_sessions()
    try:
        stored = await store.events(session_id)
    finally:
        store.close()
    # Persisted in the same order, session_finished included.
    assert _brackets(list(stored)) == _brackets(events)  # type: ignore[arg-type]
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))


async def test_switching_sessions_finishes_the_first(workspace: Path) -> None:
    engine = await _open(workspace)
    events: list[Event] = []
    engine.subscribe(events.append)
    try:
        await engine.run("one")
        assert engine.session is not None
        first = engine.session.id
        await engine.sessions.new()
        await engine.sessions.new()  # nothing ran: no second session_finished
        await engine.run("two")
        await engine.sessions.resume(first)
        await engine.run("three")
    finally:
        await engine.close()
    kinds = [(kind, detail) for kind, detail in _brackets(events) if kind.startswith("session")]
    assert kinds == [
        ("session_started", "new"),
        ("session_finished", "switched"),
        ("session_started", "new"),
        ("session_finished", "switched"),
        ("session_started", "resumed"),
        ("session_finished", "closed"),
    ]
    ends = [e for e in events if isinstance(e, SessionFinished)]
    assert ends[0].session_id == first and ends[-1].session_id == first
    assert [e.runs for e in ends] == [1, 1, 1]


async def test_the_prompt_is_a_user_message_with_its_mentions(workspace: Path) -> None:
    (workspace / "notes.txt").write_text("remember the milk\n")
    engine = await _open(workspace)
    events: list[Event] = []
    engine.subscribe(events.append)
    try:
        result = await engine.run("read @notes.txt and @missing.txt")
    finally:
        await engine.close()
    sent = [e for e in events if isinstance(e, UserMessage)]
    assert len(sent) == 1
    prompt = sent[0]
    assert prompt.run_id == result.run_id and prompt.message_id
    assert prompt.typed == "read @notes.txt and @missing.txt"
    assert "remember the milk" in prompt.text and prompt.attachments == ["notes.txt"]
    assert len(prompt.mention_notes) == 1 and "missing.txt" in prompt.mention_notes[0]
    mention = [e for e in events if isinstance(e, Notice) and e.kind is NoticeKind.MENTION]
    assert [n.message for n in mention] == prompt.mention_notes
    # The user message follows run_started and precedes the first turn.
    types = [e.type for e in events]
    assert types.index("run_started") < types.index("user_message") < types.index("turn_started")


async def test_tool_calls_carry_their_label(workspace: Path, tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            [
                {
                    "tool_calls": [
                        {"name": "read", "arguments": {"path": "a.txt"}},
                        {"name": "search", "arguments": {"pattern": "milk  \n here"}},
                    ]
                },
                {"text": "done"},
            ]
        )
    )
    (workspace / "a.txt").write_text("a\n")
    engine = await _open(workspace, script)
    events: list[Event] = []
    engine.subscribe(events.append)
    try:
        await engine.run("look")
    finally:
        await engine.close()
    labels = [e.label for e in events if isinstance(e, ToolCallEvent)]
    assert labels == ["path=a.txt", "pattern=milk here"]


async def test_the_notices_of_opening_reach_each_subscriber_first(workspace: Path) -> None:
    # No model and no key: the engine opens on offline/echo and says so.
    engine = await Engine.open(workspace=WorkspacePaths(workspace), settings=Settings(), environ={})
    try:
        assert [n.kind for n in engine.startup_notices] == [NoticeKind.MODEL]
        notice = engine.startup_notices[0]
        assert (notice.seq, notice.session_id) == (0, "")  # in no session's log
        seen: list[Event] = []
        engine.subscribe(seen.append)
        assert seen == [notice]
        await engine.run("hi")
        assert seen[1].type == "session_started"
        later: list[Event] = []
        engine.subscribe(later.append)
        assert later == [notice]
    finally:
        await engine.close()
