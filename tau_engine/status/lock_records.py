"""Running sessions from their holders' records, each checked with the kernel.

The records are written by ``tau_engine.store.lock_holder`` (this module reads their
format without importing the store, which ``tau status`` cannot afford). Every record is
untrusted: it may be a killed holder's, or planted by the workspace, so it only says where
to look. A lock counts as held when ``/proc/<pid>/fdinfo/<fd>`` shows an exclusive
``flock`` through that descriptor on the very inode of the session's lock file.
"""

from __future__ import annotations

import errno
import os
import stat

HOLDERS_DIR = "holders"  # as tau_engine.store.lock_holder (a test keeps them equal)
SUFFIX = ".holder"
_STORE_LOCK = "store.lock"
_RECORD_LIMIT = 128
_FDINFO_LIMIT = 1 << 16
_NO_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class _CannotTell(Exception):
    """The records cannot answer for some lock: ask the kernel's table instead."""


def held_by_records(locks_dir: str) -> set[str] | None:
    """The lock file names under ``locks_dir`` held now, or None when the records cannot
    tell (the caller then reads ``/proc/locks``)."""
    try:
        locks_fd = os.open(locks_dir, _NO_DIR_FLAGS)
    except OSError as exc:
        # No lock folder: no session has ever been locked here.
        return set() if exc.errno == errno.ENOENT else None
    try:
        try:
            holders_fd = os.open(HOLDERS_DIR, _NO_DIR_FLAGS, dir_fd=locks_fd)
        except OSError as exc:
            if exc.errno == errno.ENOENT and not _has_session_locks(locks_fd):
                return set()
            return None  # locks taken by a tau that wrote no records, or a planted link
        try:
            return _check_records(locks_fd, holders_fd)
        except _CannotTell:
            return None
        finally:
            os.close(holders_fd)
    finally:
        os.close(locks_fd)


def _has_session_locks(locks_fd: int) -> bool:
    with os.scandir(locks_fd) as entries:
        return any(e.name.endswith(".lock") and e.name != _STORE_LOCK for e in entries)


def _check_records(locks_fd: int, holders_fd: int) -> set[str]:
    with os.scandir(holders_fd) as entries:
        names = [e.name for e in entries if e.name.endswith(SUFFIX)]
    held: set[str] = set()
    namespace: str | None = None
    for name in names:
        record = _read_record(name, holders_fd)
        if record is None:
            continue
        pid, fd, record_namespace = record
        if namespace is None:
            try:
                namespace = os.readlink("/proc/self/ns/pid")
            except OSError:
                raise _CannotTell from None  # no /proc: nothing to check a record against
        if record_namespace != namespace:
            raise _CannotTell  # its pid names another process here
        lock_name = name.removesuffix(SUFFIX) + ".lock"
        try:
            info = os.stat(lock_name, dir_fd=locks_fd, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and _holds_flock(pid, fd, info.st_ino):
            held.add(lock_name)
    return held


def _read_record(name: str, holders_fd: int) -> tuple[int, int, str] | None:
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=holders_fd
        )
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        fields = os.read(fd, _RECORD_LIMIT).split()
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(fields) != 3 or not fields[0].isdigit() or not fields[1].isdigit():
        return None  # torn, empty or not ours
    return int(fields[0]), int(fields[1]), fields[2].decode("ascii", "replace")


def _holds_flock(pid: int, fd: int, inode: int) -> bool:
    """Whether descriptor ``fd`` of process ``pid`` holds an exclusive flock on ``inode``."""
    try:
        handle = os.open(f"/proc/{pid}/fdinfo/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ESRCH):
            return False  # that process, or that descriptor, is gone
        raise _CannotTell from None  # another user's process: the table can still tell
    try:
        text = os.read(handle, _FDINFO_LIMIT)
    except OSError:
        return False
    finally:
        os.close(handle)
    wanted = (b"lock:", b"FLOCK", b"WRITE", str(inode).encode())
    for line in text.splitlines():
        # "lock:\t1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF"
        fields = line.split()
        if len(fields) >= 7 and (
            (fields[0], fields[2], fields[4], fields[6].rsplit(b":", 1)[-1]) == wanted
        ):
            return True
    return False
