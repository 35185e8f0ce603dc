"""An edit attempt's work in the worktree: where it starts, what it is told, its diff.

Each attempt starts from a snapshot of the worktree (a kill mid-edit restores it) and
is handed a context (the first: the RED output; later ones: the previous attempt's
failures and the diff so far), kept in ``attempts/<n>/context.md``. The diff of every
path any attempt touched, against the base commit, is its result
(``attempts/<n>/diff.patch``, with its hash and size on the attempt).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tau_engine.missions import worktree as wt
from tau_engine.missions.editors import EditRequest
from tau_engine.missions.evidence import EvidenceWriter, sha256_text
from tau_engine.missions.model import Attempt, MissionState
from tau_engine.missions.repair import first_context, repair_context


def touched_paths(state: MissionState) -> list[str]:
    """Every path an attempt of the mission changed, sorted."""
    return sorted({p for a in state.attempts for p in a.touched})


def current_diff(state: MissionState, worktree: Path) -> str:
    """The diff of the touched paths against the base commit (blocking: in a thread)."""
    assert state.base_commit is not None
    tree = wt.result_tree(worktree, state.base_commit, touched_paths(state))
    return wt.diff(worktree, state.base_commit, tree)


async def start_attempt(
    state: MissionState, worktree: Path, evidence: EvidenceWriter, clock: Callable[[], float]
) -> Attempt:
    """A new attempt, from a snapshot of the worktree, with its context written."""
    number = len(state.attempts) + 1
    start_tree = await asyncio.to_thread(wt.snapshot, worktree)
    if number == 1:
        context = first_context(state.inputs, state.red[0], evidence.read("red.log"))
    else:
        prev = state.attempts[-1]
        diff = await asyncio.to_thread(current_diff, state, worktree)
        output = evidence.read(prev.verifier.log) if prev.verifier else ""
        guard_output = evidence.read(prev.guard.log) if prev.guard else ""
        context = repair_context(state.inputs, prev, output, guard_output, diff, state.attempts)
    evidence.write(f"attempts/{number}/context.md", context)
    attempt = Attempt(number=number, started_at=clock(), start_tree=start_tree)
    state.attempts.append(attempt)
    return attempt


def edit_request(
    state: MissionState, worktree: Path, attempt: Attempt, evidence: EvidenceWriter
) -> EditRequest:
    """What the editor is asked for ``attempt``: the task, the context, what is left of
    the mission's budgets."""
    inputs = state.inputs
    spent_tokens = state.input_tokens + state.output_tokens
    return EditRequest(
        worktree=worktree,
        mission_id=state.id,
        task=inputs.task,
        attempt=attempt.number,
        context=evidence.read(f"attempts/{attempt.number}/context.md"),
        max_tokens=None if inputs.max_tokens is None else inputs.max_tokens - spent_tokens,
        max_cost=None
        if inputs.max_cost is None or state.cost_usd is None
        else inputs.max_cost - state.cost_usd,
        deadline_s=None
        if inputs.max_minutes is None
        else inputs.max_minutes * 60 - state.elapsed_s,
    )


async def record_diff(
    state: MissionState, worktree: Path, attempt: Attempt, evidence: EvidenceWriter
) -> None:
    """Write the attempt's diff to the evidence and its hash and size on the attempt."""
    assert state.base_commit is not None
    base = state.base_commit
    tree = await asyncio.to_thread(wt.result_tree, worktree, base, touched_paths(state))
    diff = await asyncio.to_thread(wt.diff, worktree, base, tree)
    files, added, removed = await asyncio.to_thread(wt.diff_stat, worktree, base, tree)
    evidence.write(f"attempts/{attempt.number}/diff.patch", diff)
    attempt.diff_sha256 = sha256_text(diff) if diff else None
    attempt.diff_files, attempt.diff_added, attempt.diff_removed = files, added, removed
