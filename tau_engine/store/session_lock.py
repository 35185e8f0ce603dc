"""Per-session locks: one process at a time writes a session.

Two tau processes continuing one session would interleave their messages and
clash on the event log's sequence numbers. So a session is written only by the
process that holds its lock: an exclusive ``flock`` on
``.tau/locks/<session id>.lock``. The kernel drops the lock when its process
ends, however it ends (``kill -9`` included), so a dead holder never blocks
anyone. The holder writes its pid into the file for the message the next process
shows, and a holder record beside it for readers that must not take the lock
(``lock_holder.py``); a killed holder's record claims nothing (readers check it with the
kernel) and is removed by the next process that holds the whole store.

``.tau/`` is workspace content, hence untrusted: the lock directory and files
are opened without following symlinks, and a session id that is not plain hex
(an imported or hand-made session) is hashed into the file name, so nothing
outside ``.tau/locks/`` is ever created or written.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import stat
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from tau_engine.errors import SessionLockedError, StoreError
from tau_engine.store import lock_holder

if TYPE_CHECKING:
    from tau_engine.store.api import HeldLock

_PLAIN_ID = re.compile(r"[0-9a-f]{8,64}")
_PID_WAIT_S = 0.2  # how long to wait for a holder that has locked but not yet written its pid


def lock_file_name(session_id: str) -> str:
    """The lock file's name: the id itself when it is plain hex, else a hash of it."""
    if _PLAIN_ID.fullmatch(session_id):
        return f"{session_id}.lock"
    return f"{hashlib.sha256(session_id.encode()).hexdigest()[:32]}.lock"


def open_lock_file(locks_dir: Path, name: str) -> int:
    """Open (creating) ``locks_dir/name`` for locking, never through a symlink."""
    try:
        locks_dir.mkdir(parents=True, exist_ok=True)
        dir_fd = os.open(locks_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise _lock_error(locks_dir, exc) from exc
    try:
        fd = os.open(
            name,
            os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
            0o600,
            dir_fd=dir_fd,
        )
    except OSError as exc:
        raise _lock_error(locks_dir / name, exc) from exc
    finally:
        os.close(dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StoreError(f"{locks_dir / name} is not a regular file; remove it")
    return fd


def _lock_error(path: Path, exc: OSError) -> StoreError:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR) and path.is_symlink():
        return StoreError(f"{path} is a symlink; tau does not follow links in .tau/locks")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreError(f"no write permission on {path}")
    return StoreError(f"cannot use the session lock {path}: {exc.strerror or exc}")


def read_pid(fd: int) -> int | None:
    """The pid a holder wrote into its lock file, if it has written one."""
    deadline = time.monotonic() + _PID_WAIT_S
    while True:
        try:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        except OSError:
            return None
        if text.isdigit():
            return int(text)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


class SessionLock:
    """An exclusive lock on one session, held by this process until ``release``."""

    def __init__(self, session_id: str, path: Path, fd: int) -> None:
        self.session_id = session_id
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, locks_dir: Path, session_id: str) -> SessionLock:
        """Take the session's lock now, or raise ``SessionLockedError`` naming the holder."""
        name = lock_file_name(session_id)
        fd = open_lock_file(locks_dir, name)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            pid = read_pid(fd) if exc.errno in (errno.EAGAIN, errno.EACCES) else None
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise StoreError(f"cannot lock {locks_dir / name}: {exc.strerror}") from exc
            raise SessionLockedError(session_id, pid) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the lock holds without the pid; only the message loses it
        # For readers that must not take the lock (``tau status``): see lock_holder.py.
        lock_holder.write_record(locks_dir, name, fd)
        return cls(session_id, locks_dir / name, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Let another process take the session. Safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is not None:
            # The record goes first: while it exists the lock must be held.
            lock_holder.remove_record(self.path.parent, self.path.name)
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            os.close(fd)  # closing the descriptor drops the flock

    def release_and_remove(self) -> None:
        """Release and delete the lock file (its session was deleted)."""
        try:
            self.path.unlink()
        except OSError:
            pass
        self.release()

    def __enter__(self) -> SessionLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class LockSlot:
    """At most one held session lock, switched as its owner (an engine) changes session.

    Locks are taken through ``acquire``: the store's ``lock_session``, so a session in a
    PostgreSQL store is locked in the database, where every machine sees it.
    """

    def __init__(self, acquire: Callable[[str], HeldLock]) -> None:
        self._acquire = acquire
        self._lock: HeldLock | None = None

    @property
    def session_id(self) -> str | None:
        """The session whose lock is held, if any."""
        return self._lock.session_id if self._lock is not None else None

    def hold(self, session_id: str) -> None:
        """Hold ``session_id``'s lock (no-op if held already); the previous one is dropped
        only once the new one is taken, so a refusal leaves things as they were."""
        if self._lock is not None and self._lock.session_id == session_id:
            return
        lock = self._acquire(session_id)
        self.release()
        self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class StoreLock:
    """Who has the whole store open: every ``SessionStore`` holds this lock shared, and
    ``tau sessions recover`` takes it exclusively before it replaces ``tau.db``."""

    NAME = "store.lock"

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def shared(cls, locks_dir: Path) -> StoreLock | None:
        """Hold the store open; None where the lock file cannot be made (a store the user
        cannot write, which no recovery of theirs can replace either)."""
        try:
            fd = open_lock_file(locks_dir, cls.NAME)
        except StoreError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            pid = read_pid(fd)
            os.close(fd)
            holder = f" (pid {pid})" if pid is not None else ""
            raise StoreError(
                f"the store is being recovered by another tau process{holder}; "
                "try again when it is done"
            ) from None
        return cls(fd)

    @classmethod
    def exclusive(cls, locks_dir: Path) -> StoreLock:
        """Hold the store alone, or raise ``StoreError`` naming the processes using it."""
        fd = open_lock_file(locks_dir, cls.NAME)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            pids = sorted(pid for pid in session_lock_holders(locks_dir) if pid is not None)
            holders = f" (pid {', '.join(map(str, pids))})" if pids else ""
            raise StoreError(
                f"other tau processes have the store open{holders}; close them "
                "(the app, tau -p, tau --line) and run this again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        # Nobody else has the store open, so no session lock is held: every holder record
        # left is a killed holder's.
        lock_holder.remove_all_records(locks_dir)
        return cls(fd)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def session_lock_holders(locks_dir: Path) -> list[int | None]:
    """The pids of the processes holding session locks now (None where unknown)."""
    holders: list[int | None] = []
    for path in sorted(locks_dir.glob("*.lock")):
        if path.name == StoreLock.NAME:
            continue
        try:
            fd = open_lock_file(locks_dir, path.name)
        except StoreError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holders.append(read_pid(fd))
        finally:
            os.close(fd)  # also drops the lock if it was free and so just taken
    return holders
