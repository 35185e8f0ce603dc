"""Claiming a session to continue it: its lock, or a fork when another process has it."""

from __future__ import annotations

from typing import Literal

from tau_engine.errors import SessionLockedError
from tau_engine.store.api import SessionStore
from tau_engine.store.models import SessionInfo, new_session_id
from tau_engine.store.session_lock import LockSlot

IfBusy = Literal["fail", "fork", "new"]
"""What to do when another process holds the session: raise, fork it, or start afresh."""


async def claim_session(
    store: SessionStore, slot: LockSlot, session: SessionInfo, *, if_busy: IfBusy = "fail"
) -> tuple[SessionInfo | None, str | None]:
    """Lock ``session`` into ``slot`` and return it freshly read, with no notice.

    When another process holds it: ``"fail"`` raises ``SessionLockedError``;
    ``"fork"`` continues in a fork of its head (a new session locked before it
    exists) and ``"new"`` in no session (the next prompt starts one), each with
    a notice saying so. An empty busy session has nothing to fork: ``"fork"``
    then acts as ``"new"``.
    """
    try:
        slot.hold(session.id)
    except SessionLockedError as exc:
        if if_busy == "fail":
            raise
        busy = exc.message.split(";")[0]
        if if_busy == "new" or session.head_id is None:
            return None, f"{busy}; starting a new session"
        fork_id = new_session_id()
        slot.hold(fork_id)
        forked = await store.fork(session.id, session.head_id, fork_id=fork_id)
        return forked, f"{busy}; continuing in a fork of it: {fork_id[:8]}"
    # Read again: its last writer may have moved on before the lock was ours.
    return await store.get_session(session.id), None
