"""How a mission's state is stored and guarded: its row, its evidence folder, its lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from tau_engine.missions.model import MissionError, MissionState
from tau_engine.store.models import MissionRow


def evidence_dir(state_dir: Path, mission_id: str) -> Path:
    return state_dir / "missions" / mission_id


def state_to_row(state: MissionState, revision: int) -> MissionRow:
    return MissionRow(
        id=state.id,
        created_at=state.created_at,
        updated_at=state.updated_at,
        title=state.inputs.title,
        phase=state.phase.value,
        outcome=state.outcome.value if state.outcome else None,
        reason=state.reason,
        commit=state.commit,
        state=state.model_dump(mode="json"),
        revision=revision,
    )


@contextlib.contextmanager
def mission_lock(state_dir: Path, mission_id: str) -> Iterator[None]:
    """Hold the mission's run lock, or raise ``MissionError`` if another process has it."""
    path = state_dir / "missions" / f"{mission_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MissionError(f"mission {mission_id} is running in another tau process") from None
        yield
    finally:
        os.close(fd)
