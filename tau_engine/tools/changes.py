"""Planned file changes and their all-or-nothing application.

Every tool that edits files first computes what each file will become
(a ``FileChange``), entirely in memory, so that a failing edit changes
nothing. ``apply_changes`` then calls ``ctx.before_change`` for every file
(undo snapshots it), and writes each one atomically; if a write fails part
way, the files already written are restored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from tau_engine.errors import PatchError, TauError, ToolError, WorkspaceError
from tau_engine.tools.base import ToolContext, ToolOutcome
from tau_engine.tools.diff import diff_stats, unified_diff
from tau_engine.tools.fileio import atomic_write_bytes, looks_binary


@dataclass(frozen=True)
class FileChange:
    """What one file becomes. ``before``/``after`` ``None`` mean absent (create/delete)."""

    path: Path  # absolute, already checked by the workspace guard
    shown: str  # workspace-relative, '/'-separated
    before: bytes | None
    after: str | None

    @property
    def before_text(self) -> str | None:
        if self.before is None:
            return None
        return self.before.decode("utf-8", errors="replace")

    def diff(self) -> str:
        if self.before is not None and looks_binary(self.before):
            return f"Binary file {self.shown} {'deleted' if self.after is None else 'replaced'}\n"
        return unified_diff(self.shown, self.before_text, self.after)

    def summary(self) -> str:
        """One line: what happened to the file, with line counts."""
        if self.after is None:
            return f"deleted {self.shown}"
        added, removed = diff_stats(self.diff())
        if self.before is None:
            return f"created {self.shown} ({_line_count(self.after)} lines)"
        if self.before == self.after.encode("utf-8"):
            return f"{self.shown} unchanged"
        return f"updated {self.shown} (+{added} -{removed})"


def _line_count(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def reworded(exc: TauError, message: str) -> TauError:
    """``exc``'s kind of error with a new message (a workspace refusal stays one)."""
    if isinstance(exc, WorkspaceError):
        return WorkspaceError(message)
    if isinstance(exc, PatchError):
        return PatchError(message)
    return ToolError(message)


def combined_diff(changes: list[FileChange]) -> str:
    """The diffs of all ``changes``, one after another."""
    return "".join(change.diff() for change in changes)


def _write(change: FileChange) -> None:
    if change.after is None:
        change.path.unlink(missing_ok=True)
    else:
        atomic_write_bytes(change.path, change.after.encode("utf-8"))


def _restore(change: FileChange) -> None:
    if change.before is None:
        change.path.unlink(missing_ok=True)
    else:
        atomic_write_bytes(change.path, change.before)


def _write_all(changes: list[FileChange]) -> None:
    done: list[FileChange] = []
    try:
        for change in changes:
            _write(change)
            done.append(change)
    except OSError as exc:
        failed = changes[len(done)]
        for written in reversed(done):
            try:
                _restore(written)
            except OSError:
                # Restoring is best effort; undo still has the snapshot.
                pass
        raise ToolError(
            f"cannot write {failed.shown}: {exc.strerror or exc}; no file was changed"
        ) from exc


async def apply_changes(
    changes: list[FileChange], ctx: ToolContext, *, diff_in_output: bool
) -> ToolOutcome:
    """Snapshot (``before_change``) then write every change; the outcome carries the diff.

    With ``diff_in_output`` the model also gets the diff back (so it can check an
    edit landed where it meant), unless it is too long for ``ctx.max_output_chars``.
    """
    real = [c for c in changes if c.after is None or c.before != c.after.encode("utf-8")]
    for change in real:
        await ctx.before_change(change.path)
    await asyncio.to_thread(_write_all, real)
    diff = combined_diff(real)
    lines = [change.summary() for change in changes]
    output = "\n".join(lines)
    if diff and diff_in_output:
        if len(output) + len(diff) + 2 <= ctx.max_output_chars:
            output += "\n\n" + diff.rstrip("\n")
        else:
            output += f"\n(diff of {len(diff)} characters not shown; read the file to check)"
    return ToolOutcome(output=output, diff=diff or None, paths=[change.shown for change in changes])
