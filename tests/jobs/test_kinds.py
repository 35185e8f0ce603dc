"""How each job kind reads its child's output and turns its exit into an outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tau_engine.errors import UsageError
from tau_engine.jobs.mission_kind import MissionKind, MissionObserver
from tau_engine.jobs.prompt_kind import PromptKind, PromptObserver
from tau_engine.store.job_models import JobState

NOW = 1_800_000_000.0


def feed(observer: Any, *events: dict[str, Any]) -> list[Any]:
    return [observer.feed("stdout", json.dumps(event)) for event in events]


def test_the_prompt_observer_follows_the_stream() -> None:
    seen = PromptObserver(attempt=1)
    out = feed(
        seen,
        {"type": "session_started", "session_id": "s1", "model": "m"},
        {"type": "turn_started", "turn": 1},
        {"type": "text_delta", "text": "Looking at the "},
        {"type": "text_delta", "text": "parser.\nIt fails on "},
        {"type": "tool_call", "call_id": "c1", "name": "read", "arguments": {}},
        {"type": "tool_result", "call_id": "c1", "name": "read", "ok": True},
    )
    assert out[0].session_id == "s1" and out[0].event == (
        "session",
        {"session_id": "s1", "model": "m"},
    )
    assert out[1].event == ("phase", {"phase": "turn 1"})
    assert out[2] is None and out[3] is None
    assert out[4].event[1]["phase"] == "tool read"
    assert seen.progress.last_line == "tool=read ok" and not seen.side_effects
    feed(seen, {"type": "tool_result", "call_id": "c2", "name": "edit", "ok": False})
    assert seen.side_effects  # a failed edit may still have changed something
    feed(
        seen, {"type": "tool_result", "call_id": "c3", "name": "bash", "ok": False, "denied": True}
    )
    assert seen.feed("stdout", "not json") is None
    seen.feed("stderr", "tau: error: the provider said no")
    assert seen.stderr_tail == "tau: error: the provider said no"


@pytest.mark.parametrize(
    ("exit_code", "stop", "error_kind", "effects", "state", "reason"),
    [
        (0, "end_turn", None, True, JobState.SUCCEEDED, "completed"),
        (1, "error", "rate_limit", False, JobState.QUEUED, "retry"),
        (1, "error", "rate_limit", True, JobState.FAILED, "run-failed"),
        (1, "error", "auth", False, JobState.FAILED, "run-failed"),
        (1, "max_turns", None, False, JobState.FAILED, "max-turns"),
        (1, "budget", None, False, JobState.FAILED, "budget"),
        (2, "", None, False, JobState.FAILED, "bad-input"),
        (-9, "", None, True, JobState.QUEUED, "crashed"),
        (130, "", None, False, JobState.QUEUED, "crashed"),
    ],
)
def test_prompt_outcomes(
    exit_code: int, stop: str, error_kind: str | None, effects: bool, state: JobState, reason: str
) -> None:
    seen = PromptObserver(attempt=1)
    if error_kind:
        feed(seen, {"type": "error", "kind": error_kind, "message": "nope"})
    if effects:
        feed(seen, {"type": "tool_result", "name": "write", "ok": True})
    if stop:
        feed(
            seen,
            {
                "type": "run_finished",
                "run_id": "r1",
                "stop_reason": stop,
                "turns": 2,
                "result": "the answer",
            },
            {"type": "session_finished", "reason": "closed", "runs": 1},
        )
    outcome = seen.outcome(exit_code, cancelled=False, now=NOW)
    assert (outcome.state, outcome.reason) == (state, reason)
    if state is JobState.QUEUED:
        assert outcome.retry_at is not None and NOW < outcome.retry_at <= NOW + 5
    assert seen.outcome(exit_code, cancelled=True, now=NOW).state is JobState.CANCELLED


def test_prompt_inputs_are_checked_and_files_copied(tmp_path: Path) -> None:
    kind = PromptKind()
    with pytest.raises(UsageError, match="approval"):
        kind.validate({"prompt": "x", "approval": "yolo"})
    with pytest.raises(UsageError, match="trust: Extra inputs are not permitted"):
        kind.validate({"prompt": "x", "trust": True})  # trust is never a job input
    with pytest.raises(UsageError, match="the prompt is empty"):
        kind.validate({"prompt": "   "})
    script = tmp_path / "turns.json"
    script.write_text("[]")
    ready = kind.prepare(kind.validate({"prompt": "x", "script": str(script)}), tmp_path / "j")
    assert ready["script"] == "script.json" and (tmp_path / "j" / "script.json").is_file()
    assert kind.submit_argv(ready, tmp_path / "j") == [
        "-p",
        "x",
        "--script",
        str(tmp_path / "j" / "script.json"),
    ]


def test_the_mission_observer_learns_its_mission() -> None:
    seen = MissionObserver(None)
    first = seen.feed("stderr", "tau mission 4f2a9c1b7d3e: intake: authority patch p.diff")
    assert seen.mission_id == "4f2a9c1b7d3e" and first is not None
    assert first.detail == {"mission_id": "4f2a9c1b7d3e"}
    again = seen.feed("stderr", "tau mission 4f2a9c1b7d3e: red: RED: the verifier failed")
    assert again is not None and again.detail is None and seen.progress.phase == "red"
    seen.feed(
        "stdout",
        json.dumps(
            {
                "id": "4f2a9c1b7d3e",
                "phase": "commit",
                "outcome": "green",
                "reason": None,
                "unblock_command": None,
                "commit": "abc123def4567",
            }
        ),
    )
    done = seen.outcome(0, cancelled=False, now=NOW)
    assert done.state is JobState.SUCCEEDED
    assert (
        done.result is not None and done.result["next_command"] == "tau mission show 4f2a9c1b7d3e"
    )


@pytest.mark.parametrize(
    ("exit_code", "reason", "state", "job_reason"),
    [
        (3, "missing-edit-authority", JobState.BLOCKED, "needs-authority"),
        (3, "flaky-verifier", JobState.BLOCKED, "mission-blocked"),
        (1, "still-red", JobState.FAILED, "run-failed"),
        (-9, None, JobState.QUEUED, "crashed"),
        (2, None, JobState.FAILED, "bad-input"),
    ],
)
def test_mission_outcomes(
    exit_code: int, reason: str | None, state: JobState, job_reason: str
) -> None:
    seen = MissionObserver("m1")
    unblock = "tau mission run --task x --patch FILE" if reason else None
    seen.feed(
        "stdout",
        json.dumps(
            {"id": "m1", "outcome": "blocked", "reason": reason, "unblock_command": unblock}
        ),
    )
    outcome = seen.outcome(exit_code, cancelled=False, now=NOW)
    assert (outcome.state, outcome.reason) == (state, job_reason)
    if exit_code == 3:
        assert outcome.result is not None and outcome.result["next_command"] == unblock


def test_mission_arguments_that_are_the_jobs_own_are_refused() -> None:
    kind = MissionKind()
    assert kind.validate({"args": ["--task=fix it", "--verifier", "make test"]}) == {
        "args": ["--task", "fix it", "--verifier", "make test"]
    }
    for flag in ("--repo", "-w", "--json"):
        with pytest.raises(UsageError, match=f"{flag} is not for a job"):
            kind.validate({"args": ["--task", "x", flag, "/elsewhere"]})
    with pytest.raises(UsageError, match="not a mission id"):
        kind.validate({"args": ["--task", "x"], "mission_id": "../../etc"})
