"""Which session locks a live process holds, read without taking any lock.

A session is written only by the process holding an exclusive ``flock`` on
``.tau/locks/<id>.lock`` (``tau_engine.store.session_lock``), which the kernel drops when
that process ends. Trying the lock to find out would, for that moment, hold it and make a
starting session fail, so the kernel is asked instead, two ways:

* each holder leaves a record, ``.tau/locks/holders/<id>.holder`` naming its pid and the
  descriptor it locked through (``tau_engine.store.lock_holder``), and
  ``/proc/<pid>/fdinfo/<fd>`` lists the locks held through that descriptor: a check per
  running session, whatever the number of sessions. A record is only a pointer: a stale or
  planted one names a descriptor that holds no lock on that file and counts for nothing;
* where the records cannot answer (a holder in another pid namespace, another user's
  process, locks taken by a tau from before the records), the kernel's whole table,
  ``/proc/locks``. It is exact too, but its first read in a process can wait 10 ms or more
  off the CPU, for a command that scripts run in a loop.

Where neither exists the answer is ``None`` (not known), never a guess.
"""

from __future__ import annotations

import os
import re

from tau_engine.status.lock_records import held_by_records

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
    held = held_by_records(os.fspath(locks_dir))
    if held is not None:
        return held
    return _held_by_table(locks_dir, proc_locks)


def _held_by_table(
    locks_dir: str | PathLike[str], proc_locks: str | PathLike[str]
) -> set[str] | None:
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
