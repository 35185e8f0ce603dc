"""``SqliteSessionStore``: the ``SessionStore`` (``store/api.py``) in SQLite.

Everything lives in the workspace's ``.tau/tau.db`` (SQLite, WAL) and, for file
checkpoints, ``.tau/checkpoints/``. SQLite is synchronous; every public
coroutine here runs its work on ``asyncio.to_thread`` so that a UI event loop
never blocks on disk. Every write is one transaction: an append inserts the
message, moves the head and adds the usage to the totals together, so a killed
process loses at most what it had not committed.

Several processes may open the same database (the TUI, a headless run,
live-watch); writers queue on SQLite's busy timeout. A session itself is written
by one process at a time: the one holding its ``lock_session`` lock.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
import uuid
import weakref
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from tau_engine.conversation import Message, StoredMessage, Usage
from tau_engine.errors import StoreError
from tau_engine.events import BaseEvent, EventReader
from tau_engine.events_v1 import RUN_BOUNDARY_TYPES
from tau_engine.paths import WorkspacePaths
from tau_engine.store.blobs import BlobStore
from tau_engine.store.models import (
    HEAD,
    NewMessage,
    ParentRef,
    SessionInfo,
    UndoReport,
    new_session_id,
    title_from_prompt,
)
from tau_engine.store.session_lock import SessionLock, StoreLock
from tau_engine.store.sqlite.checkpoints import Checkpoints
from tau_engine.store.sqlite.database import Database
from tau_engine.store.sqlite.event_writer import EventWriter
from tau_engine.store.sqlite.forking import copy_path_as_session
from tau_engine.store.sqlite.inline_reader import UNAVAILABLE, InlineReader
from tau_engine.store.sqlite.queries import (
    SELECT_SESSION,
    branch_tips,
    find_sessions,
    last_event_seq,
    request_path,
    require_message,
    require_session,
    session_from_row,
    session_head,
    session_path,
    tool_results_of,
)
from tau_engine.store.sqlite.schema import connect, connect_readonly, migrate
from tau_engine.store.sqlite.transfer import export_session, import_session

P = ParamSpec("P")
T = TypeVar("T")


INLINE_READ_LIMIT = 500
"""``recent`` reads up to this many messages inline (about 2.5 ms of parsing at most)."""


class SqliteSessionStore:
    """Async access to one workspace's sessions. Open with ``SqliteSessionStore.open``."""

    def __init__(
        self,
        paths: WorkspacePaths,
        db: Database,
        *,
        clock: Callable[[], float] = time.time,
        store_lock: StoreLock | None = None,
        reader: Callable[[], sqlite3.Connection] | None = None,
    ) -> None:
        self.paths = paths
        self._db = db
        self._store_lock = store_lock
        self._clock = clock
        self._checkpoints = Checkpoints(db, BlobStore(paths.checkpoints_dir), paths.root, clock)
        self._inline = InlineReader(db.path, reader or (lambda: connect(db.path)))
        self._writers: weakref.WeakSet[EventWriter] = weakref.WeakSet()

    @classmethod
    def open(
        cls, paths: WorkspacePaths, *, clock: Callable[[], float] = time.time
    ) -> SqliteSessionStore:
        """Open (creating or migrating) ``paths.db_path``. Blocking: call it at start-up."""
        paths.ensure()
        store_lock = StoreLock.shared(paths.locks_dir)
        try:
            conn = connect(paths.db_path)
            try:
                migrate(conn, paths.db_path)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            if store_lock is not None:
                store_lock.release()
            raise
        return cls(paths, Database(conn, paths.db_path), clock=clock, store_lock=store_lock)

    @classmethod
    def open_for_reading(
        cls, paths: WorkspacePaths, *, clock: Callable[[], float] = time.time
    ) -> SqliteSessionStore:
        """Open for commands that only read (``tau sessions list|show|export``).

        A store the user may write is opened as by ``open``; one they may not is
        opened read-only, so reading it still works (writes then fail with
        "no write permission on ...").
        """
        db_path = paths.db_path
        writable = all(os.access(p, os.W_OK) for p in (db_path, db_path.parent) if p.exists())
        if writable or not db_path.exists():
            return cls.open(paths, clock=clock)
        store_lock = StoreLock.shared(paths.locks_dir)
        try:
            conn = connect_readonly(db_path)
        except BaseException:
            if store_lock is not None:
                store_lock.release()
            raise
        return cls(
            paths,
            Database(conn, db_path),
            clock=clock,
            store_lock=store_lock,
            reader=lambda: connect_readonly(db_path),
        )

    def close(self) -> None:
        """Close open event writers (flushing them) and the connection."""
        failure: StoreError | None = None
        for writer in list(self._writers):
            try:
                writer.close()
            except StoreError as exc:
                failure = failure or exc
        self._inline.close()
        self._db.close()
        if self._store_lock is not None:
            self._store_lock.release()
            self._store_lock = None
        if failure is not None:
            raise failure

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
        return await self._run(self._read, request_path, session_id)

    async def tool_results_of(
        self, session_id: str, *, names: Collection[str], meta_key: str
    ) -> list[StoredMessage]:
        """Tool results of the session, any branch, from one of ``names`` or flagged with
        ``meta_key``: what a tracker of the whole session needs, when the rest of it is
        loaded from the last compaction only."""
        return await self._run(self._read, tool_results_of, session_id, sorted(names), meta_key)

    async def recent(self, session_id: str, limit: int) -> list[StoredMessage]:
        """The last ``limit`` messages of the head path, oldest first."""
        if limit <= INLINE_READ_LIMIT:
            return await self._read_small(session_path, session_id, None, limit)
        return await self._run(self._read, session_path, session_id, None, limit)

    async def branches(self, session_id: str) -> list[StoredMessage]:
        """Branch tips: messages nothing continues (undone or forked-off work included)."""
        return await self._run(self._read, branch_tips, session_id)

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

    # -- locks ----------------------------------------------------------------

    def lock_session(self, session_id: str) -> SessionLock:
        """Take the session's write lock (``SessionLockedError`` names the holder).

        Whoever changes a session (a run, undo, redo, delete) holds it; readers
        and forks need not.
        """
        return SessionLock.acquire(self.paths.locks_dir, session_id)

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

    def event_writer(self, session_id: str) -> EventWriter:
        """A buffered writer of the session's events (close it at the end of the run)."""
        writer = EventWriter(self.paths.db_path, session_id)
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
        return await self._run(export_session, self._db, session_id, dest, redact)

    async def import_jsonl(self, src: Path) -> SessionInfo:
        """Recreate an exported session with its ids (``UsageError`` if the id is taken)."""
        session_id = await self._run(import_session, self._db, src)
        return await self._run(self._read, require_session, session_id)

    # -- synchronous core -----------------------------------------------------

    async def _run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._db.closed:
            raise StoreError(f"the session store {self.paths.db_path} is closed")
        return await asyncio.to_thread(func, *args, **kwargs)

    async def _read_small(self, query: Callable[..., T], *args: Any) -> T:
        """A small, bounded read: on this thread when that cannot wait (no thread hop),
        else on a worker thread (see ``InlineReader``)."""
        if self._db.closed:
            raise StoreError(f"the session store {self.paths.db_path} is closed")
        found = self._inline.read(query, *args)
        if found is UNAVAILABLE:
            return await self._run(self._read, query, *args)
        return found

    def _read(self, query: Callable[..., T], *args: Any) -> T:
        with self._db.read() as conn:
            return query(conn, *args)

    def _create_session(
        self, model: str, title: str, meta: dict[str, Any], session_id: str
    ) -> SessionInfo:
        now = self._clock()
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO sessions (id, title, model, created_at, updated_at, workspace, meta) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, title, model, now, now, str(self.paths.root), json.dumps(meta)),
            )
            return require_session(conn, session_id)

    def _list_sessions(self, limit: int) -> list[SessionInfo]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"{SELECT_SESSION} ORDER BY s.updated_at DESC, s.rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [session_from_row(row) for row in rows]

    def _delete_session(self, session_id: str) -> None:
        with self._db.write() as conn:
            require_session(conn, session_id)
            digests = [
                row[0]
                for row in conn.execute(
                    "SELECT blob FROM checkpoints WHERE session_id = ? UNION "
                    "SELECT blob FROM redo_files WHERE session_id = ?",
                    (session_id, session_id),
                )
            ]
            # The cascade removes messages, events, checkpoints and the redo stack.
            conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            self._checkpoints.release_blobs(conn, digests)

    def _update_session(self, session_id: str, column: str, value: str) -> None:
        if column not in ("title", "model", "meta"):
            raise ValueError(column)
        with self._db.write() as conn:
            cursor = conn.execute(
                f"UPDATE sessions SET {column} = ?, updated_at = ? WHERE id = ?",
                (value, self._clock(), session_id),
            )
            if cursor.rowcount == 0:
                require_session(conn, session_id)

    def _append(
        self, session_id: str, items: list[NewMessage], parent_id: ParentRef
    ) -> list[StoredMessage]:
        if not items:
            return []
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT head_id, title FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                require_session(conn, session_id)
            head, title = row
            parent = head if parent_id is HEAD else parent_id
            if parent is not None and parent != head:
                require_message(conn, session_id, parent)
            now = self._clock()
            spent = Usage()
            cost: float | None = None
            stored: list[StoredMessage] = []
            for item in items:
                message_id = uuid.uuid4().hex
                body = item.message.model_dump_json()
                usage_json = item.usage.model_dump_json() if item.usage is not None else None
                conn.execute(
                    "INSERT INTO messages (id, session_id, parent_id, created_at, role, body, "
                    "usage, cost_usd, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        message_id,
                        session_id,
                        parent,
                        now,
                        item.message.role,
                        body,
                        usage_json,
                        item.cost_usd,
                        item.model,
                    ),
                )
                if item.usage is not None:
                    spent = spent + item.usage
                if item.cost_usd is not None:
                    cost = (cost or 0.0) + item.cost_usd
                if not title and item.message.role == "user":
                    title = title_from_prompt(item.message.content)
                stored.append(
                    StoredMessage(
                        id=message_id,
                        session_id=session_id,
                        parent_id=parent,
                        created_at=now,
                        message=item.message,
                        usage=item.usage,
                        cost_usd=item.cost_usd,
                        model=item.model,
                    )
                )
                parent = message_id
            conn.execute(
                "UPDATE sessions SET head_id = ?, updated_at = ?, title = ?, "
                "input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, "
                "cached_input_tokens = cached_input_tokens + ?, "
                "cache_write_tokens = cache_write_tokens + ?, "
                "reasoning_tokens = reasoning_tokens + ?, "
                "cost_usd = CASE WHEN ?9 IS NULL THEN cost_usd "
                "ELSE coalesce(cost_usd, 0) + ?9 END, "
                "usage_estimated = usage_estimated OR ?10 "
                "WHERE id = ?11",
                (
                    parent,
                    now,
                    title,
                    spent.input_tokens,
                    spent.output_tokens,
                    spent.cached_input_tokens,
                    spent.cache_write_tokens,
                    spent.reasoning_tokens,
                    cost,
                    spent.estimated,
                    session_id,
                ),
            )
            self._checkpoints.clear_redo(conn, session_id)
        return stored

    def _set_head(self, session_id: str, message_id: str) -> None:
        with self._db.write() as conn:
            session_head(conn, session_id)
            require_message(conn, session_id, message_id)
            conn.execute(
                "UPDATE sessions SET head_id = ?, updated_at = ? WHERE id = ?",
                (message_id, self._clock(), session_id),
            )
            self._checkpoints.clear_redo(conn, session_id)

    def _fork(
        self, session_id: str, at_message_id: str, title: str | None, fork_id: str
    ) -> SessionInfo:
        with self._db.write() as conn:
            return copy_path_as_session(
                conn, session_id, at_message_id, fork_id, title=title, now=self._clock()
            )

    def _events(self, session_id: str, after_seq: int, limit: int | None) -> list[BaseEvent]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT json FROM events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (session_id, after_seq, -1 if limit is None else limit),
            ).fetchall()
            # A v1 run's end is read with its start's id: a read from the middle of a
            # run needs the event that opened it.
            boundary = (
                conn.execute(
                    "SELECT json FROM events WHERE session_id = ? AND seq <= ? AND type IN "
                    f"({','.join('?' * len(RUN_BOUNDARY_TYPES))}) ORDER BY seq DESC LIMIT 1",
                    (session_id, after_seq, *RUN_BOUNDARY_TYPES),
                ).fetchone()
                if rows and after_seq > 0
                else None
            )
        reader = EventReader.after(boundary[0] if boundary else None)
        return [reader.read(row[0]) for row in rows]
