"""File reading and writing the tools share.

Text means UTF-8 without NUL bytes; anything else is refused with a message
the model can act on. Writes are atomic (a temporary file in the same folder,
then ``os.replace``) and keep the file's permission bits, so an edited script
stays executable. These functions block: callers run them with
``asyncio.to_thread`` where a file may be large.
"""

from __future__ import annotations

import difflib
import os
import re
import secrets
import stat
from pathlib import Path

from tau_engine.errors import ToolError

# How much of a file's start decides whether it is binary, as git does.
BINARY_SNIFF_BYTES = 8192


_LONE_LF = re.compile(r"(?<!\r)\n")


def uses_crlf(data: bytes) -> bool:
    """Whether most of a file's line endings are CRLF (as the patch applier decides)."""
    lines = data.count(b"\n")
    return lines > 0 and data.count(b"\r\n") * 2 > lines


def with_crlf(text: str) -> str:
    """``text`` with every bare ``\n`` made ``\r\n`` (an existing ``\r\n`` is kept)."""
    return _LONE_LF.sub("\r\n", text)


def looks_binary(sample: bytes) -> bool:
    """Whether the first bytes of a file say it is not text (a NUL byte, as git decides)."""
    return b"\x00" in sample[:BINARY_SNIFF_BYTES]


def missing_file_message(path: Path, shown: str) -> str:
    """``shown`` does not exist, with close names from its folder when there are any."""
    parent = path.parent
    if not parent.is_dir():
        return f"{shown} does not exist (its folder does not exist either)"
    try:
        siblings = [entry.name for entry in os.scandir(parent)]
    except OSError:
        siblings = []
    close = difflib.get_close_matches(path.name, siblings, n=3, cutoff=0.6)
    if not close:
        return f"{shown} does not exist"
    folder = shown.rpartition("/")[0]
    names = ", ".join(f"{folder}/{name}" if folder else name for name in close)
    return f"{shown} does not exist; did you mean {names}?"


def check_is_file(path: Path, shown: str) -> None:
    """Raise ``ToolError`` unless ``path`` is an existing regular file."""
    if path.is_dir():
        raise ToolError(f"{shown} is a directory; use glob (pattern '{shown}/*') to list it")
    if not path.exists():
        raise ToolError(missing_file_message(path, shown))
    if not path.is_file():
        # A FIFO or device would block the reading thread forever.
        raise ToolError(f"{shown} is not a regular file")


def read_text(path: Path, shown: str) -> str:
    """The whole content of a UTF-8 text file, exactly (no newline translation)."""
    check_is_file(path, shown)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ToolError(f"cannot read {shown}: {exc.strerror or exc}") from exc
    return decode_text(data, shown)


def decode_text(data: bytes, shown: str) -> str:
    """``data`` as text, or ``ToolError`` when it is binary or not UTF-8."""
    if looks_binary(data):
        raise ToolError(f"{shown} is a binary file; only text files can be edited")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolError(
            f"{shown} is not UTF-8 text (invalid byte at offset {exc.start}); "
            "only UTF-8 files can be edited"
        ) from exc


def read_bytes_if_exists(path: Path, shown: str) -> bytes | None:
    """The file's bytes, ``None`` when it does not exist; a directory is an error."""
    if path.is_dir():
        raise ToolError(f"{shown} is a directory, not a file")
    if path.exists() and not path.is_file():
        raise ToolError(f"{shown} is not a regular file")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ToolError(f"cannot read {shown}: {exc.strerror or exc}") from exc


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never a mix.

    Parent folders are created; an existing file keeps its permission bits, a new
    one gets the usual ``0o666 & ~umask``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = None
    tmp = path.with_name(f".{path.name}.tau-{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask apply, unlike tempfile's fixed 0o600.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
