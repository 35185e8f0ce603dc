"""Small engine parts: events, paths, the workspace guard, the tool policy, the prompt."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from tau_engine.agent.prompt import build_system_prompt
from tau_engine.conversation import Usage
from tau_engine.errors import WorkspaceError
from tau_engine.event_kinds import CompactionNote, MissionOutcome, MissionPhase, NoticeKind
from tau_engine.events import (
    SCHEMA_VERSION,
    ApprovalNeeded,
    EventBus,
    MissionPhaseEvent,
    Notice,
    RunFinished,
    SessionFinished,
    TextDelta,
    ToolCallEvent,
    UsageEvent,
    UserMessage,
    parse_event,
)
from tau_engine.paths import WorkspacePaths, atomic_write_text, find_workspace
from tau_engine.safety.policy import ApprovalMode, ToolPolicy
from tau_engine.safety.workspace import WorkspaceGuard

# -- events -------------------------------------------------------------------------


def test_bus_stamps_and_fans_out_in_order() -> None:
    bus = EventBus("sess", start_seq=41)
    seen: list[str] = []
    bus.subscribe(lambda e: seen.append(f"b{e.seq}"))
    bus.subscribe(lambda e: seen.append(f"a{e.seq}"), first=True)
    event = bus.emit(TextDelta(text="hi"))
    assert (event.seq, event.session_id, event.v) == (42, "sess", 2) and event.ts > 0
    assert SCHEMA_VERSION == 2
    assert seen == ["a42", "b42"]
    bus.rebind("other", 7)
    assert bus.emit(TextDelta(text="x")).seq == 8


def test_events_with_no_session_bound_are_in_no_log() -> None:
    bus = EventBus("sess", start_seq=3)
    bus.rebind("", 0)
    event = bus.emit(Notice(kind=NoticeKind.MODEL, message="m"))
    assert (event.seq, event.session_id) == (0, "") and event.ts > 0
    assert bus.emit(Notice(kind=NoticeKind.MODEL, message="again")).seq == 0


def test_every_event_round_trips_through_json() -> None:
    samples = [
        TextDelta(text="é\n"),
        ApprovalNeeded(call_id="c", name="bash", arguments={"command": "ls"}),
        UsageEvent(usage=Usage(input_tokens=3), cost_usd=None),
        RunFinished(run_id="r1", stop_reason="end_turn", result="ok"),
        SessionFinished(reason="closed", runs=2),
        UserMessage(
            run_id="r1", message_id="m1", text="see x.py", typed="see @x.py", attachments=["x.py"]
        ),
        ToolCallEvent(call_id="c", name="read", arguments={"path": "x.py"}, label="path=x.py"),
        Notice(
            kind=NoticeKind.COMPACTION,
            message="compacted",
            data=CompactionNote(before_tokens=9000, after_tokens=800),
        ),
        Notice(kind=NoticeKind.INTERRUPTED, message="stopped"),
        MissionPhaseEvent(
            mission_id="m",
            phase=MissionPhase.EVIDENCE,
            status="finished",
            outcome=MissionOutcome.BLOCKED,
            reason="red-not-failing",
        ),
    ]
    for event in samples:
        back = parse_event(event.model_dump_json())
        assert type(back) is type(event) and back == event
        assert parse_event(json.loads(event.model_dump_json())) == event


def test_text_delta_json_is_linear_in_its_text() -> None:
    small = len(TextDelta(text="a" * 8).model_dump_json())
    big = len(TextDelta(text="a" * 8000).model_dump_json())
    assert big - small == 7992


# -- paths --------------------------------------------------------------------------


def test_find_workspace_walks_up_to_git_or_tau(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    deep = tmp_path / "repo" / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_workspace(deep) == (tmp_path / "repo").resolve()
    (tmp_path / "repo" / "src" / ".tau").mkdir()
    assert find_workspace(deep) == (tmp_path / "repo" / "src").resolve()
    lone = tmp_path / "lone"
    lone.mkdir()
    assert find_workspace(lone) == lone.resolve()


def test_ensure_creates_state_dir_with_gitignore(tmp_path: Path) -> None:
    paths = WorkspacePaths(tmp_path)
    paths.ensure()
    assert paths.state_dir.is_dir()
    assert "*" in (paths.state_dir / ".gitignore").read_text()
    with pytest.raises(WorkspaceError):
        WorkspacePaths.locate(tmp_path / "missing")


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


# -- workspace guard ----------------------------------------------------------------


def test_guard_keeps_paths_inside(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "sub").mkdir(parents=True)
    guard = WorkspaceGuard(root)
    assert guard.resolve("sub/x.py") == (root / "sub" / "x.py").resolve()
    assert guard.resolve(str(root / "sub")) == (root / "sub").resolve()
    assert guard.relative(root / "sub" / "x.py") == "sub/x.py"
    for bad in ("../x", "/etc/passwd", "sub/../../x", "~/.ssh/id_rsa", ""):
        with pytest.raises(WorkspaceError):
            guard.resolve(bad)
    os.symlink(tmp_path, root / "escape")
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        guard.resolve("escape/secret")


# -- policy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (ApprovalMode.READ_ONLY, ("allow", "deny", "deny", "deny")),
        (ApprovalMode.ASK, ("allow", "ask", "ask", "ask")),
        (ApprovalMode.AUTO_EDIT, ("allow", "allow", "ask", "ask")),
        (ApprovalMode.FULL_AUTO, ("allow", "allow", "allow", "allow")),
    ],
)
def test_policy_table(mode: ApprovalMode, expected: tuple[str, ...]) -> None:
    policy = ToolPolicy(mode)
    kinds = ("read", "edit", "exec", "network")
    assert tuple(policy.verdict("t", k) for k in kinds) == expected  # type: ignore[arg-type]


def test_allow_for_session_is_a_scoped_rule_that_never_overrides_deny(tmp_path: Path) -> None:
    from tau_engine.safety.permissions import PermissionPolicy, ToolCall
    from tau_engine.safety.profiles import load_profile
    from tau_engine.safety.rules import Rule
    from tau_engine.safety.toml_lines import Source

    def session(tool: str, pattern: str | None) -> Rule:
        return Rule(tool, pattern, "allow", Source("session"), "session")

    def verdict(tool: str, kind: str, **call: object) -> str:
        return policy.decide(ToolCall(tool, kind, **call)).verdict  # type: ignore[arg-type]

    policy = PermissionPolicy(load_profile("balanced"), ApprovalMode.ASK, tmp_path)
    assert verdict("bash", "exec", command="make build") == "ask"
    policy.allow_for_session(session("bash", "make *"))
    assert verdict("bash", "exec", command="make build") == "allow"
    assert verdict("bash", "exec", command="git push") == "ask"
    assert verdict("http", "network", subjects=("https://x",)) == "ask"
    policy.allow_for_session(session("edit", None))
    assert verdict("edit", "edit", subjects=("b",)) == "allow"
    policy.mode = ApprovalMode.READ_ONLY
    assert verdict("bash", "exec", command="make build") == "deny"
    assert verdict("edit", "edit", subjects=("b",)) == "deny"


# -- system prompt ------------------------------------------------------------------


def test_prompt_composes_identity_then_guidance_files(tmp_path: Path) -> None:
    (tmp_path / "AGENTS.md").write_text("Use tabs.")
    (tmp_path / ".tau").mkdir(parents=True)
    (tmp_path / ".tau" / "AGENTS.md").write_text("Run make test.")
    (tmp_path / ".tau" / "USER.md").write_text("The user is Ada.")
    (tmp_path / ".tau" / "SOUL.md").write_text("You are terse.")
    prompt = build_system_prompt(tmp_path, today=dt.date(2026, 1, 2))
    assert "2026-01-02" in prompt and str(tmp_path) in prompt
    order = [
        prompt.index(text) for text in ("You are terse.", "Ada", "Use tabs.", "Run make test.")
    ]
    assert order == sorted(order)
    assert "Your persona, from .tau/SOUL.md:\nYou are terse." in prompt
    assert "The user's preferences, from .tau/USER.md:\nThe user is Ada." in prompt
    assert "Guidance from AGENTS.md" in prompt


def test_prompt_without_guidance(tmp_path: Path) -> None:
    assert "Guidance from" not in build_system_prompt(tmp_path)


def test_guard_protects_taus_own_state_from_writes(tmp_path: Path) -> None:
    guard = WorkspaceGuard(tmp_path)
    for state in (".tau/tau.db", ".tau/tau.db-wal", ".tau/checkpoints/ab/cd", ".tau/logs/x"):
        assert guard.resolve(state)  # reading is fine
        with pytest.raises(WorkspaceError, match="session state"):
            guard.resolve(state, write=True)
    assert guard.resolve(".tau/notes.md", write=True) == (tmp_path / ".tau" / "notes.md")
