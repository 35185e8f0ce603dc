"""A supplied patch: a unified diff, or the arguments of the ``edit_many`` tool as JSON.

Read and parsed at intake (a file that is neither is bad input, exit 2), so
the safety and size rules can look at the paths it touches before anything
runs. It is applied in the worktree by the ``edit_many`` tool itself: all or
nothing, with that tool's messages when a hunk or an edit does not match.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tau_engine.errors import TauError, UsageError

MAX_PATCH_BYTES = 20_000_000


@dataclass
class PatchInput:
    """A parsed patch: its text, form, and the paths and line counts it touches."""

    text: str
    arguments: dict[str, Any]  # edit_many's arguments: {"patch": ...} or {"edits": [...]}
    paths: list[str] = field(default_factory=list)
    changed_lines: int = 0


def parse_patch_text(text: str) -> PatchInput:
    """Parse a patch's text; raises ``UsageError`` saying what is wrong with it."""
    from tau_engine.tools.edit_many import EditManyTool
    from tau_engine.tools.patch import parse_patch

    stripped = text.lstrip()
    arguments: dict[str, Any]
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"the patch looks like JSON but does not parse: {exc}") from exc
        if not isinstance(data, dict):
            raise UsageError("an edit_many patch must be a JSON object with 'edits' or 'patch'")
        arguments = data
    else:
        arguments = {"patch": text}
    tool = EditManyTool()
    try:
        args = tool.parse_args(arguments)
        if args.patch is not None:
            files = parse_patch(args.patch)
            paths = [p for f in files for p in dict.fromkeys((f.old_path, f.new_path)) if p]
            changed = sum(1 for f in files for h in f.hunks for line in h.lines if line.tag != " ")
        else:
            assert args.edits is not None
            paths = [e.path for e in args.edits]
            changed = sum(
                e.old_string.count("\n") + e.new_string.count("\n") + 2 for e in args.edits
            )
    except TauError as exc:
        raise UsageError(f"the patch is neither a unified diff nor edit_many JSON: {exc}") from exc
    return PatchInput(
        text=text, arguments=arguments, paths=list(dict.fromkeys(paths)), changed_lines=changed
    )


def read_patch(path: Path) -> PatchInput:
    """Read and parse ``--patch FILE`` (relative paths from the current directory)."""
    try:
        size = path.stat().st_size
        if size > MAX_PATCH_BYTES:
            raise UsageError(f"--patch {path} is {size:,} bytes; the limit is {MAX_PATCH_BYTES:,}")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"--patch {path} is not UTF-8 text") from exc
    except OSError as exc:
        raise UsageError(f"cannot read --patch {path}: {exc.strerror or exc}") from exc
    return parse_patch_text(text)
