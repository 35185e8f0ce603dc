"""A mission announces its phases as ``mission_phase`` events on the caller's bus: each
phase started then finished, in order, the edit attempt on ``edit`` and ``green``, and
the outcome on the phase that concluded the mission."""

from __future__ import annotations

import os
from pathlib import Path

from tau_engine.event_kinds import MissionOutcome, MissionPhase
from tau_engine.events import Event, EventBus, MissionPhaseEvent
from tau_engine.missions.intake import MissionRequest
from tau_engine.missions.service import MissionContext
from tests.missions.support import FIX, VERIFIER, make_calc_repo, write


async def test_a_patch_mission_announces_every_phase(tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    patch = write(tmp_path / "fix.diff", FIX)
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    context = MissionContext.open(repo, environ=dict(os.environ), bus=bus)
    try:
        state = await context.start(
            MissionRequest(
                repo=repo,
                task="Fix add() so that it adds",
                verifier=VERIFIER,
                patch_file=str(patch),
            )
        )
    finally:
        context.close()
    assert state.outcome is MissionOutcome.GREEN
    phases = [e for e in seen if isinstance(e, MissionPhaseEvent)]
    assert len(phases) == len(seen)  # a patch mission runs no agent
    assert {e.mission_id for e in phases} == {state.id}
    assert {(e.seq, e.session_id) for e in phases} == {(0, "")}
    assert [(e.phase.value, e.status) for e in phases] == [
        ("intake", "finished"),
        *[
            (p, s)
            for p in ("branch", "red", "edit", "green", "checks", "commit", "evidence")
            for s in ("started", "finished")
        ],
    ]
    attempts = {(e.phase, e.status): e.attempt for e in phases}
    assert attempts[(MissionPhase.EDIT, "finished")] == 1
    assert attempts[(MissionPhase.GREEN, "started")] == 1
    assert attempts[(MissionPhase.RED, "finished")] is None
    concluded = [e for e in phases if e.outcome is not None]
    assert len(concluded) == 1 and concluded[0].outcome is MissionOutcome.GREEN
    assert concluded[0].note.startswith("green: ")
