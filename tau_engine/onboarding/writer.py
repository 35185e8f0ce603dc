"""Apply a list of planned writes all together, or none of them.

Every file's new content is first written to a private temp file next to it
(created with its final mode, ``O_EXCL``, fsynced): running out of space or
permission shows here, before anything the user sees has changed. Only then
are the temp files renamed over their targets, one ``os.replace`` each. If a
rename still fails, the files already replaced get their old content back and
the folders created are removed, so a failed setup leaves things as they were.
A crash leaves at most a ``.NAME.tmp-PID`` file that nothing reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tau_engine.errors import TauError

Action = Literal["create", "replace", "update", "keep"]


@dataclass(frozen=True)
class PlannedWrite:
    """One path onboarding creates, changes or keeps, with the mode it will have."""

    path: Path
    action: Action
    what: str  # what it is, for the summary
    mode: int | None = None  # the file or folder mode after the write (None: unchanged)
    content: str | None = field(default=None, repr=False)  # None for a folder
    is_dir: bool = False
    secret: bool = False  # never shown: the summary says what it is, not what it holds

    @property
    def changes(self) -> bool:
        return self.action != "keep"

    def mode_text(self) -> str:
        return f"{self.mode:04o}" if self.mode is not None else "kept"


class WriteFailed(TauError):
    """Onboarding could not write its files; nothing was changed."""


def _stage(path: Path, content: str, mode: int) -> Path:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        os.fchmod(fd, mode)  # the umask must not loosen or tighten what the summary said
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _make_dir(path: Path, mode: int | None, undo: list[Callable[[], None]]) -> None:
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir()
        undo.append(created.rmdir)
    if mode is not None and (os.stat(path).st_mode & 0o777) != mode:
        old = os.stat(path).st_mode & 0o777
        os.chmod(path, mode)
        undo.append(lambda: os.chmod(path, old))


def _restore(path: Path, old: bytes | None, old_mode: int | None) -> None:
    if old is None:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(f".{path.name}.undo-{os.getpid()}")
    tmp.write_bytes(old)
    if old_mode is not None:
        os.chmod(tmp, old_mode)
    os.replace(tmp, path)


def _restorer(path: Path, old: bytes | None, old_mode: int | None) -> Callable[[], None]:
    return lambda: _restore(path, old, old_mode)


def apply_writes(writes: Sequence[PlannedWrite]) -> None:
    """Create every folder, stage every file, then rename them all into place; on any
    failure undo what was done and raise ``WriteFailed`` naming the path."""
    undo: list[Callable[[], None]] = []
    staged: list[tuple[PlannedWrite, Path]] = []
    current: Path | None = None
    try:
        for write in writes:
            current = write.path
            if write.is_dir and write.changes:
                _make_dir(write.path, write.mode, undo)
        for write in writes:
            current = write.path
            if write.is_dir or not write.changes:
                continue
            assert write.content is not None and write.mode is not None
            staged.append((write, _stage(write.path, write.content, write.mode)))
        for write, tmp in staged:
            current = write.path
            old: bytes | None = None
            old_mode: int | None = None
            if write.path.is_file() and not write.path.is_symlink():
                old = write.path.read_bytes()
                old_mode = write.path.stat().st_mode & 0o777
            os.replace(tmp, write.path)
            undo.append(_restorer(write.path, old, old_mode))
    except OSError as exc:
        for _, tmp in staged:
            tmp.unlink(missing_ok=True)
        for step in reversed(undo):
            try:
                step()
            except OSError:
                pass
        raise WriteFailed(
            f"cannot write {current}: {exc.strerror or exc}; nothing was changed"
        ) from exc
