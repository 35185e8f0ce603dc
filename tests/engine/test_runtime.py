"""The composition root (``runtime.py``) and the parts split out of ``Engine``: the model
selector, the compaction policy, session control and the read-only state view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tau_engine.agent.compaction_policy import CompactionPolicy
from tau_engine.config import Settings
from tau_engine.engine import Engine
from tau_engine.errors import SessionLockedError, UsageError
from tau_engine.events import EventBus
from tau_engine.model_selector import OFFLINE_FALLBACK_NOTICE, ModelSelector
from tau_engine.paths import WorkspacePaths
from tau_engine.protocol.approval import ApprovalMode
from tau_engine.protocol.state import EngineState
from tau_engine.runtime import AgentRuntime, Budget, LoopSpec
from tau_engine.safety.redact import SecretRedactor
from tau_engine.safety.redaction import RedactionFilter
from tau_engine.session_control import SessionControl


def _script(tmp_path: Path, turns: list[dict[str, object]]) -> Path:
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"version": 1, "turns": turns}))
    return path


async def test_a_loop_in_another_folder_stores_in_the_workspace(
    workspace: Path, tmp_path: Path
) -> None:
    """What a mission does: the tools act in a worktree, the session is stored in the
    repository's store, no file checkpoints, its own budget, a key never reaches a file."""
    worktree = tmp_path / "worktree"
    worktree.mkdir()
    (worktree / "AGENTS.md").write_text("Keep it short.\n")
    script = _script(
        tmp_path,
        [
            {
                "tool_calls": [
                    {"name": "write", "arguments": {"path": "out.txt", "content": "made\n"}}
                ]
            },
            {"text": "done"},
        ],
    )
    runtime = await AgentRuntime.open(
        WorkspacePaths(workspace),
        Settings(model="offline/replay", max_cost=9.0),
        environ={"OPENAI_API_KEY": "sk-test-abcdefghijklmnop"},
        script_path=script,
    )
    try:
        runtime.models.select(None)
        session = await runtime.store.create_session(model=runtime.model.model_id)
        bus = EventBus(session.id, 0)
        # The worktree's own checks and filters, with the workspace's profile and keys.
        safety = runtime.worktree_safety(worktree, ApprovalMode.AUTO_EDIT)
        built = await runtime.build_loop(
            LoopSpec(
                session_id=session.id,
                bus=bus,
                workspace=worktree,
                safety=safety,
                budget=Budget(max_cost=0.5),
                checkpoints=False,
            )
        )
        assert built.loop.config.max_cost == 0.5 and built.loop.compactor is None
        assert "Keep it short." in built.loop.system_prompt
        # The runtime's redactor knows the user's keys (the caller redacts its prompt).
        prompt = runtime.redactor.redact("write out.txt; key sk-test-abcdefghijklmnop")
        result = await built.loop.run(prompt)
        assert result.stop_reason == "end_turn"
        assert (worktree / "out.txt").read_text() == "made\n"
        assert not (workspace / "out.txt").exists()
        history = await runtime.store.history(session.id)
        assert [m.message.role for m in history] == ["user", "assistant", "tool", "assistant"]
        assert "sk-test-abcdefghijklmnop" not in history[0].message.content
        assert not list((workspace / ".tau" / "checkpoints").rglob("*.*"))
    finally:
        await runtime.aclose()


async def test_the_default_budget_and_compaction_come_from_settings(workspace: Path) -> None:
    runtime = await AgentRuntime.open(
        WorkspacePaths(workspace), Settings(model="offline/echo", max_tokens=1234), environ={}
    )
    try:
        runtime.models.select(None)
        bus = EventBus("s", 0)
        built = await runtime.build_loop(LoopSpec(session_id="s", bus=bus, compaction=True))
        assert built.loop.config.max_tokens == 1234
        assert isinstance(built.loop.compactor, CompactionPolicy)
    finally:
        await runtime.aclose()


async def test_the_selector_warns_keeps_the_old_model_on_failure_and_closes_all(
    tmp_path: Path,
) -> None:
    closed: list[str] = []
    selector = ModelSelector(Settings(), {}, tmp_path, RedactionFilter(SecretRedactor()))
    first = selector.select(None)
    assert first.model_id == "offline/echo" and first.warnings == [OFFLINE_FALLBACK_NOTICE]
    assert selector.select(None, announce_offline=False).warnings == []
    assert selector.select("offline/echo").warnings == []  # asked for: no fallback notice
    current = selector.current
    with pytest.raises(UsageError):
        selector.select("nope/nothing")
    assert selector.current is current
    for provider in [*selector._retired, current.provider]:  # type: ignore[union-attr]
        original = provider.aclose

        async def aclose(original=original, name=str(id(provider))) -> None:  # type: ignore[no-untyped-def]
            closed.append(name)
            await original()

        provider.aclose = aclose  # type: ignore[method-assign]
    await selector.aclose()
    assert len(closed) == 3 and selector.current is None


def test_compaction_is_due_near_the_window(tmp_path: Path) -> None:
    policy = CompactionPolicy(
        store=None,  # type: ignore[arg-type]
        session_id="s",
        bus=EventBus(),
        stream=None,  # type: ignore[arg-type]
        model_id="offline/echo",
        info=None,
        context_window=1000,
        settings=Settings(compaction_threshold=0.8),
        system_prompt="",
    )
    assert not policy.due(799) and policy.due(800)
    policy.context_window = None
    assert not policy.due(10**9)


async def test_session_control_acts_on_a_named_session_without_switching(
    workspace: Path, tmp_path: Path
) -> None:
    (workspace / "a.txt").write_text("original\n")
    script = _script(
        tmp_path,
        [
            {"tool_calls": [{"name": "write", "arguments": {"path": "a.txt", "content": "x\n"}}]},
            {"text": "changed"},
        ],
    )
    engine = await Engine.open(
        workspace=WorkspacePaths(workspace),
        settings=Settings(model="offline/replay"),
        environ={},
        script_path=script,
    )
    try:
        await engine.run("change a.txt")
        assert engine.session is not None
        session_id = engine.session.id
        control = await SessionControl.open(WorkspacePaths(workspace))
        try:
            # The engine holds the session: changing it is refused, forking it is not.
            with pytest.raises(SessionLockedError):
                await control.undo(session=session_id[:8])
            forked = await control.fork(session=session_id[:8])
            assert forked.id != session_id and control.current is None
            assert forked.message_count == engine.session.message_count
        finally:
            control.close()
        await engine.close()
        control = await SessionControl.open(WorkspacePaths(workspace))
        try:
            report = await control.undo(session=session_id)
            assert report.restored == ["a.txt"] and control.current is None
            assert (workspace / "a.txt").read_text() == "original\n"
            _sid, dest, count = await control.export("out.jsonl", session=session_id)
            assert dest == workspace / "out.jsonl" and count > 0
        finally:
            control.close()
    finally:
        await engine.close()


async def test_the_state_view_is_a_snapshot(workspace: Path) -> None:
    engine = await Engine.open(
        workspace=WorkspacePaths(workspace),
        settings=Settings(model="offline/echo", approval="ask"),
        environ={},
    )
    try:
        before = engine.state()
        assert isinstance(before, EngineState)
        assert before.workspace == workspace and before.model_id == "offline/echo"
        assert before.approval is ApprovalMode.ASK and before.session is None
        assert not before.running and before.memory_enabled  # learned memory: on by default
        await engine.run("hello state")
        engine.set_approval("full-auto")
        after = engine.state()
        assert after.session is not None and after.session.title == "hello state"
        assert after.session.message_count == 2 and after.approval is ApprovalMode.FULL_AUTO
        assert after.usage.output_tokens > 0
        assert before.session is None and before.approval is ApprovalMode.ASK  # unchanged
        with pytest.raises(AttributeError):
            after.model_id = "x"  # type: ignore[misc]
    finally:
        await engine.close()
