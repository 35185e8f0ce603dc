"""Who a worker is, and whether the owner of a lease is still running.

A lease names its owner by host, boot and pid, with the pid's start time: on
the same host and boot, a pid that exists with the same start time (and is not
a zombie) is the owner, alive; anything else there is gone. An owner on another
host, or from an earlier boot, cannot be checked and is treated as gone once its
lease has expired: the lease is the only promise it made.
"""

from __future__ import annotations

import os
from functools import cache

# ``tau status`` checks owners in a loop-friendly process: no pydantic (the store's models)
# and no ``typing`` at run time; type checkers read this block as typing's TYPE_CHECKING.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from tau_engine.store.job_models import LeaseOwner

    class OwnerIdentity(Protocol):
        """What names a lease's owner: a ``LeaseOwner``, or a status view's light copy."""

        @property
        def host(self) -> str: ...
        @property
        def boot_id(self) -> str: ...
        @property
        def pid(self) -> int: ...
        @property
        def pid_start(self) -> int | None: ...


_BOOT_ID = "/proc/sys/kernel/random/boot_id"  # a string: pathlib costs ``tau status`` 3 ms


@cache
def host_name() -> str:
    # socket.gethostname() is this same uname field; the socket module costs ``tau status``
    # (which checks leases in a loop-friendly process) more than its whole read.
    return os.uname().nodename


@cache
def boot_id() -> str:
    try:
        with open(_BOOT_ID, "rb") as handle:
            return handle.read().decode("ascii", "replace").strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields follow the last ')'.
    return raw.rsplit(b")", 1)[-1].decode("ascii", "replace").split()


def process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (``None`` off Linux or if gone)."""
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20:
        return None
    return int(fields[19])


def current_owner(worker: str) -> LeaseOwner:
    """The lease owner this process claims as."""
    from tau_engine.store.job_models import LeaseOwner

    pid = os.getpid()
    return LeaseOwner(
        worker=worker, host=host_name(), boot_id=boot_id(), pid=pid, pid_start=process_start(pid)
    )


def same_machine(owner: OwnerIdentity) -> bool:
    """Whether ``owner`` ran on this host, in this boot (so its pid can be checked)."""
    return owner.host == host_name() and owner.boot_id == boot_id()


def owner_alive(owner: OwnerIdentity) -> bool:
    """Whether the owner process still runs; ``False`` when it cannot be checked from here."""
    if not same_machine(owner):
        return False
    fields = _stat_fields(owner.pid)
    if fields is None:
        if os.path.exists("/proc/self/stat"):
            return False
        return _signal_zero(owner.pid)  # no /proc: the best we can do
    if fields and fields[0] in ("Z", "X"):
        return False  # exited; only its parent has not reaped it yet
    # A different start time: the pid was reused by another process.
    return owner.pid_start is None or len(fields) < 20 or int(fields[19]) == owner.pid_start


def _signal_zero(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
