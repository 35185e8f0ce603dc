"""A mission in the transcript, as plain data: its phases as they happen, then its outcome.

``MissionEntry`` is built from the engine's ``mission_phase`` events while the
mission runs (``apply_phase_event``) and settled from the mission's final state
(``settle``), whose phase records carry the authoritative timings. The card
(``mission_card.py``) is rendered from the entry alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tau_tui.widgets.entry_ids import next_entry_id

if TYPE_CHECKING:
    from tau_engine.commands.results import MissionFinished
    from tau_engine.events import MissionPhaseEvent


RowStatus = Literal["running", "done", "stopped"]


@dataclass
class PhaseRow:
    """One phase (of one edit attempt, for ``edit`` and ``green``) on the card."""

    phase: str
    status: RowStatus = "running"
    attempt: int | None = None
    note: str = ""
    started_at: float = 0.0
    finished_at: float | None = None

    @property
    def label(self) -> str:
        return self.phase + (f" #{self.attempt}" if self.attempt else "")

    @property
    def duration_s(self) -> float | None:
        return None if self.finished_at is None else max(0.0, self.finished_at - self.started_at)


@dataclass(eq=False)
class MissionEntry:
    """A ``/mission`` the user started in this conversation."""

    task: str  # as typed, or "" for the conversation's last prompt
    started_at: float
    mission_id: str | None = None
    rows: list[PhaseRow] = field(default_factory=list)
    running: bool = True
    stopped: bool = False  # cancelled: resumable with ``tau mission resume``
    finished_at: float | None = None
    title: str = ""
    outcome: str | None = None
    reason: str | None = None
    message: str = ""
    unblock_command: str | None = None
    commit: str | None = None
    branch: str | None = None
    evidence_dir: Path | None = None
    publish_commands: tuple[str, ...] = ()
    error: str | None = None  # the command failed before a mission was recorded
    uid: int = field(default_factory=next_entry_id)

    @property
    def current_phase(self) -> str | None:
        running = [row for row in self.rows if row.status == "running"]
        return running[-1].phase if running else (self.rows[-1].phase if self.rows else None)

    @property
    def resume_command(self) -> str | None:
        return f"tau mission resume {self.mission_id}" if self.mission_id else None

    @property
    def next_command(self) -> str | None:
        """The command that moves this mission on: its unblock command when blocked, how
        to resume it when stopped."""
        if self.outcome == "blocked":
            return self.unblock_command
        if self.stopped:
            return self.resume_command
        return None

    @property
    def elapsed_s(self) -> float | None:
        return None if self.finished_at is None else max(0.0, self.finished_at - self.started_at)


def apply_phase_event(entry: MissionEntry, event: MissionPhaseEvent) -> None:
    """Show one ``mission_phase`` event on the entry."""
    entry.mission_id = event.mission_id
    phase = str(event.phase)
    if event.status == "started":
        entry.rows.append(
            PhaseRow(phase, attempt=event.attempt, started_at=event.ts or entry.started_at)
        )
    elif event.status == "resumed":
        entry.rows.append(PhaseRow(phase, "done", note=event.note, started_at=event.ts))
        entry.rows[-1].finished_at = event.ts
    else:
        row = next(
            (r for r in reversed(entry.rows) if r.phase == phase and r.status == "running"), None
        )
        if row is None:  # intake announces only its end
            row = PhaseRow(phase, started_at=entry.started_at)
            entry.rows.append(row)
        row.status, row.note, row.finished_at = "done", event.note, event.ts
        row.attempt = event.attempt or row.attempt
    if event.outcome is not None:
        entry.outcome, entry.reason = str(event.outcome), event.reason


def settle(entry: MissionEntry, result: MissionFinished, now: float) -> None:
    """The mission ended: show its outcome, from its final state."""
    state = result.state
    entry.mission_id = state.id
    entry.running = False
    entry.finished_at = now
    entry.title = state.inputs.title
    entry.evidence_dir = result.evidence_dir
    entry.publish_commands = result.publish_commands
    entry.commit, entry.branch = state.commit, state.branch
    if state.finished and state.outcome is not None:
        entry.outcome, entry.reason = state.outcome.value, state.reason
    else:
        entry.stopped = True
    entry.message = state.message
    entry.unblock_command = state.unblock_command
    rows, attempt, redo = [], 0, False
    for record in state.phases:
        name = str(record.name)
        if name == "edit":
            # A new attempt, unless this redoes one that a kill interrupted.
            attempt += 0 if redo else 1
            redo = record.note == "interrupted"
        rows.append(
            PhaseRow(
                name,
                "done" if record.finished_at is not None else "stopped",
                attempt=attempt if name in ("edit", "green") else None,
                note=record.note,
                started_at=record.started_at,
                finished_at=record.finished_at,
            )
        )
    if rows:
        entry.rows = rows


def stop(entry: MissionEntry, now: float) -> None:
    """The user stopped the mission: its running phase ends here, resumable."""
    entry.running = False
    entry.stopped = True
    entry.finished_at = now
    for row in entry.rows:
        if row.status == "running":
            row.status, row.finished_at = "stopped", now


def fail(entry: MissionEntry, message: str, now: float) -> None:
    """The command failed (bad input, not a repository) with no mission to show."""
    entry.running = False
    entry.error = message
    entry.finished_at = now
