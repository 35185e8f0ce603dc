"""``report.json`` (in SWE-bench's shape) and ``PR.md``, computed from a mission's state.

``report.json`` follows SWE-bench's evaluation report: per instance (the
mission id), whether the patch applied and ``tests_status`` with
``FAIL_TO_PASS`` and ``PASS_TO_PASS`` (and the other two keys, empty), each as
``success``/``failure`` lists; ``resolved`` is SWE-bench's resolution status,
``FULL``, ``PARTIAL`` or ``NO``, plus ``tests_modified`` and ``flaky``. When
the verifier's output names no failing test, the verifier command itself is
the one FAIL_TO_PASS test.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from tau_engine.missions.model import Attempt, Blocked, CommandRun, MissionState, Outcome


@dataclass(frozen=True)
class FileChange:
    path: str
    added: int
    removed: int


def _final(state: MissionState) -> Attempt | None:
    return state.attempts[-1] if state.attempts else None


def _rate(status: dict[str, list[str]]) -> float:
    total = len(status["success"]) + len(status["failure"])
    return 1.0 if total == 0 else len(status["success"]) / total


def _passes(run: CommandRun | None, name: str) -> bool:
    if run is None:
        return False
    return run.ok or (run.framework is not None and name not in run.failing)


def swe_tests_status(state: MissionState) -> dict[str, dict[str, list[str]]]:
    """FAIL_TO_PASS and PASS_TO_PASS with their successes and failures."""
    f2p: dict[str, list[str]] = {"success": [], "failure": []}
    p2p: dict[str, list[str]] = {"success": [], "failure": []}
    final = _final(state)
    after = final.verifier if final else None
    red = state.red[0] if state.red else None
    if red is not None and not red.ok:
        for name in red.failing or [state.inputs.verifier or "verifier"]:
            ok = _passes(after, name) if red.failing else bool(after and after.ok)
            f2p["success" if ok else "failure"].append(name)
        for name in red.passing:
            p2p["success" if _passes(after, name) else "failure"].append(name)
    guard_red = state.guard_red
    guard_after = final.guard if final else None
    if guard_red is not None:
        broken = set(final.guard_broken) if final else set()
        names = guard_red.passing or ([f"guard: {guard_red.command}"] if guard_red.ok else [])
        for name in names:
            if name.startswith("guard: "):
                ok = bool(guard_after and guard_after.ok)
            else:
                ok = name not in broken and _passes(guard_after, name)
            if name not in p2p["success"] and name not in p2p["failure"]:
                p2p["success" if ok else "failure"].append(name)
        for name in sorted(broken - set(p2p["failure"])):
            p2p["failure"].append(name)
    return {
        "FAIL_TO_PASS": f2p,
        "PASS_TO_PASS": p2p,
        "FAIL_TO_FAIL": {"success": [], "failure": []},
        "PASS_TO_FAIL": {"success": [], "failure": []},
    }


def resolution(state: MissionState, status: dict[str, dict[str, list[str]]]) -> str:
    """SWE-bench's ``FULL`` / ``PARTIAL`` / ``NO``."""
    if not state.attempts:
        return "NO"
    f2p, p2p = _rate(status["FAIL_TO_PASS"]), _rate(status["PASS_TO_PASS"])
    if f2p == 1 and p2p == 1:
        return "FULL"
    if 0 < f2p < 1 and p2p == 1:
        return "PARTIAL"
    return "NO"


def swe_report(state: MissionState) -> dict[str, Any]:
    status = swe_tests_status(state)
    final = _final(state)
    applied = final is not None and final.error is None and final.status != "editing"
    return {
        state.id: {
            "patch_is_None": final is None or not final.diff_sha256,
            "patch_exists": bool(final and final.diff_sha256),
            "patch_successfully_applied": applied,
            "resolved": resolution(state, status),
            "tests_status": status,
            "tests_modified": state.tests_modified,
            "flaky": state.reason == Blocked.FLAKY_VERIFIER.value,
        }
    }


def broken_count(state: MissionState) -> int | None:
    """Previously passing tests that fail after (None: nothing could tell)."""
    status = swe_tests_status(state)["PASS_TO_PASS"]
    if not status["success"] and not status["failure"]:
        return None
    return len(status["failure"])


def verification_sentence(state: MissionState) -> str:
    """The one line: "failed before (2/2 runs), passes after; 0 previously passing tests
    broken; test files unchanged"."""
    red_failed = sum(1 for run in state.red if not run.ok)
    before = (
        f"failed before ({red_failed}/{len(state.red)} runs)" if state.red else "not run before"
    )
    final = _final(state)
    after_run = final.verifier if final else None
    if state.outcome is Outcome.ALREADY_GREEN:
        return f"passed before ({len(state.red)}/{len(state.red)} runs): nothing to change"
    if after_run is None:
        after = "not run after"
    elif after_run.ok:
        after = "passes after"
    else:
        failing = f", {len(after_run.failing)} failing" if after_run.failing else ""
        after = f"still fails after (exit {after_run.exit_code}{failing})"
    broken = broken_count(state)
    broken_text = (
        "previously passing tests not checked (no guard, and the verifier names no passing tests)"
        if broken is None
        else f"{broken} previously passing test{'s' if broken != 1 else ''} broken"
    )
    tests = (
        "test files modified: " + ", ".join(state.modified_test_files)
        if state.tests_modified
        else "test files unchanged"
    )
    return f"{before}, {after}; {broken_text}; {tests}"


def publish_commands(state: MissionState) -> list[str]:
    """The exact commands that publish the mission as a draft pull request."""
    branch = state.branch or f"tau/mission-{state.id}"
    base = state.base_branch or "main"
    body = f".tau/missions/{state.id}/PR.md"
    title = state.inputs.title or f"tau mission {state.id}"
    return [
        shlex.join(["git", "push", "-u", "origin", branch]),
        shlex.join(
            [
                "gh",
                "pr",
                "create",
                "--draft",
                "--base",
                base,
                "--head",
                branch,
                "--title",
                title,
                "--body-file",
                body,
            ]
        ),
    ]


def _risks(state: MissionState) -> list[str]:
    risks = []
    if state.tests_modified:
        risks.append(
            "The change modifies the verifier's own test files ("
            + ", ".join(state.modified_test_files)
            + "): check that the tests "
            "still test what they did."
        )
    if not state.inputs.guard:
        risks.append("No guard command ran: tests outside the verifier were not checked.")
    if broken_count(state) is None and state.inputs.guard:
        risks.append(
            "The guard's output names no tests, so broken tests could only be "
            "judged by its exit code."
        )
    if not state.inputs.commit:
        risks.append("Not committed (--no-commit): the change is only in the worktree.")
    if any(run.timed_out for run in state.red):
        risks.append("The verifier timed out at RED: the failure may be a hang, not the bug.")
    return risks or ["None found by tau's checks."]


def pr_markdown(state: MissionState, changes: list[FileChange]) -> str:
    """The pull request body: summary, changes, verification, risks, how to publish."""
    inputs = state.inputs
    final = _final(state)
    red = state.red[0] if state.red else None
    lines = [f"# {inputs.title or 'tau mission ' + state.id}", ""]
    if inputs.task.strip() != inputs.title.strip():
        lines += [inputs.task.strip()[:2000], ""]
    lines += ["## Changes", ""]
    lines += [f"- `{c.path}` (+{c.added} -{c.removed})" for c in changes] or ["- (none)"]
    if final and final.summary:
        lines += ["", final.summary]
    lines += ["", "## Verification", "", verification_sentence(state), ""]
    if red is not None:
        failing = f" (failing: {', '.join(red.failing[:10])})" if red.failing else ""
        after = final.verifier if final else None
        lines.append(
            f"- Verifier `{red.command}`: before, exit {red.exit_code}{failing}"
            + (f"; after, exit {after.exit_code}." if after else ".")
        )
    if state.guard_red is not None:
        after_guard = final.guard if final else None
        lines.append(
            f"- Guard `{state.guard_red.command}`: before, exit "
            f"{state.guard_red.exit_code}"
            + (f"; after, exit {after_guard.exit_code}" if after_guard else "")
            + "."
        )
    lines += [
        f"- Re-check it: `tau mission verify {state.id} --red`",
        f"- Evidence: `.tau/missions/{state.id}/` (checked by `SHA256SUMS`)",
        "",
        "## Risks",
        "",
    ]
    lines += [f"- {risk}" for risk in _risks(state)]
    lines += [
        "",
        "## Publish",
        "",
        "Nothing is published unless asked (`--publish draft`). From the repository root:",
        "",
        "```sh",
        *publish_commands(state),
        "```",
        "",
        "---",
        f"Tau-Mission: {state.id}",
        "",
    ]
    return "\n".join(lines)
