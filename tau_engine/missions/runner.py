"""The mission state machine: one handler per phase, the state saved around each.

``MissionState.phase`` is the phase running now, or the one a resume starts
at. Every handler is safe to run again from its start after a kill -9: the
worktree is created or found (``branch``), commands are rerun (``setup``,
``red``, ``green``), an edit attempt is restored to the snapshot it began from
before it is redone (``edit``), a commit already made is found by its trailer
(``commit``), and evidence is rewritten whole (``evidence``). A phase's result
is saved in one store transaction before the next phase begins, so a resumed
mission ends with the same outcome and at most one commit.

One process runs a mission at a time: an advisory lock on
``.tau/missions/<id>.lock`` (released by the kernel when the process dies).

Each phase is announced on the caller's ``EventBus`` as a ``mission_phase`` event
when it starts and when it ends (after the state is saved): the phase, the edit
attempt it belongs to, its one-line note, and the outcome and reason on the phase
that concluded the mission. ``tau mission`` renders them as progress lines.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from tau_engine.events import EventBus
from tau_engine.missions import worktree as wt
from tau_engine.missions.attempts import edit_request, record_diff, start_attempt, touched_paths
from tau_engine.missions.editors import Editor
from tau_engine.missions.evidence import EvidenceWriter
from tau_engine.missions.finish import write_final_evidence
from tau_engine.missions.model import (
    STRICT_PROFILES,
    Blocked,
    CommandRun,
    Failed,
    MissionError,
    MissionState,
    Outcome,
    Phase,
)
from tau_engine.missions.phase_ledger import PhaseLedger
from tau_engine.missions.project import is_test_file, named_paths
from tau_engine.missions.records import mission_lock
from tau_engine.missions.repair import (
    budget_problem,
    guard_broken,
    no_progress,
)
from tau_engine.missions.verifier import (
    command_environ,
    command_run,
    log_text,
    run_command,
    same_result,
)
from tau_engine.paths import WorkspacePaths
from tau_engine.store import open_store
from tau_engine.store.api import MissionStore, StoreBackend
from tau_engine.store.job_fence import fence_from_environ, job_store_url

EditorFactory = Callable[[MissionState], Editor]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


class MissionRunner:
    """Runs one mission from its current phase to the end."""

    def __init__(
        self,
        *,
        state: MissionState,
        revision: int,
        store: MissionStore,
        state_dir: Path,
        evidence: EvidenceWriter,
        editor_factory: EditorFactory,
        bus: EventBus | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.ledger = PhaseLedger(
            state=state, revision=revision, store=store, evidence=evidence, bus=bus, clock=clock
        )
        self.state_dir = state_dir
        self.evidence = evidence
        self._editor_factory = editor_factory
        self._editor: Editor | None = None
        self._environ = dict(os.environ if environ is None else environ)
        self._clock = clock
        self._handlers: dict[Phase, Callable[[], Awaitable[None]]] = {
            Phase.BRANCH: self._branch,
            Phase.SETUP: self._setup,
            Phase.RED: self._red,
            Phase.EDIT: self._edit,
            Phase.GREEN: self._green,
            Phase.CHECKS: self._checks,
            Phase.COMMIT: self._commit,
            Phase.EVIDENCE: self._evidence,
            Phase.PUBLISH: self._publish,
        }

    # -- paths -------------------------------------------------------------------------
    @property
    def repo(self) -> Path:
        return Path(self.state.inputs.repo)

    def _job_store(self) -> StoreBackend:
        """The store of the workspace whose ``.tau/`` is ``state_dir`` (its job queue): the
        one the job's worker named in the real environment (``job_fence.job_store_url``)."""
        return open_store(WorkspacePaths(self.state_dir.parent), job_store_url(os.environ))

    @property
    def worktree(self) -> Path:
        return self.repo / (self.state.worktree or f".tau/worktrees/{self.state.id}")

    # -- the loop ----------------------------------------------------------------------
    async def run(self) -> MissionState:
        """Run to ``done``; returns the final state."""
        with mission_lock(self.state_dir, self.state.id):
            try:
                while self.state.phase is not Phase.DONE:
                    handler = self._handlers.get(self.state.phase)
                    if handler is None:
                        raise MissionError(
                            f"mission {self.state.id} cannot resume at phase {self.state.phase}"
                        )
                    await self.ledger.begin()
                    await handler()
            finally:
                if self._editor is not None:
                    await self._editor.aclose()
        return self.state

    async def _run(self, command: str, log: str) -> tuple[CommandRun, str]:
        output = await run_command(
            command,
            self.worktree,
            timeout_s=self.state.inputs.verifier_timeout_s,
            env=command_environ(self.worktree, self._environ),
        )
        text = log_text(command, output)
        self.evidence.write(log, text)
        return command_run(command, output, log), self.evidence.read(log)

    # -- phases ------------------------------------------------------------------------
    async def _branch(self) -> None:
        state = self.state
        assert state.base_commit is not None
        branch = wt.branch_name(state.id)
        rel = f".tau/worktrees/{state.id}"
        await asyncio.to_thread(
            wt.ensure_worktree, self.repo, self.repo / rel, branch, state.base_commit
        )
        state.branch, state.worktree = branch, rel
        await self.ledger.end(
            Phase.SETUP if state.inputs.setup else Phase.RED,
            f"worktree {rel} on {branch} from {state.base_commit[:12]}",
        )

    async def _setup(self) -> None:
        command = self.state.inputs.setup
        assert command is not None
        run, _ = await self._run(command, "setup.log")
        self.state.setup = run
        if not run.ok:
            await self.ledger.conclude(
                Outcome.FAILED,
                Failed.SETUP_FAILED.value,
                f"the setup command exited {run.exit_code} (setup.log)",
            )
            return
        await self.ledger.end(Phase.RED, f"setup exited 0 in {run.duration_s:.1f}s (setup.log)")

    async def _red(self) -> None:
        inputs = self.state.inputs
        assert inputs.verifier is not None
        runs = []
        for number in range(1, inputs.red_runs + 1):
            log = "red.log" if number == 1 else f"red{number}.log"
            run, _ = await self._run(inputs.verifier, log)
            runs.append(run)
        self.state.red = runs
        first = runs[0]
        if any(not same_result(first, other) for other in runs[1:]):
            results = "; ".join(
                f"run {i}: exit {r.exit_code}, {len(r.failing)} failing"
                for i, r in enumerate(runs, 1)
            )
            await self.ledger.conclude(
                Outcome.BLOCKED,
                Blocked.FLAKY_VERIFIER.value,
                f"the verifier gave different results on the untouched "
                f"code ({results}); make it deterministic first",
            )
            return
        if first.ok:
            await self.ledger.conclude(
                Outcome.ALREADY_GREEN,
                None,
                f"the verifier passes without any change "
                f"({len(runs)}/{len(runs)} runs); nothing to do",
            )
            return
        if inputs.guard:
            self.state.guard_red, _ = await self._run(inputs.guard, "guard-red.log")
        failing = f"; {_count(len(first.failing), 'failing test')}" if first.failing else ""
        await self.ledger.end(
            Phase.EDIT,
            f"RED: the verifier failed {len(runs)}/{len(runs)} runs "
            f"(exit {first.exit_code}{failing})",
        )

    def _editor_for_run(self) -> Editor:
        if self._editor is None:
            self._editor = self._editor_factory(self.state)
        return self._editor

    def _touched(self) -> list[str]:
        return touched_paths(self.state)

    async def _edit(self) -> None:
        state = self.state
        problem = budget_problem(state)
        if problem is not None:
            await self.ledger.conclude(Outcome.FAILED, problem[0].value, problem[1])
            return
        attempt = state.attempts[-1] if state.attempts else None
        if attempt is not None and attempt.status == "editing" and attempt.start_tree:
            # Killed mid-edit: start the attempt again from where it began.
            await asyncio.to_thread(wt.restore, self.worktree, attempt.start_tree)
        else:
            attempt = await start_attempt(state, self.worktree, self.evidence, self._clock)
            await self.ledger.save()
        assert attempt.start_tree is not None
        request = edit_request(state, self.worktree, attempt, self.evidence)
        result = await self._editor_for_run().edit(request)
        assert state.branch is not None
        try:
            await asyncio.to_thread(wt.check_worktree, self.repo, self.worktree, state.branch)
        except MissionError as exc:
            attempt.status, attempt.error = "error", str(exc)
            attempt.finished_at = self._clock()
            await self.ledger.conclude(
                Outcome.FAILED,
                Failed.EDITOR_ERROR.value,
                f"attempt {attempt.number}: {exc}; nothing more was run in it",
            )
            return
        after = await asyncio.to_thread(wt.snapshot, self.worktree)
        attempt.touched = await asyncio.to_thread(
            wt.changed_paths, self.worktree, attempt.start_tree, after
        )
        attempt.input_tokens, attempt.output_tokens = result.input_tokens, result.output_tokens
        attempt.cost_usd, attempt.summary = result.cost_usd, result.summary
        attempt.session_id = result.session_id
        await record_diff(state, self.worktree, attempt, self.evidence)
        if result.failure is not None:
            attempt.status, attempt.error = "error", result.error
            attempt.finished_at = self._clock()
            await self.ledger.conclude(
                Outcome.FAILED, result.failure.value, f"attempt {attempt.number}: {result.error}"
            )
            return
        attempt.status = "edited"
        await self.ledger.end(
            Phase.GREEN,
            f"attempt {attempt.number}: {result.summary or 'edited'} "
            f"(+{attempt.diff_added} -{attempt.diff_removed} in "
            f"{_count(attempt.diff_files, 'file')})",
        )

    async def _green(self) -> None:
        state, inputs = self.state, self.state.inputs
        attempt = state.attempts[-1]
        assert inputs.verifier is not None
        folder = f"attempts/{attempt.number}"
        attempt.verifier, _ = await self._run(inputs.verifier, f"{folder}/verifier.log")
        attempt.guard, attempt.guard_broken = None, []
        if attempt.verifier.ok and inputs.guard:
            attempt.guard, _ = await self._run(inputs.guard, f"{folder}/guard.log")
            attempt.guard_broken = guard_broken(state.guard_red, attempt.guard)
        green = attempt.verifier.ok and not attempt.guard_broken
        attempt.status = "green" if green else "red"
        attempt.finished_at = self._clock()
        if green and not attempt.diff_sha256:
            await self.ledger.conclude(
                Outcome.BLOCKED,
                Blocked.FLAKY_VERIFIER.value,
                "the verifier passed with no change made after failing at "
                "RED; make it deterministic first",
            )
            return
        if green:
            await self.ledger.end(
                Phase.CHECKS,
                f"attempt {attempt.number}: GREEN (verifier exit 0"
                + (", guard green" if attempt.guard else "")
                + ")",
            )
            return
        if attempt.verifier.ok:
            reason, what = (
                Failed.TESTS_BROKEN,
                ("the guard shows tests broken: " + ", ".join(attempt.guard_broken[:10])),
            )
        else:
            reason, what = (
                Failed.STILL_RED,
                (f"the verifier still fails (exit {attempt.verifier.exit_code})"),
            )
        if no_progress(state.attempts):
            await self.ledger.conclude(
                Outcome.FAILED,
                Failed.NO_PROGRESS.value,
                f"two attempts in a row ended with the same failures and the same diff; {what}",
            )
        elif inputs.authority != "provider":
            await self.ledger.conclude(Outcome.FAILED, reason.value, f"{what} after the patch")
        elif len(state.attempts) >= inputs.max_attempts:
            await self.ledger.conclude(
                Outcome.FAILED,
                Failed.BUDGET_ATTEMPTS.value,
                f"{what} after {len(state.attempts)} attempts "
                f"(--max-attempts {inputs.max_attempts})",
            )
        else:
            await self.ledger.end(Phase.EDIT, f"attempt {attempt.number}: {what}; repairing")

    async def _checks(self) -> None:
        state = self.state
        assert state.base_commit is not None
        base = state.base_commit
        tree = await asyncio.to_thread(wt.result_tree, self.worktree, base, self._touched())
        changed = await asyncio.to_thread(wt.changed_paths, self.worktree, base, tree)
        named = named_paths(state.inputs.verifier) + named_paths(state.inputs.guard)
        state.modified_test_files = [p for p in changed if is_test_file(p, named)]
        state.tests_modified = bool(state.modified_test_files)
        shown = ", ".join(state.modified_test_files[:5])
        if state.tests_modified and state.inputs.profile in STRICT_PROFILES:
            await self.ledger.conclude(
                Outcome.BLOCKED,
                Blocked.VERIFIER_MODIFIED.value,
                f"the change modifies the verifier's tests ({shown}), which "
                f"the {state.inputs.profile} profile does not accept",
            )
            return
        note = f"test files modified: {shown}" if state.tests_modified else "test files unchanged"
        if state.inputs.commit:
            await self.ledger.end(Phase.COMMIT, note)
        else:
            await self.ledger.conclude(Outcome.GREEN, None, f"{note}; not committed (--no-commit)")

    async def _commit(self) -> None:
        state = self.state
        assert state.base_commit is not None and state.branch is not None
        base, branch = state.base_commit, state.branch
        found = await asyncio.to_thread(wt.find_commit, self.worktree, base, branch, state.id)
        if found is None:
            # Run by a background job (``tau jobs``): its id goes in a trailer, and right
            # before the commit the job's fence must still hold (the real environment's,
            # never a workspace file's), or an attempt that lost its job would commit.
            job = fence_from_environ(os.environ)
            tree = await asyncio.to_thread(wt.result_tree, self.worktree, base, self._touched())
            message = wt.commit_message(
                state.inputs.title,
                state.inputs.task,
                state.id,
                {"Tau-Job": job.job_id} if job else None,
            )
            if job is not None:
                await asyncio.to_thread(self._job_store().check_job_fence, job)
            found = await asyncio.to_thread(
                lambda: wt.commit(
                    self.worktree, base=base, branch=branch, tree=tree, message=message
                )
            )
        state.commit = found
        await self.ledger.conclude(Outcome.GREEN, None, f"committed {found[:12]} on {branch}")

    async def _evidence(self) -> None:
        await write_final_evidence(self)
        publish = (
            self.state.inputs.publish
            and self.state.outcome is Outcome.GREEN
            and self.state.commit is not None
        )
        self.ledger.write_mission_json_for(Phase.PUBLISH if publish else Phase.DONE)
        self.evidence.write_sums()
        await self.ledger.end(
            Phase.PUBLISH if publish else Phase.DONE,
            f"evidence in {self.evidence.root}",
            mission_json=False,
        )

    async def _publish(self) -> None:
        from tau_engine.missions.publish import publish

        self.state.publication = await asyncio.to_thread(publish, self.state, self._environ)
        self.ledger.write_mission_json_for(Phase.DONE)
        self.evidence.write_sums()
        await self.ledger.end(Phase.DONE, self.state.publication.reason, mission_json=False)
