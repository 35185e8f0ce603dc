"""Reading a file from an untrusted folder without ever blocking on it.

A workspace (or the model writing into it) can plant a named pipe or a device where tau
expects a file: a plain ``open`` of a FIFO blocks until a writer comes, so one ``mkfifo``
hung every ``tau`` run in the folder. Files are opened non-blocking and checked on the open
descriptor (no check-then-open race) before anything is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotRegularFileError(OSError):
    """The path names a pipe, a device, a socket or a folder, not a regular file."""


def read_regular_bytes(path: Path, limit: int = -1) -> bytes:
    """Up to ``limit`` bytes of ``path`` (all with -1); ``NotRegularFileError`` when it is
    not a regular file, ``FileNotFoundError``/``OSError`` as ``open`` raises them."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    with open(fd, "rb", closefd=True) as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise NotRegularFileError(f"{path.name} is not a regular file")
        return handle.read(limit)
