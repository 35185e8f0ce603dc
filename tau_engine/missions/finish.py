"""The evidence phase: the files written once a mission has its outcome.

``diff.patch`` (the change, from the commit or from the worktree), ``green.log``
(the verifier's passing run), ``guard.log`` (the guard at RED and after the
change), ``commit.txt``, ``report.json`` and, for a green mission, ``PR.md``.
Everything is rewritten whole, so the phase can run again after a kill. The
worktree is removed here when that loses nothing (see ``worktree.removable``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from tau_engine.git import git_out, run_git
from tau_engine.missions import worktree as wt
from tau_engine.missions.evidence import EvidenceWriter
from tau_engine.missions.model import MissionState, Outcome
from tau_engine.missions.report import FileChange, pr_markdown, swe_report


class FinishingMission(Protocol):
    """What the evidence phase reads of the mission being run (``runner.MissionRunner`` is one)."""

    state: MissionState
    evidence: EvidenceWriter

    @property
    def repo(self) -> Path: ...

    @property
    def worktree(self) -> Path: ...


def _changes(runner: FinishingMission, old: str, new: str) -> list[FileChange]:
    out = run_git(runner.repo, ["diff", "--numstat", "--no-renames", old, new]).stdout
    changes = []
    for line in out.splitlines():
        added, removed, path = ([*line.split("\t", 2), "", "", ""])[:3]
        changes.append(
            FileChange(
                path, int(added) if added.isdigit() else 0, int(removed) if removed.isdigit() else 0
            )
        )
    return changes


def _result_tree(runner: FinishingMission) -> str | None:
    """What the mission's change is: its commit, else the edited worktree's result tree."""
    state = runner.state
    if state.commit:
        return state.commit
    if (
        state.attempts
        and state.base_commit
        and runner.worktree.exists()
        and not state.worktree_removed
    ):
        touched = sorted({p for a in state.attempts for p in a.touched})
        return wt.result_tree(runner.worktree, state.base_commit, touched)
    return None


def _write_files(runner: FinishingMission) -> None:
    state, evidence = runner.state, runner.evidence
    result = _result_tree(runner)
    changes: list[FileChange] = []
    if result is not None and state.base_commit:
        evidence.write("diff.patch", wt.diff(runner.repo, state.base_commit, result))
        changes = _changes(runner, state.base_commit, result)
    green = state.green_attempt
    if green is not None and green.verifier is not None:
        evidence.write("green.log", evidence.read(green.verifier.log))
    guard_logs = []
    if state.guard_red is not None:
        guard_logs.append("# guard at RED (untouched code)\n" + evidence.read(state.guard_red.log))
    last = state.attempts[-1] if state.attempts else None
    if last is not None and last.guard is not None:
        guard_logs.append(f"# guard after attempt {last.number}\n" + evidence.read(last.guard.log))
    if guard_logs:
        evidence.write("guard.log", "\n".join(guard_logs))
    if state.commit:
        shown = git_out(
            runner.repo, ["show", "--no-color", "--stat", "--format=fuller", state.commit]
        )
        evidence.write(
            "commit.txt",
            f"commit {state.commit}\nbranch {state.branch}\nbase {state.base_commit}\n\n{shown}\n",
        )
    evidence.write_json("report.json", swe_report(state))
    if state.outcome is Outcome.GREEN:
        evidence.write("PR.md", pr_markdown(state, changes))


def _clean_worktree(runner: FinishingMission) -> None:
    state = runner.state
    if state.worktree is None or state.worktree_removed or not runner.worktree.exists():
        return
    if wt.remove_if_safe(runner.repo, runner.worktree) is None:
        state.worktree_removed = True


async def write_final_evidence(runner: FinishingMission) -> None:
    """Write the outcome's evidence files, then remove the worktree if nothing is lost."""
    await asyncio.to_thread(_write_files, runner)
    await asyncio.to_thread(_clean_worktree, runner)
