"""Starting, resuming, finding and verifying missions: what ``tau mission`` calls.

``start_mission`` runs intake (no side effect), records the mission with its
intake decision, and runs it; a blocked mission is recorded and gets its
evidence like any other. ``resume_mission`` continues from the saved phase.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tau_engine.events import EventBus, MissionPhaseEvent
from tau_engine.missions.editors import Editor, PatchEditor
from tau_engine.missions.evidence import EvidenceWriter, Redactor
from tau_engine.missions.intake import MissionRequest, run_intake
from tau_engine.missions.model import (
    MissionError,
    MissionNotFoundError,
    MissionResult,
    MissionState,
    Outcome,
    Phase,
    PhaseRecord,
)
from tau_engine.missions.records import evidence_dir, state_to_row
from tau_engine.missions.runner import EditorFactory, MissionRunner
from tau_engine.paths import WorkspacePaths
from tau_engine.store import MissionRow, MissionStore, open_store


def new_mission_id() -> str:
    """12 hex digits: short enough to type, enough that two missions never collide."""
    return secrets.token_hex(6)


def default_editor_factory(environ: Mapping[str, str]) -> EditorFactory:
    """Patch authority -> ``PatchEditor``; provider authority -> ``AgentEditor``."""

    def make(state: MissionState) -> Editor:
        if state.inputs.authority == "patch":
            assert state.inputs.patch_text is not None
            return PatchEditor(state.inputs.patch_text)
        from tau_engine.missions.agent_editor import AgentEditor

        return AgentEditor.for_mission(state, environ)

    return make


@dataclass
class MissionContext:
    """One workspace's mission store and the settings every run shares."""

    paths: WorkspacePaths
    store: MissionStore
    given_redactor: Redactor | None
    environ: dict[str, str]
    bus: EventBus | None = None  # where the phases are announced (``mission_phase``)
    editor_factory: EditorFactory | None = None

    @property
    def redactor(self) -> Redactor:
        """The evidence redactor (built from the settings on first use: listing and
        showing missions need no settings)."""
        if self.given_redactor is None:
            from tau_engine.missions.environment import evidence_redactor

            self.given_redactor = evidence_redactor(self.paths.root, self.environ)
        return self.given_redactor

    @classmethod
    def open(
        cls,
        repo: Path,
        redactor: Redactor | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        bus: EventBus | None = None,
        store_url: str | None = None,
    ) -> MissionContext:
        """Open the repository's mission store (``store_url``: the selected one, default
        the workspace's SQLite file). Without a ``redactor``, evidence goes through
        ``environment.evidence_redactor``."""
        paths = WorkspacePaths(repo.resolve())
        env = dict(os.environ if environ is None else environ)
        for name in ("missions", "worktrees"):
            if (paths.state_dir / name).is_symlink():
                # Evidence and worktrees would land wherever a planted link points.
                raise MissionError(
                    f"{paths.state_dir / name} is a symbolic link; tau keeps "
                    "missions only in a real folder under .tau/"
                )
        store = open_store(paths, store_url).open_missions()
        return cls(paths, store, redactor, env, bus)

    def close(self) -> None:
        self.store.close()

    def evidence_dir(self, mission_id: str) -> Path:
        return evidence_dir(self.paths.state_dir, mission_id)

    def result(self, state: MissionState) -> MissionResult:
        phase = state.outcome_phase if state.finished and state.outcome_phase else state.phase
        return MissionResult(
            id=state.id,
            phase=phase,
            outcome=state.outcome,
            reason=state.reason,
            unblock_command=state.unblock_command,
            evidence_dir=str(self.evidence_dir(state.id)),
            commit=state.commit,
        )

    def _runner(self, state: MissionState, revision: int) -> MissionRunner:
        return MissionRunner(
            state=state,
            revision=revision,
            store=self.store,
            state_dir=self.paths.state_dir,
            evidence=EvidenceWriter(self.evidence_dir(state.id), self.redactor),
            editor_factory=self.editor_factory or default_editor_factory(self.environ),
            bus=self.bus,
            environ=self.environ,
        )

    async def start(self, request: MissionRequest) -> MissionState:
        """Intake, record, run."""
        started = time.time()
        intake = await asyncio.to_thread(run_intake, request, self.environ)
        verdict = intake.verdict
        now = time.time()
        state = MissionState(
            id=new_mission_id(),
            created_at=started,
            updated_at=now,
            inputs=intake.inputs,
            base_commit=intake.base_commit,
            base_branch=intake.base_branch,
        )
        record = PhaseRecord(name=Phase.INTAKE, started_at=started, finished_at=now)
        state.phases.append(record)
        if verdict.code is not None:
            record.note = f"blocked ({verdict.code.value}): {verdict.message}"
            state.outcome, state.outcome_phase = Outcome.BLOCKED, Phase.INTAKE
            state.reason, state.message = verdict.code.value, verdict.message
            state.unblock_command = verdict.unblock_command
            state.phase = Phase.EVIDENCE
        else:
            authority = (
                f"patch {intake.inputs.patch_file}"
                if intake.inputs.authority == "patch"
                else f"model {intake.inputs.model}"
            )
            record.note = f"authority {authority}; verifier '{intake.inputs.verifier}'"
            state.phase = Phase.BRANCH
        row = await self.store.create(state_to_row(state, 0))
        if self.bus is not None:
            blocked = verdict.code is not None
            self.bus.emit(
                MissionPhaseEvent(
                    mission_id=state.id,
                    phase=Phase.INTAKE,
                    status="finished",
                    note=record.note,
                    outcome=state.outcome if blocked else None,
                    reason=state.reason if blocked else None,
                )
            )
        return await self._runner(state, row.revision).run()

    async def load(self, id_or_prefix: str) -> tuple[MissionState, int]:
        """A mission by id or unique prefix, with its stored revision."""
        ids = await self.store.match(id_or_prefix.strip(), limit=2)
        if not ids or not id_or_prefix.strip():
            raise MissionNotFoundError(
                f"no mission matches '{id_or_prefix}' in "
                f"{self.paths.root} (tau mission list shows them)"
            )
        if len(ids) > 1 and id_or_prefix not in ids:
            raise MissionNotFoundError(
                f"'{id_or_prefix}' matches several missions; give more of the id"
            )
        chosen = id_or_prefix if id_or_prefix in ids else ids[0]
        row = await self.store.get(chosen)
        if row is None:
            raise MissionNotFoundError(f"mission {chosen} disappeared from the store")
        try:
            state = MissionState.model_validate(row.state)
        except ValueError as exc:
            raise MissionError(
                f"mission {chosen}: its stored state cannot be read ({str(exc).splitlines()[0]})"
            ) from exc
        self._check_belongs_here(state, chosen)
        return state, row.revision

    def _check_belongs_here(self, state: MissionState, stored_id: str) -> None:
        """A stored state is input like any other: it must name this repository, its own
        worktree and branch, and an evidence folder that is really inside ``.tau/``."""
        problems = []
        if state.id != stored_id:
            problems.append(f"its state names mission {state.id}")
        if Path(state.inputs.repo).resolve() != self.paths.root:
            problems.append(f"it belongs to {state.inputs.repo}")
        if state.worktree not in (None, f".tau/worktrees/{state.id}"):
            problems.append(f"its worktree is {state.worktree}")
        if state.branch not in (None, f"tau/mission-{state.id}"):
            problems.append(f"its branch is {state.branch}")
        evidence = self.evidence_dir(state.id)
        if (
            evidence.exists()
            and evidence.resolve().parent != (self.paths.state_dir / "missions").resolve()
        ):
            problems.append("its evidence folder leads out of .tau/missions")
        if problems:
            raise MissionError(f"mission {stored_id} cannot be used here: " + "; ".join(problems))

    async def resume(self, id_or_prefix: str) -> MissionState:
        """Continue a mission from its saved phase (a finished one is returned as is)."""
        state, revision = await self.load(id_or_prefix)
        if state.finished:
            return state
        if self.bus is not None:
            self.bus.emit(
                MissionPhaseEvent(
                    mission_id=state.id, phase=state.phase, status="resumed", note="resuming"
                )
            )
        return await self._runner(state, revision).run()

    async def recent(self, limit: int = 50) -> list[MissionRow]:
        """Missions newest first, as their summary columns (readable even when a state
        is not)."""
        return await self.store.recent(limit)


def require_finished(state: MissionState) -> None:
    if not state.finished:
        raise MissionError(
            f"mission {state.id} stopped in phase {state.phase}; tau mission resume {state.id}"
        )
