"""``tau mission verify ID [--red]``: re-prove a mission's result from scratch.

The evidence must match its ``SHA256SUMS``; the mission's commit (or, with
``--no-commit``, the base commit plus ``diff.patch``) is checked out in a fresh
temporary worktree outside the repository and the verifier must pass there
(GREEN). With ``--red``, the base commit is checked out too and the verifier
must fail there (RED). Nothing in the repository or the evidence changes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tau_engine.git import run_git
from tau_engine.missions import worktree as wt
from tau_engine.missions.evidence import Redactor, check_sums
from tau_engine.missions.model import MissionError, MissionState, Outcome
from tau_engine.missions.verifier import command_environ, run_command


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class VerifyReport:
    mission_id: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


@contextlib.asynccontextmanager
async def _temporary(repo: Path, commit_ish: str) -> AsyncIterator[Path]:
    path = await asyncio.to_thread(wt.add_temporary_worktree, repo, commit_ish)
    try:
        yield path
    finally:
        await asyncio.to_thread(wt.remove_temporary_worktree, repo, path)


async def _run_verifier(
    state: MissionState, path: Path, environ: Mapping[str, str]
) -> tuple[int, str]:
    assert state.inputs.verifier is not None
    out = await run_command(
        state.inputs.verifier,
        path,
        timeout_s=state.inputs.verifier_timeout_s,
        env=command_environ(path, environ),
    )
    return out.exit_code, out.text


async def _green_check(
    state: MissionState, evidence: Path, environ: Mapping[str, str], redact: Redactor
) -> Check:
    repo = Path(state.inputs.repo)
    assert state.base_commit is not None
    target = state.commit or state.base_commit
    async with _temporary(repo, target) as path:
        where = f"commit {target[:12]}"
        if state.commit is None and state.outcome is Outcome.GREEN:
            patch = evidence / "diff.patch"
            if not patch.is_file():
                return Check("green", False, "no commit and no diff.patch to apply")
            applied = await asyncio.to_thread(
                run_git, path, ["apply", "--binary", str(patch)], check=False
            )
            if applied.returncode != 0:
                return Check(
                    "green",
                    False,
                    f"diff.patch does not apply to the base: {applied.stderr.strip()[:200]}",
                )
            where = f"base {target[:12]} + diff.patch"
        code, text = await _run_verifier(state, path, environ)
    tail = redact(text.strip().splitlines()[-1] if text.strip() else "")
    return Check(
        "green", code == 0, f"verifier exit {code} on {where}" + (f" ({tail})" if tail else "")
    )


async def _red_check(state: MissionState, environ: Mapping[str, str], redact: Redactor) -> Check:
    assert state.base_commit is not None
    async with _temporary(Path(state.inputs.repo), state.base_commit) as path:
        code, text = await _run_verifier(state, path, environ)
    tail = redact(text.strip().splitlines()[-1] if text.strip() else "")
    return Check(
        "red",
        code != 0,
        f"verifier exit {code} on base {state.base_commit[:12]}" + (f" ({tail})" if tail else ""),
    )


async def verify_mission(
    state: MissionState, evidence: Path, *, red: bool, environ: Mapping[str, str], redact: Redactor
) -> VerifyReport:
    """Check the evidence and rerun the verifier on the mission's result (and base)."""
    if not state.finished:
        raise MissionError(
            f"mission {state.id} has not finished (phase {state.phase}); "
            f"resume it first: tau mission resume {state.id}"
        )
    if state.outcome not in (Outcome.GREEN, Outcome.ALREADY_GREEN):
        raise MissionError(
            f"mission {state.id} ended {state.outcome}"
            + (f" ({state.reason})" if state.reason else "")
            + "; there is no result to verify"
        )
    report = VerifyReport(state.id)
    problems = await asyncio.to_thread(check_sums, evidence)
    report.checks.append(
        Check(
            "evidence",
            not problems,
            "; ".join(problems) if problems else "every file matches SHA256SUMS",
        )
    )
    report.checks.append(await _green_check(state, evidence, environ, redact))
    if red and state.outcome is Outcome.GREEN:
        report.checks.append(await _red_check(state, environ, redact))
    return report
