"""``SqlSessionStore``: the ``SessionStore`` (``store/api.py``) over any SQL backend.

The session logic is written once here, in SQL both SQLite and PostgreSQL run (their
differences come from the backend's ``Dialect``); a backend subclasses it with how it
opens its database, locks a session and appends events. Every public coroutine runs its
work on ``asyncio.to_thread`` so that a UI event loop never blocks on the database.
Every write is one transaction: an append inserts the message, moves the head and adds
the usage to the totals together, so a killed process loses at most what it had not
committed.

Several processes may open the same store (the TUI, a headless run, live-watch). A
session itself is written by one process at a time: the one holding its
``lock_session`` lock.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from tau_engine.conversation import Message, StoredMessage, Usage
from tau_engine.errors import StoreError
from tau_engine.events import BaseEvent
from tau_engine.paths import WorkspacePaths
from tau_engine.store.api import HeldLock
from tau_engine.store.blobs import BlobStore
from tau_engine.store.models import (
    HEAD,
    NewMessage,
    ParentRef,
    SessionInfo,
    UndoReport,
    new_session_id,
)
from tau_engine.store.sql.checkpoints import Checkpoints
from tau_engine.store.sql.event_buffer import BufferedEventWriter
from tau_engine.store.sql.protocol import Dialect, SqlDatabase
from tau_engine.store.sql.queries import (
    branch_tips,
    find_sessions,
    last_event_seq,
    request_path,
    require_session,
    session_path,
    tool_results_of,
)
from tau_engine.store.sql.session_core import SessionCore
from tau_engine.store.sql.transfer import export_session, import_session

P = ParamSpec("P")
T = TypeVar("T")


class SqlSessionStore(SessionCore, ABC):
    """Async access to one store's sessions; a backend subclasses it (see the module)."""

    def __init__(
        self,
        paths: WorkspacePaths,
        db: SqlDatabase,
        dialect: Dialect,
        *,
        where: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.paths = paths
        self.where = where
        self._db = db
        self._dialect = dialect
        self._clock = clock
        self._checkpoints = Checkpoints(
            db, dialect, BlobStore(paths.checkpoints_dir), paths.root, clock, self._check_writer
        )
        self._writers: weakref.WeakSet[BufferedEventWriter] = weakref.WeakSet()

    def close(self) -> None:
        """Close open event writers (flushing them) and the connection."""
        failure: StoreError | None = None
        for writer in list(self._writers):
            try:
                writer.close()
            except StoreError as exc:
                failure = failure or exc
        self._db.close()
        self._closed_hook()
        if failure is not None:
            raise failure

    @abstractmethod
    def _closed_hook(self) -> None:
        """What a backend releases once the connection is closed."""

    # -- what a backend provides ------------------------------------------------
    @abstractmethod
    def lock_session(self, session_id: str) -> HeldLock:
        """Take the session's write lock (``SessionLockedError`` names the holder).

        Whoever changes a session (a run, undo, redo, delete) holds it; readers
        and forks need not.
        """

    @abstractmethod
    def _new_event_writer(self, session_id: str) -> BufferedEventWriter:
        """A writer with its own connection to this store."""

    # -- sessions -----------------------------------------------------------

    async def create_session(
        self,
        *,
        model: str,
        title: str = "",
        meta: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> SessionInfo:
        """A new empty session; its title is set from the first user prompt if blank.

        ``session_id`` lets a caller lock the id before the session exists (see
        ``lock_session``), so no other process can take it in between.
        """
        return await self._run(
            self._create_session, model, title, meta or {}, session_id or new_session_id()
        )

    async def get_session(self, id_or_prefix: str) -> SessionInfo:
        """The session whose id is or starts with ``id_or_prefix``.

        ``SessionNotFoundError`` when none matches, or several do (listing them).
        """
        return await self._read_small(find_sessions, id_or_prefix)

    async def latest_session(self) -> SessionInfo | None:
        """The most recently updated session, if any."""
        sessions = await self.list_sessions(limit=1)
        return sessions[0] if sessions else None

    async def list_sessions(self, limit: int = 50) -> list[SessionInfo]:
        """Sessions, most recently updated first."""
        return await self._run(self._list_sessions, limit)

    async def delete_session(self, session_id: str) -> None:
        """Delete a session with its messages, events and checkpoints (and unused blobs)."""
        await self._run(self._delete_session, session_id)

    async def set_title(self, session_id: str, title: str) -> None:
        await self._run(self._update_session, session_id, "title", title)

    async def set_model(self, session_id: str, model: str) -> None:
        await self._run(self._update_session, session_id, "model", model)

    async def set_meta(self, session_id: str, meta: dict[str, Any]) -> None:
        """Replace the session's free-form metadata."""
        await self._run(self._update_session, session_id, "meta", json.dumps(meta))

    async def totals(self, session_id: str) -> tuple[Usage, float | None]:
        """What the session has spent: summed usage and cost (``None`` if never priced)."""
        info = await self._run(self._read, require_session, session_id)
        return info.usage, info.cost_usd

    # -- messages -----------------------------------------------------------

    async def append(
        self,
        session_id: str,
        message: Message,
        *,
        parent_id: ParentRef = HEAD,
        usage: Usage | None = None,
        cost_usd: float | None = None,
        model: str | None = None,
    ) -> StoredMessage:
        """Add a message after ``parent_id`` (the head by default) and make it the head.

        One transaction inserts it, moves the head, adds ``usage``/``cost_usd``
        to the totals and clears the redo stack. A ``parent_id`` other than
        the head starts a branch; the old line stays reachable as a branch tip.
        """
        stored = await self._run(
            self._append, session_id, [NewMessage(message, usage, cost_usd, model)], parent_id
        )
        return stored[0]

    async def append_many(
        self,
        session_id: str,
        messages: Sequence[Message | NewMessage],
        *,
        parent_id: ParentRef = HEAD,
    ) -> list[StoredMessage]:
        """Append a chain of messages (e.g. a turn's tool results) in one transaction."""
        items = [m if isinstance(m, NewMessage) else NewMessage(m) for m in messages]
        return await self._run(self._append, session_id, items, parent_id)

    async def history(self, session_id: str, head_id: str | None = None) -> list[StoredMessage]:
        """The conversation from the root to ``head_id`` (the session's head by default)."""
        return await self._run(self._read, session_path, session_id, head_id, None)

    async def request_history(self, session_id: str) -> list[StoredMessage]:
        """What a request is built from: the path from its last compaction on, with the
        messages that compaction kept and the pinned ones (see ``request_path``). The
        same ``request_view`` as the whole history, without parsing what was summarized."""
        return await self._run(self._read, request_path, self._dialect, session_id)

    async def tool_results_of(
        self, session_id: str, *, names: Collection[str], meta_key: str
    ) -> list[StoredMessage]:
        """Tool results of the session, any branch, from one of ``names`` or flagged with
        ``meta_key``: what a tracker of the whole session needs, when the rest of it is
        loaded from the last compaction only."""
        return await self._run(
            self._read, tool_results_of, self._dialect, session_id, sorted(names), meta_key
        )

    async def recent(self, session_id: str, limit: int) -> list[StoredMessage]:
        """The last ``limit`` messages of the head path, oldest first."""
        return await self._run(self._read, session_path, session_id, None, limit)

    async def branches(self, session_id: str) -> list[StoredMessage]:
        """Branch tips: messages nothing continues (undone or forked-off work included)."""
        return await self._run(self._read, branch_tips, self._dialect, session_id)

    async def set_head(self, session_id: str, message_id: str) -> None:
        """Switch the session to another line of work (clears the redo stack)."""
        await self._run(self._set_head, session_id, message_id)

    async def fork(
        self,
        session_id: str,
        at_message_id: str,
        *,
        title: str | None = None,
        fork_id: str | None = None,
    ) -> SessionInfo:
        """A new session whose history is a copy of the path up to ``at_message_id``.

        Messages are copied with new ids (the two sessions share nothing and
        either can be deleted), with their file checkpoints, so undo works in
        the fork too. The original session is not touched, and may be in use by
        another process: the copy is one consistent snapshot of it.
        """
        return await self._run(
            self._fork, session_id, at_message_id, title, fork_id or new_session_id()
        )

    # -- undo / redo ----------------------------------------------------------

    async def checkpoint_file(self, session_id: str, turn_message_id: str, path: Path) -> None:
        """Save ``path``'s bytes (or its absence) before the turn's first change to it.

        ``turn_message_id`` is the user message that started the turn. Called
        again for the same turn and path, it does nothing.
        """
        await self._run(self._checkpoints.checkpoint_file, session_id, turn_message_id, path)

    async def undo(self, session_id: str, workspace_root: Path | None = None) -> UndoReport:
        """Remove the last user turn from the head path and restore the files it changed."""
        return await self._run(self._checkpoints.undo, session_id, workspace_root)

    async def redo(self, session_id: str, workspace_root: Path | None = None) -> UndoReport:
        """Reapply the most recent undo, files included."""
        return await self._run(self._checkpoints.redo, session_id, workspace_root)

    # -- events ---------------------------------------------------------------

    def event_writer(self, session_id: str) -> BufferedEventWriter:
        """A buffered writer of the session's events (close it at the end of the run)."""
        writer = self._new_event_writer(session_id)
        self._writers.add(writer)
        return writer

    async def events(
        self, session_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[BaseEvent]:
        """Logged events with ``seq > after_seq``, in order (live-watch polls this)."""
        return await self._run(self._events, session_id, after_seq, limit)

    async def last_seq(self, session_id: str) -> int:
        """The highest logged ``seq`` of the session, 0 if none."""
        return await self._read_small(last_event_seq, session_id)

    # -- export / import ------------------------------------------------------

    async def export_jsonl(
        self, session_id: str, dest: Path, redact: Callable[[Any], Any] | None = None
    ) -> int:
        """Write the whole session (all branches, events) as JSONL; return lines written.
        ``redact`` (the redaction funnel) sees every record before it is written."""
        return await self._run(export_session, self._db, self._dialect, session_id, dest, redact)

    async def import_jsonl(self, src: Path) -> SessionInfo:
        """Recreate an exported session with its ids (``UsageError`` if the id is taken)."""
        session_id = await self._run(import_session, self._db, self._dialect, src)
        return await self._run(self._read, require_session, session_id)

    # -- synchronous core -----------------------------------------------------

    async def _run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._db.closed:
            raise StoreError(f"the session store {self.where} is closed")
        return await asyncio.to_thread(func, *args, **kwargs)

    async def _read_small(self, query: Callable[..., T], *args: Any) -> T:
        """A small, bounded read (a backend may answer it without a thread hop)."""
        return await self._run(self._read, query, *args)

    def _read(self, query: Callable[..., T], *args: Any) -> T:
        with self._db.read() as conn:
            return query(conn, *args)
