"""``/mission``'s arguments (shell-quoted options, then the task as typed) and the request
they make; the task from the conversation when none is typed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tau_engine.errors import UsageError
from tau_engine.missions.conversation import last_prompt, mission_request, parse_mission_args


def test_options_are_read_like_a_shell_and_the_task_is_kept_as_typed() -> None:
    args = parse_mission_args(
        '--verifier "python -m pytest -q" --max-attempts=2 --no-commit '
        "Fix add() so it doesn't subtract"
    )
    assert args.options == {
        "--verifier": "python -m pytest -q",
        "--max-attempts": 2,
        "--no-commit": True,
    }
    assert args.task == "Fix add() so it doesn't subtract"  # an apostrophe is not a quote


@pytest.mark.parametrize(
    ("text", "task"),
    [
        ("", None),
        ("--verifier 'make test'", None),
        ("--verifier 'make test' 'Fix it: all of it'", "Fix it: all of it"),
        ("--verifier x -- --not-an-option in the task", "--not-an-option in the task"),
        ("  Fix   spacing kept  ", "Fix   spacing kept"),
    ],
)
def test_the_task(text: str, task: str | None) -> None:
    assert parse_mission_args(text).task == task


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("--bogus x", "unknown option --bogus"),
        ("--verifier", "--verifier needs a value"),
        ("--max-attempts 0 task", "--max-attempts '0' is not a valid value"),
        ("--max-cost inf task", "--max-cost 'inf' is not a valid value"),
        ("--red-runs 9 task", "--red-runs '9' is not a valid value"),
        ("--profile lax task", "--profile 'lax' is not a valid value"),
        ("--verifier 'unclosed", "unclosed quote"),
    ],
)
def test_bad_arguments_are_one_usage_error(text: str, error: str) -> None:
    with pytest.raises(UsageError, match=error.replace("(", r"\(")):
        parse_mission_args(text)


def test_the_request_resolves_the_patch_in_the_workspace_and_drops_the_model(
    tmp_path: Path,
) -> None:
    args = parse_mission_args("--verifier v --patch fix.diff --profile strict Task text")
    request = mission_request(args, repo=tmp_path, task="Task text", model="openai/gpt-x")
    assert request.patch_file == str(tmp_path / "fix.diff")
    assert request.model is None and request.profile == "strict" and request.commit
    absolute = parse_mission_args("--patch /elsewhere/fix.diff T")
    assert mission_request(absolute, repo=tmp_path, task="T", model=None).patch_file == (
        "/elsewhere/fix.diff"
    )
    by_model = mission_request(parse_mission_args("T"), repo=tmp_path, task="T", model="m/x")
    assert by_model.model == "m/x" and by_model.patch_file is None


def _stored(role: str, content: str, **meta: object) -> SimpleNamespace:
    return SimpleNamespace(message=SimpleNamespace(role=role, content=content, meta=meta))


def test_the_last_prompt_is_the_task_as_typed() -> None:
    history = [
        _stored("user", "first ask"),
        _stored("assistant", "ok"),
        _stored("user", "expanded with files", typed="fix @calc.py please"),
        _stored("assistant", "done"),
        _stored("user", "summary", compaction=True),
    ]
    assert last_prompt(history) == "fix @calc.py please"
    assert last_prompt([]) == ""
