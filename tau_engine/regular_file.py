"""Reading a file from an untrusted folder without ever blocking on it.

A workspace (or the model writing into it) can plant a named pipe or a device where tau
expects a file: a plain ``open`` of a FIFO blocks until a writer comes (and SIGTERM does
not end it: the open is retried), so one ``mkfifo`` hung every ``tau`` run in the folder.
Files are opened non-blocking and checked on the open descriptor (no check-then-open race)
before anything is read. Only ``os`` and ``stat``: ``tau status`` reads its logs with it
and counts every import.
"""

from __future__ import annotations

import os
import stat


class NotRegularFileError(OSError):
    """The path names a pipe, a device, a socket or a folder, not a regular file."""


def _open_regular(path: str | os.PathLike[str]) -> tuple[int, os.stat_result]:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotRegularFileError(f"{os.path.basename(os.fspath(path))} is not a regular file")
    return fd, info


def read_regular_bytes(path: str | os.PathLike[str], limit: int = -1) -> bytes:
    """Up to ``limit`` bytes of ``path`` (all with -1); ``NotRegularFileError`` when it is
    not a regular file, ``FileNotFoundError``/``OSError`` as ``open`` raises them."""
    fd, _info = _open_regular(path)
    with open(fd, "rb", closefd=True) as handle:
        return handle.read(limit)


def read_regular_tail(
    path: str | os.PathLike[str], tail_bytes: int | None = None
) -> tuple[bytes, int] | None:
    """The bytes of the regular file at ``path`` (its last ``tail_bytes``, when given) and
    the offset they start at; None when it is absent, unreadable or not a regular file."""
    try:
        fd, info = _open_regular(path)
    except OSError:
        return None
    try:
        first = start = 0 if tail_bytes is None else max(0, info.st_size - tail_bytes)
        chunks = []
        while chunk := os.pread(fd, 1 << 20, start):
            chunks.append(chunk)
            start += len(chunk)
            if tail_bytes is not None and start >= info.st_size:
                break  # a log still being appended: what was there when read
        return b"".join(chunks), first
    except OSError:
        return None
    finally:
        os.close(fd)
