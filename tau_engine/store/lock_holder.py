"""Holder records: which process holds a session lock, told so that a reader can check it
without the kernel's whole lock table.

A session lock is an exclusive ``flock`` on ``.tau/locks/<name>.lock``
(``session_lock.py``). ``tau status`` must tell which sessions are running without
taking any lock, and reading ``/proc/locks`` for that costs a whole-system table (on some
kernels the first read in a process waits 10 ms or more off the CPU, for a command scripts
run in a loop). So the holder also writes a record, ``.tau/locks/holders/<name>.holder``:
``"<pid> <fd> <pid namespace>"``. A reader then asks the kernel about that one descriptor
(``/proc/<pid>/fdinfo/<fd>`` lists the locks held through it), so the answer is still the
kernel's, never the record's word: a record left by a killed holder, or planted in the
workspace, names a descriptor that holds no lock on that file, and reads as not running.

The record is written after the lock is taken and removed before it is dropped, so it only
ever claims less than the truth. Writing it is best effort: the lock, not the record, keeps
two writers apart. Nothing here follows a symlink (``.tau/`` is workspace content).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

HOLDERS_DIR = "holders"
SUFFIX = ".holder"


def holder_name(lock_name: str) -> str:
    """The record's file name for the lock file ``lock_name`` (``<stem>.lock``)."""
    return lock_name.removesuffix(".lock") + SUFFIX


def pid_namespace() -> str:
    """This process's pid namespace (``pid:[4026531836]``): a pid means something only in
    its own namespace, so a reader in another one falls back to the kernel's table."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "-"


def _holders_dir_fd(locks_dir: Path, create: bool) -> int | None:
    path = locks_dir / HOLDERS_DIR
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return None
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None


def write_record(locks_dir: Path, lock_name: str, lock_fd: int) -> None:
    """Record that this process holds ``lock_name`` through ``lock_fd`` (best effort)."""
    dir_fd = _holders_dir_fd(locks_dir, create=True)
    if dir_fd is None:
        return
    name = holder_name(lock_name)
    try:
        try:
            fd = os.open(
                name,
                os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                0o600,
                dir_fd=dir_fd,
            )
        except OSError:
            return  # a planted symlink, folder or pipe: no record, never a write through it
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()} {lock_fd} {pid_namespace()}\n".encode(), 0)
        finally:
            os.close(fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def remove_record(locks_dir: Path, lock_name: str) -> None:
    """Remove this lock's record (before the lock is dropped); absent is fine."""
    dir_fd = _holders_dir_fd(locks_dir, create=False)
    if dir_fd is None:
        return
    try:
        os.unlink(holder_name(lock_name), dir_fd=dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def remove_all_records(locks_dir: Path) -> int:
    """Remove every record; only for a caller that holds the whole store exclusively (no
    session lock can be held then, so every record is a crashed holder's). The count."""
    dir_fd = _holders_dir_fd(locks_dir, create=False)
    if dir_fd is None:
        return 0
    removed = 0
    try:
        for entry in os.scandir(dir_fd):
            if entry.name.endswith(SUFFIX) and entry.is_file(follow_symlinks=False):
                try:
                    os.unlink(entry.name, dir_fd=dir_fd)
                    removed += 1
                except OSError:
                    continue
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return removed
