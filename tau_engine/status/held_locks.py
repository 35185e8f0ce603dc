"""Which session locks a live process holds, read without taking any lock.

A session is written only by the process holding an exclusive ``flock`` on
``.tau/locks/<id>.lock`` (``tau_engine.store.session_lock``), which the kernel drops when
that process ends. Trying the lock to find out would, for that moment, hold it and make a
starting session fail: the kernel's own table, ``/proc/locks``, answers instead. Where it
does not exist the answer is ``None`` (not known), never a guess.
"""

from __future__ import annotations

import os
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from os import PathLike

_PLAIN_ID = re.compile(r"[0-9a-f]{8,64}")
PROC_LOCKS = "/proc/locks"


def lock_file_name(session_id: str) -> str:
    """As ``tau_engine.store.session_lock.lock_file_name`` (a test keeps them equal)."""
    if _PLAIN_ID.fullmatch(session_id):
        return f"{session_id}.lock"
    import hashlib  # rare: an imported or hand-made session id

    return f"{hashlib.sha256(session_id.encode()).hexdigest()[:32]}.lock"


def _flocked_inodes(proc_locks: str | PathLike[str]) -> set[int] | None:
    try:
        with open(proc_locks, "rb") as handle:
            # bytes.decode: a text file would load the ascii codec module for this one read
            text = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    inodes: set[int] = set()
    for line in text.splitlines():
        # "1: FLOCK  ADVISORY  WRITE 1234 00:2f:5678 0 EOF" (blocked waiters start "->").
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[3] != "WRITE":
            continue
        try:
            inodes.add(int(fields[5].rsplit(":", 1)[1]))
        except (IndexError, ValueError):
            continue
    return inodes


def held_lock_names(
    locks_dir: str | PathLike[str], proc_locks: str | PathLike[str] = PROC_LOCKS
) -> set[str] | None:
    """The names of the lock files under ``locks_dir`` a process holds exclusively now;
    None when this system cannot tell. Symlinks and non-files are never followed."""
    inodes = _flocked_inodes(proc_locks)
    if inodes is None:
        return None
    held: set[str] = set()
    try:
        entries = list(os.scandir(locks_dir))
    except OSError:
        return held
    for entry in entries:
        try:
            if (
                entry.name.endswith(".lock")
                and entry.is_file(follow_symlinks=False)
                and entry.inode() in inodes
            ):
                held.add(entry.name)
        except OSError:
            continue
    return held
