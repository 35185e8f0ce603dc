"""File checkpoints, undo and redo (synchronous core of the store's undo API).

Before a tool changes a file, the engine records the file's bytes (or that it
did not exist) once per (turn, path). Undo moves the head back before the last
user turn and puts every file that turn's tools touched back as it was,
first saving what each file holds now, so that redo can put that back.

Undo and redo run inside one write transaction, so a second process cannot
append to the session half-way; file writes are atomic per file. Blobs are
deleted only inside a write transaction and only once no row references
them, and ``checkpoint_file`` re-checks its blob inside its own transaction,
so a concurrent clean-up never leaves a row pointing at nothing.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from tau_engine.conversation import Message
from tau_engine.errors import StoreError, UsageError, WorkspaceError
from tau_engine.paths import resolve_inside
from tau_engine.store.blobs import BlobCorruptError, BlobStore
from tau_engine.store.models import FileRestoreFailure, UndoReport
from tau_engine.store.sql.protocol import Dialect, SqlConnection, SqlDatabase
from tau_engine.store.sql.queries import lock_session_row, session_head

# (workspace-relative path, blob digest or None for "absent", file mode)
FileState = tuple[str, str | None, int | None]

_BACK_TO_LAST_USER = """
WITH RECURSIVE back(id, parent_id, role, body, depth) AS (
    SELECT id, parent_id, role, body, 0 FROM messages WHERE id = ?
    UNION ALL
    SELECT m.id, m.parent_id, m.role, m.body, b.depth + 1
    FROM messages m JOIN back b ON m.id = b.parent_id WHERE b.role != 'user'
)
SELECT id, parent_id, role, body FROM back ORDER BY depth
"""

_BACK_TO_MESSAGE = """
WITH RECURSIVE back(id, parent_id, role, body) AS (
    SELECT id, parent_id, role, body FROM messages WHERE id = :start
    UNION ALL
    SELECT m.id, m.parent_id, m.role, m.body
    FROM messages m JOIN back b ON m.id = b.parent_id
    WHERE CASE WHEN CAST(:stop AS TEXT) IS NULL THEN b.parent_id IS NOT NULL
               ELSE b.parent_id IS NULL OR b.parent_id <> CAST(:stop AS TEXT) END
)
SELECT id, parent_id, role, body FROM back
"""


class Checkpoints:
    """Checkpointing and undo/redo over one workspace's database and blob folder."""

    def __init__(
        self,
        db: SqlDatabase,
        dialect: Dialect,
        blobs: BlobStore,
        workspace_root: Path,
        clock: Callable[[], float],
        check_writer: Callable[..., None] = lambda _conn, _session_id, **_how: None,
    ) -> None:
        self._db = db
        self._check_writer = check_writer  # the store's lost-lock check (``SessionCore``)
        self._dialect = dialect
        self._blobs = blobs
        self._root = workspace_root.resolve()
        self._clock = clock

    def relative(self, path: Path) -> str:
        """``path`` as a workspace-relative posix path; ``WorkspaceError`` if outside."""
        candidate = path if path.is_absolute() else self._root / path
        for attempt in (candidate, candidate.resolve()):
            try:
                rel = attempt.relative_to(self._root).as_posix()
            except ValueError:
                continue
            if rel not in ("", ".") and ".." not in rel.split("/"):
                return rel
        raise WorkspaceError(f"cannot checkpoint a path outside the workspace: {path}")

    def checkpoint_file(self, session_id: str, turn_message_id: str, path: Path) -> None:
        """Record ``path``'s current bytes for the turn, unless already recorded."""
        rel = self.relative(path)
        with self._db.read() as conn:
            known = conn.execute(
                "SELECT 1 FROM checkpoints WHERE message_id = ? AND path = ?",
                (turn_message_id, rel),
            ).fetchone()
        if known:
            return
        target = self._root / rel
        # Copy outside the transaction: hashing a large file must not hold the
        # write lock other processes queue on.
        digest, mode = self._capture(target, rel)
        with self._db.write() as conn:
            self._check_writer(conn, session_id)
            row = conn.execute(
                "SELECT session_id FROM messages WHERE id = ?", (turn_message_id,)
            ).fetchone()
            if row is None or row[0] != session_id:
                raise UsageError(f"message {turn_message_id!r} is not in session {session_id[:8]}")
            if digest is not None and not self._blobs.exists(digest):
                digest, mode = self._capture(target, rel)  # removed by a concurrent clean-up
            conn.execute(
                "INSERT INTO checkpoints (session_id, message_id, path, blob, mode, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (session_id, turn_message_id, rel, digest, mode, self._clock()),
            )

    def undo(self, session_id: str, workspace_root: Path | None) -> UndoReport:
        """Remove the last user turn from the head path and restore its files."""
        root = workspace_root.resolve() if workspace_root is not None else self._root
        with self._db.write() as conn:
            self._check_writer(conn, session_id, locks_row=True)
            lock_session_row(conn, self._dialect, session_id)
            head = session_head(conn, session_id)
            rows = conn.execute(_BACK_TO_LAST_USER, (head,)).fetchall() if head is not None else []
            if not rows or rows[-1][2] != "user":
                raise UsageError(f"nothing to undo in session {session_id[:8]}")
            undone_ids = [row[0] for row in rows]
            new_head: str | None = rows[-1][1]
            marks = ",".join("?" * len(undone_ids))
            # Newest first, so that when a path was checkpointed by several
            # undone turns the oldest state is the one left in place.
            saved = conn.execute(
                f"SELECT path, blob, mode FROM checkpoints WHERE message_id IN ({marks}) "
                "ORDER BY seq DESC",
                undone_ids,
            ).fetchall()
            states: dict[str, tuple[str | None, int | None]] = {}
            for rel, digest, mode in saved:
                states[rel] = (digest, mode)
            restored, failed, snapshots = self._apply(root, states, snapshot=True)
            pos = int(
                conn.execute(
                    "SELECT coalesce(max(pos), 0) + 1 FROM redo_stack WHERE session_id = ?",
                    (session_id,),
                ).fetchone()[0]
            )
            now = self._clock()
            conn.execute(
                "INSERT INTO redo_stack (session_id, pos, undone_head, restored_head, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (session_id, pos, head, new_head, now),
            )
            conn.executemany(
                "INSERT INTO redo_files (session_id, pos, path, blob, mode) VALUES (?, ?, ?, ?, ?)",
                [(session_id, pos, rel, digest, mode) for rel, digest, mode in snapshots],
            )
            conn.execute(
                "UPDATE sessions SET head_id = ?, updated_at = ? WHERE id = ?",
                (new_head, now, session_id),
            )
        return UndoReport(
            action="undo",
            session_id=session_id,
            messages=len(rows),
            head_id=new_head,
            restored=restored,
            failed=failed,
            shell_commands=_count_shell_calls(body for _id, _p, _r, body in rows),
        )

    def redo(self, session_id: str, workspace_root: Path | None) -> UndoReport:
        """Undo the most recent undo: move the head forward and put its files back."""
        root = workspace_root.resolve() if workspace_root is not None else self._root
        with self._db.write() as conn:
            self._check_writer(conn, session_id, locks_row=True)
            lock_session_row(conn, self._dialect, session_id)
            head = session_head(conn, session_id)
            top = conn.execute(
                "SELECT pos, undone_head, restored_head FROM redo_stack WHERE session_id = ? "
                "ORDER BY pos DESC LIMIT 1",
                (session_id,),
            ).fetchone()
            if top is None:
                raise UsageError(f"nothing to redo in session {session_id[:8]}")
            pos, undone_head, restored_head = top
            if restored_head != head:
                # The head moved since that undo without clearing the stack
                # (an older tau, or a hand edit): the saved states no longer apply.
                self.clear_redo(conn, session_id)
                raise UsageError(f"nothing to redo in session {session_id[:8]}")
            files = conn.execute(
                "SELECT path, blob, mode FROM redo_files WHERE session_id = ? AND pos = ?",
                (session_id, pos),
            ).fetchall()
            states = {rel: (digest, mode) for rel, digest, mode in files}
            restored, failed, _ = self._apply(root, states, snapshot=False)
            redone = conn.execute(
                _BACK_TO_MESSAGE, {"start": undone_head, "stop": restored_head}
            ).fetchall()
            conn.execute(
                "DELETE FROM redo_stack WHERE session_id = ? AND pos = ?", (session_id, pos)
            )
            self.release_blobs(conn, [digest for _rel, digest, _mode in files])
            conn.execute(
                "UPDATE sessions SET head_id = ?, updated_at = ? WHERE id = ?",
                (undone_head, self._clock(), session_id),
            )
        return UndoReport(
            action="redo",
            session_id=session_id,
            messages=len(redone),
            head_id=undone_head,
            restored=restored,
            failed=failed,
            shell_commands=_count_shell_calls(body for _id, _p, _r, body in redone),
        )

    def clear_redo(self, conn: SqlConnection, session_id: str) -> None:
        """Forget the session's redo stack (inside the caller's write transaction)."""
        if (
            conn.execute(
                "SELECT 1 FROM redo_stack WHERE session_id = ? LIMIT 1", (session_id,)
            ).fetchone()
            is None
        ):
            return
        digests = [
            row[0]
            for row in conn.execute(
                "SELECT blob FROM redo_files WHERE session_id = ?", (session_id,)
            )
        ]
        conn.execute("DELETE FROM redo_stack WHERE session_id = ?", (session_id,))
        self.release_blobs(conn, digests)

    def release_blobs(self, conn: SqlConnection, digests: Iterable[str | None]) -> None:
        """Delete the blobs among ``digests`` that no row references any more."""
        for digest in {d for d in digests if d}:
            used = conn.execute(
                "SELECT 1 FROM checkpoints WHERE blob = ? UNION ALL "
                "SELECT 1 FROM redo_files WHERE blob = ? LIMIT 1",
                (digest, digest),
            ).fetchone()
            if used is None:
                self._blobs.delete(digest)

    def _capture(self, target: Path, rel: str) -> tuple[str | None, int | None]:
        try:
            info = target.stat()
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            raise StoreError(f"cannot save a copy of {rel}: {exc.strerror or exc}") from exc
        if stat.S_ISDIR(info.st_mode):
            raise StoreError(f"cannot save a copy of {rel}: it is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise StoreError(f"cannot save a copy of {rel}: not a regular file")
        try:
            return self._blobs.put_file(target), stat.S_IMODE(info.st_mode)
        except OSError as exc:
            raise StoreError(f"cannot save a copy of {rel}: {exc.strerror or exc}") from exc

    def _apply(
        self,
        root: Path,
        states: dict[str, tuple[str | None, int | None]],
        *,
        snapshot: bool,
    ) -> tuple[list[str], list[FileRestoreFailure], list[FileState]]:
        """Put each path into its recorded state; optionally save what it held before."""
        restored: list[str] = []
        failed: list[FileRestoreFailure] = []
        snapshots: list[FileState] = []
        for rel, (digest, mode) in states.items():
            try:
                target = resolve_inside(root, rel)
            except WorkspaceError as exc:
                failed.append(FileRestoreFailure(rel, str(exc)))
                continue
            if snapshot:
                try:
                    current = self._capture(target, rel)
                except StoreError as exc:
                    failed.append(FileRestoreFailure(rel, f"{exc}; left as it is"))
                    continue
            reason = self._put_state(target, digest, mode)
            if reason:
                failed.append(FileRestoreFailure(rel, reason))
                continue
            restored.append(rel)
            if snapshot:
                snapshots.append((rel, *current))
        return restored, failed, snapshots

    def _put_state(self, target: Path, digest: str | None, mode: int | None) -> str:
        """Make ``target`` hold blob ``digest`` (or not exist); return why not, or ``""``."""
        try:
            if digest is None:
                if target.is_dir() and not target.is_symlink():
                    return "it is a directory now; tau removes only files"
                target.unlink(missing_ok=True)
                return ""
            if not self._blobs.exists(digest):
                return "its saved copy is missing from .tau/checkpoints"
            self._blobs.restore_to(digest, target, mode)
        except BlobCorruptError as exc:
            return str(exc)
        except OSError as exc:
            return exc.strerror or str(exc)
        return ""


def _count_shell_calls(bodies: Iterable[str]) -> int:
    """Shell commands that actually ran: bash results that were not denied (a call
    interrupted before it finished may have started, so it counts)."""
    count = 0
    for body in bodies:
        message = Message.model_validate_json(body)
        if message.role == "tool" and message.name == "bash" and not message.meta.get("denied"):
            count += 1
    return count
