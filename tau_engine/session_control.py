"""``SessionControl``: a workspace's sessions, and which one is current.

It holds the store, the current session and that session's write lock (so no
other process continues it), and does what the session commands ask: start a
new session, resume, fork, undo, redo, list, export. The engine holds one and
hooks in (``guard`` refuses a change while a turn runs; ``on_switch`` and
``on_rewrite`` drop the agent loop bound to the old history; ``on_leave`` runs
while the session being left is still current and locked). ``tau sessions``
opens one on its own, with no model or provider, and names the session to act
on (``session=``) instead of switching to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tau_engine.conversation import StoredMessage
from tau_engine.errors import UsageError
from tau_engine.paths import WorkspacePaths
from tau_engine.protocol.state import SessionSummary
from tau_engine.store import SessionInfo, SessionStore, UndoReport, open_store
from tau_engine.store.claim import IfBusy, claim_session
from tau_engine.store.models import new_session_id
from tau_engine.store.session_lock import LockSlot


def _nothing() -> None:
    return None


class SessionControl:
    """The sessions of one workspace's store; ``current`` is locked while it is held."""

    def __init__(self, store: SessionStore, paths: WorkspacePaths) -> None:
        self.store = store
        self.paths = paths
        self.current: SessionInfo | None = None
        # Whether the next run continues an existing session (``session_started``).
        self.resumed = False
        self.guard: Callable[[], None] = _nothing  # raises UsageError while a turn runs
        self.on_leave: Callable[[], None] = _nothing  # the current one is about to be left
        self.on_switch: Callable[[], None] = _nothing  # another session is current
        self.on_rewrite: Callable[[], None] = _nothing  # the current history changed
        self.redact: Callable[[Any], Any] | None = None  # what an export writes
        self._locks = LockSlot(store.lock_session)

    @classmethod
    async def open(
        cls, paths: WorkspacePaths, *, read_only: bool = False, store_url: str | None = None
    ) -> SessionControl:
        """Open the workspace's store (``store_url``: the selected one, default the
        workspace's SQLite file; ``read_only``: one the user cannot write works too, for
        listing and exporting)."""
        backend = open_store(paths, store_url)
        store = await asyncio.to_thread(backend.open_sessions, read_only=read_only)
        return cls(store, paths)

    # -- the current session ------------------------------------------------------------
    async def claim(self, session: SessionInfo, *, if_busy: IfBusy) -> str | None:
        """Make ``session`` current, locked (or, when another process has it, a fork of it
        or none, by ``if_busy``); the notice saying so, if any."""
        claimed, notice = await claim_session(self.store, self._locks, session, if_busy=if_busy)
        self.current = claimed
        self.resumed = claimed is not None
        return notice

    async def open_first(
        self, resume: str | None, continue_latest: bool, *, if_busy: IfBusy
    ) -> list[str]:
        """Make the session to start with current: ``resume`` (an id or prefix), else with
        ``continue_latest`` the latest one, else none (the first prompt starts one). The
        notices saying what happened instead, if anything did."""
        session = None
        if resume:
            session = await self.store.get_session(resume)
        elif continue_latest:
            session = await self.store.latest_session()
            if session is None:
                return ["no earlier session in this workspace; starting a new one"]
        notice = None if session is None else await self.claim(session, if_busy=if_busy)
        return [notice] if notice else []

    def summary(self) -> SessionSummary | None:
        """The current session as a front end shows it (None before the first prompt)."""
        info = self.current
        if info is None:
            return None
        return SessionSummary(
            id=info.id,
            title=info.title,
            model=info.model,
            message_count=info.message_count,
            cost_usd=info.cost_usd,
        )

    async def create(self, model_id: str) -> SessionInfo:
        """Start the current session, locked before it exists (no other process can
        continue it first); the store titles it from its first user message."""
        session_id = new_session_id()
        self._locks.hold(session_id)
        self.current = await self.store.create_session(model=model_id, session_id=session_id)
        return self.current

    async def refresh(self) -> SessionInfo | None:
        """Read the current session again (after a run: its head, totals and title)."""
        if self.current is not None:
            self.current = await self.store.get_session(self.current.id)
        return self.current

    def switch(self, session: SessionInfo | None, *, resumed: bool) -> None:
        """Make ``session`` current (None: the next prompt starts one), holding its lock."""
        self.guard()
        self.on_leave()
        if session is None:
            self._locks.release()
        else:
            self._locks.hold(session.id)
        self.current = session
        self.resumed = resumed
        self.on_switch()

    async def new(self) -> SessionInfo | None:
        """Start a fresh session (created with the next prompt); the one left, if any."""
        previous = self.current
        self.switch(None, resumed=False)
        return previous

    async def resume(self, id_or_prefix: str) -> SessionInfo:
        """Switch to another session (``SessionLockedError`` if a process is running it)."""
        session = await self.store.get_session(id_or_prefix)
        self.switch(session, resumed=True)
        # Re-read it: its last writer may have moved on before the lock was ours.
        self.current = session = await self.store.get_session(session.id)
        return session

    # -- reading --------------------------------------------------------------------------
    async def history(self) -> list[StoredMessage]:
        if self.current is None:
            return []
        return await self.store.history(self.current.id)

    async def recent(self, limit: int) -> list[StoredMessage]:
        if self.current is None:
            return []
        return await self.store.recent(self.current.id, limit)

    async def list(self, limit: int = 50) -> list[SessionInfo]:
        """The workspace's sessions, newest first."""
        return await self.store.list_sessions(limit)

    async def export(
        self, dest: str | Path | None = None, *, session: str | None = None
    ) -> tuple[str, Path, int]:
        """Write a session (the current one, or ``session``) as JSONL to ``dest``, relative
        to the workspace root (default ``tau-ID.jsonl`` there): (session id, the file,
        the records written)."""
        if session is not None:
            session_id = (await self.store.get_session(session)).id
        elif self.current is not None:
            session_id = self.current.id
        else:
            raise UsageError("nothing to export: no session yet")
        root = self.paths.root
        path = Path(dest).expanduser() if dest else root / f"tau-{session_id[:8]}.jsonl"
        if not path.is_absolute():
            path = root / path
        return session_id, path, await self.store.export_jsonl(session_id, path, redact=self.redact)

    # -- changing history -------------------------------------------------------------------
    async def undo(self, *, session: str | None = None) -> UndoReport:
        """Undo the last user turn of the current session (or of ``session``, locked for
        the while), restoring the files it changed."""
        return await self._rewrite("undo", session)

    async def redo(self, *, session: str | None = None) -> UndoReport:
        """Redo the last undone turn (of the current session, or of ``session``)."""
        return await self._rewrite("redo", session)

    async def _rewrite(self, action: str, session: str | None) -> UndoReport:
        store = self.store
        if session is not None:
            info = await store.get_session(session)
            if self.current is None or info.id != self.current.id:
                # A session another process is running is not changed under it.
                with store.lock_session(info.id):
                    report: UndoReport = await getattr(store, action)(info.id, self.paths.root)
                return report
        if self.current is None:
            raise UsageError(f"nothing to {action}: no session yet")
        self.guard()
        report = await getattr(store, action)(self.current.id, self.paths.root)
        self.on_rewrite()
        self.current = await store.get_session(self.current.id)
        return report

    async def fork(
        self, at_message_id: str | None = None, *, session: str | None = None
    ) -> SessionInfo:
        """Branch the current session into a new one at a message (default: its head) and
        continue in the fork; with ``session``, fork that one and stay where we are (it
        need not be free: forking changes nothing of it)."""
        if session is not None:
            info = await self.store.get_session(session)
            target = at_message_id or info.head_id
            if target is None:
                raise UsageError(f"session {info.id[:8]} is empty; nothing to fork")
            return await self.store.fork(info.id, target)
        current = self.current
        if current is None:
            raise UsageError("nothing to fork: no session yet")
        target = at_message_id or current.head_id
        if target is None:
            raise UsageError("nothing to fork: the session is empty")
        self.guard()
        fork_id = new_session_id()
        self._locks.hold(fork_id)  # the fork is ours before it exists
        try:
            forked = await self.store.fork(current.id, target, fork_id=fork_id)
        except BaseException:
            self._locks.hold(current.id)
            raise
        self.switch(forked, resumed=True)
        return forked

    def close(self) -> None:
        """Release the current session's lock and close the store."""
        try:
            self.store.close()
        finally:
            self._locks.release()

    def release(self) -> None:
        """Release the current session's lock (the store stays open)."""
        self._locks.release()
