"""The Engine facade over the real store, tools and offline/replay provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tau_engine.config import Settings
from tau_engine.engine import Engine
from tau_engine.errors import MissingKeyError, UnknownProviderError, UsageError
from tau_engine.events import BaseEvent
from tau_engine.paths import WorkspacePaths


def script(tmp_path: Path, turns: list[dict[str, object]]) -> Path:
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"version": 1, "turns": turns}))
    return path


async def open_engine(root: Path, script_path: Path | None = None, **settings: object) -> Engine:
    model = "offline/replay" if script_path else "offline/echo"
    return await Engine.open(
        workspace=WorkspacePaths(root),
        settings=Settings(model=model, **settings),  # type: ignore[arg-type]
        environ={},
        script_path=script_path,
    )


async def test_run_persists_session_and_events(workspace: Path) -> None:
    engine = await open_engine(workspace)
    events: list[BaseEvent] = []
    engine.bus.subscribe(events.append)
    try:
        result = await engine.run("hello engine")
        assert result.stop_reason == "end_turn" and "offline/echo" in result.result
        assert engine.session is not None and engine.session.title == "hello engine"
        stored = await engine.store.events(engine.session.id)
        assert [e.type for e in stored] == [e.type for e in events]
        assert [m.message.role for m in await engine.history()] == ["user", "assistant"]
    finally:
        await engine.close()


async def test_undo_redo_restore_files_and_fork(workspace: Path, tmp_path: Path) -> None:
    (workspace / "a.txt").write_text("original\n")
    path = script(
        tmp_path,
        [
            {
                "tool_calls": [
                    {"name": "write", "arguments": {"path": "a.txt", "content": "changed\n"}}
                ]
            },
            {"text": "changed it"},
            {"text": "second answer"},
        ],
    )
    engine = await open_engine(workspace, path)
    try:
        await engine.run("change a.txt")
        await engine.run("say more")
        assert (workspace / "a.txt").read_text() == "changed\n"
        report = await engine.sessions.undo()  # undoes "say more"
        assert report.messages == 2 and not report.restored
        report = await engine.sessions.undo()  # undoes the write: the file comes back
        assert report.restored == ["a.txt"]
        assert (workspace / "a.txt").read_text() == "original\n"
        assert await engine.history() == []
        report = await engine.sessions.redo()
        assert (workspace / "a.txt").read_text() == "changed\n"
        assert [m.message.role for m in await engine.history()][-1] == "assistant"
        original = engine.session
        assert original is not None
        forked = await engine.sessions.fork()
        assert forked.id != original.id and engine.session is not None
        assert engine.session.id == forked.id
        assert len(await engine.history()) == len(await engine.store.history(original.id))
    finally:
        await engine.close()


async def test_resume_and_new_session(workspace: Path) -> None:
    engine = await open_engine(workspace)
    try:
        await engine.run("first")
        assert engine.session is not None
        first_id = engine.session.id
        await engine.sessions.new()
        assert engine.session is None
        await engine.run("second")
        assert engine.session.id != first_id
        resumed = await engine.sessions.resume(first_id[:6])
        assert resumed.id == first_id
        assert len(await engine.sessions.list()) == 2
    finally:
        await engine.close()
    again = await Engine.open(
        workspace=WorkspacePaths(workspace), settings=Settings(), environ={}, continue_latest=True
    )
    try:
        assert again.session is not None and again.session.title == "second"
    finally:
        await again.close()


async def test_bad_models_and_modes_are_usage_errors(workspace: Path) -> None:
    with pytest.raises(UnknownProviderError):
        await Engine.open(
            workspace=WorkspacePaths(workspace), settings=Settings(model="nope/x"), environ={}
        )
    with pytest.raises(MissingKeyError, match="ANTHROPIC_API_KEY"):
        await Engine.open(
            workspace=WorkspacePaths(workspace),
            settings=Settings(model="anthropic/claude-sonnet-4-5"),
            environ={},
        )
    with pytest.raises(UsageError, match="approval mode"):
        await Engine.open(
            workspace=WorkspacePaths(workspace), settings=Settings(approval="yolo"), environ={}
        )
    engine = await open_engine(workspace)
    try:
        with pytest.raises(UsageError):
            engine.set_approval("sometimes")
        with pytest.raises(UsageError):
            engine.set_model("openai/gpt-4.1")  # no key
        engine.set_model("offline/echo")
        with pytest.raises(UsageError, match="empty"):
            await engine.run("   ")
        with pytest.raises(UsageError, match="nothing to undo"):
            await engine.sessions.undo()
    finally:
        await engine.close()


async def test_no_key_default_is_offline_with_a_notice(workspace: Path) -> None:
    engine = await Engine.open(workspace=WorkspacePaths(workspace), settings=Settings(), environ={})
    try:
        assert engine.model_id == "offline/echo"
        assert any("no model configured" in n.message for n in engine.startup_notices)
    finally:
        await engine.close()


async def test_undo_counts_only_shell_commands_that_ran(workspace: Path, tmp_path: Path) -> None:
    # touch asks in auto-edit (the balanced profile lets read-only commands such as `true` run).
    turns: list[dict[str, object]] = [
        {"tool_calls": [{"name": "bash", "arguments": {"command": "touch ran.txt"}}]},
        {"text": "done"},
    ]
    for approval, expected in (("auto-edit", 0), ("full-auto", 1)):
        engine = await open_engine(workspace, script(tmp_path, turns), approval=approval)
        try:
            await engine.run("run true")
            report = await engine.sessions.undo()
            assert report.shell_commands == expected, approval
            assert ("not undone" in report.note) == bool(expected)
        finally:
            await engine.close()


async def test_resume_keeps_the_sessions_model_unless_told_otherwise(
    workspace: Path, tmp_path: Path
) -> None:
    path = script(tmp_path, [{"text": "one"}])
    engine = await open_engine(workspace, path)
    try:
        await engine.run("first")
        assert engine.session is not None
        sid = engine.session.id
    finally:
        await engine.close()
    kept = await Engine.open(
        workspace=WorkspacePaths(workspace),
        settings=Settings(),
        environ={},
        resume=sid,
        script_path=path,
    )
    try:
        assert kept.model_id == "offline/replay"
        assert not any("no model configured" in n.message for n in kept.startup_notices)
    finally:
        await kept.close()
    told = await Engine.open(
        workspace=WorkspacePaths(workspace),
        settings=Settings(model="offline/echo"),
        environ={},
        resume=sid,
    )
    try:
        assert told.model_id == "offline/echo"
    finally:
        await told.close()
    from tau_engine.store import open_store

    store = open_store(WorkspacePaths(workspace)).open_sessions()
    try:
        keyed = await store.create_session(model="anthropic/claude-sonnet-4-5", title="keyed")
    finally:
        store.close()
    no_key = await Engine.open(
        workspace=WorkspacePaths(workspace), settings=Settings(), environ={}, resume=keyed.id
    )
    try:
        assert no_key.model_id == "offline/echo"
        assert any(
            f"session {keyed.id[:8]} uses anthropic/claude-sonnet-4-5, which cannot be used"
            in n.message
            and "ANTHROPIC_API_KEY" in n.message
            and "Continuing with offline/echo" in n.message
            for n in no_key.startup_notices
        )
    finally:
        await no_key.close()
    # Headless runs ask for the session's model or nothing: a quiet switch looks like success.
    with pytest.raises(UsageError, match=r"ANTHROPIC_API_KEY.*pass --model"):
        await Engine.open(
            workspace=WorkspacePaths(workspace),
            settings=Settings(),
            environ={},
            resume=keyed.id,
            require_session_model=True,
        )
