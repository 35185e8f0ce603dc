"""A mission's phases on record: saved around each phase, announced on the bus.

``PhaseLedger`` holds the mission's state and its store revision. ``begin`` records
that the current phase starts (closing a phase a kill interrupted) and saves;
``end`` records its note, moves to the next phase and saves, in one store
transaction, before the next phase begins; ``conclude`` settles the outcome and
moves to evidence. Each is announced as a ``mission_phase`` event. ``mission.json``
in the evidence folder is rewritten with every save.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from tau_engine.events import EventBus, MissionPhaseEvent
from tau_engine.missions.evidence import EvidenceWriter
from tau_engine.missions.model import MissionState, Outcome, Phase, PhaseRecord
from tau_engine.missions.records import state_to_row
from tau_engine.store.api import MissionStore


class PhaseLedger:
    """Records, saves and announces a mission's phases."""

    def __init__(
        self,
        *,
        state: MissionState,
        revision: int,
        store: MissionStore,
        evidence: EvidenceWriter,
        bus: EventBus | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.revision = revision
        self.store = store
        self.evidence = evidence
        self.bus = bus
        self.clock = clock

    async def save(self, *, mission_json: bool = True) -> None:
        """Save the state (a new revision) and, unless told not to, ``mission.json``."""
        self.state.updated_at = self.clock()
        row = await self.store.save(state_to_row(self.state, self.revision))
        self.revision = row.revision
        if mission_json:
            self.write_mission_json()

    def write_mission_json(self) -> None:
        """``mission.json``: the state as the evidence shows it (durations in seconds)."""
        data = self.state.model_dump(mode="json")
        data["inputs"] = self.state.inputs.public()
        data["elapsed_s"] = round(self.state.elapsed_s, 3)
        data["input_tokens"], data["output_tokens"] = (
            self.state.input_tokens,
            self.state.output_tokens,
        )
        data["cost_usd"] = self.state.cost_usd
        for attempt in data["attempts"]:
            if attempt["finished_at"] is not None:
                attempt["duration_s"] = round(attempt["finished_at"] - attempt["started_at"], 3)
        self.evidence.write_json("mission.json", data)

    def write_mission_json_for(self, next_phase: Phase) -> None:
        """mission.json as it will be once the phase ends (written before SHA256SUMS)."""
        record = self.state.phases[-1]
        saved = (self.state.phase, record.finished_at)
        self.state.phase, record.finished_at = next_phase, self.clock()
        try:
            self.write_mission_json()
        finally:
            self.state.phase, record.finished_at = saved

    async def begin(self) -> None:
        """The current phase starts."""
        last = self.state.phases[-1] if self.state.phases else None
        now = self.clock()
        if last is not None and last.finished_at is None:
            # Killed during this phase: it ended, at the latest, when the state was saved.
            last.finished_at = max(last.started_at, self.state.updated_at)
            last.note = "interrupted"
        self.state.phases.append(PhaseRecord(name=self.state.phase, started_at=now))
        await self.save()
        self.announce("started")

    async def end(
        self, next_phase: Phase, note: str, *, mission_json: bool = True, concluded: bool = False
    ) -> None:
        """The current phase ended, saying ``note``; ``next_phase`` runs next."""
        record = self.state.phases[-1]
        record.finished_at = self.clock()
        record.note = note
        done = self.state.phase
        self.state.phase = next_phase
        await self.save(mission_json=mission_json)
        self.announce("finished", done, note, concluded=concluded)

    async def conclude(
        self, outcome: Outcome, reason: str | None, message: str, unblock: str | None = None
    ) -> None:
        """The mission's outcome is settled in the current phase: on to the evidence."""
        self.state.outcome = outcome
        self.state.outcome_phase = self.state.phase
        self.state.reason = reason
        self.state.message = message
        self.state.unblock_command = unblock
        await self.end(
            Phase.EVIDENCE,
            f"{outcome.value}" + (f" ({reason})" if reason else "") + f": {message}",
            concluded=True,
        )

    def announce(
        self,
        status: Literal["started", "finished"],
        phase: Phase | None = None,
        note: str = "",
        *,
        concluded: bool = False,
    ) -> None:
        """A ``mission_phase`` event for ``phase`` (default: the current one)."""
        if self.bus is None:
            return
        state = self.state
        phase = phase or state.phase
        attempt = None
        if phase in (Phase.EDIT, Phase.GREEN) and state.attempts:
            last = state.attempts[-1]
            # An edit phase starts a new attempt, unless it redoes one a kill stopped.
            if not (phase is Phase.EDIT and status == "started" and last.status != "editing"):
                attempt = last.number
        self.bus.emit(
            MissionPhaseEvent(
                mission_id=state.id,
                phase=phase,
                status=status,
                attempt=attempt,
                note=note,
                outcome=state.outcome if concluded else None,
                reason=state.reason if concluded else None,
            )
        )
