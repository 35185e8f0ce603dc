"""The ``edit_many`` tool: several edits, or a unified diff, applied all-or-nothing.

Every file's new content is computed in memory first (edits to one file apply
in the order given, each to the result of the previous one); only when all of
them succeed is anything written. A failure names the edit or hunk and says
that nothing was changed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from tau_engine.errors import TauError, ToolError
from tau_engine.tools.args import ToolArgs, parse_model
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome
from tau_engine.tools.changes import FileChange, apply_changes, combined_diff, reworded
from tau_engine.tools.edit import EDIT_ITEM_PROPERTIES, EditArgs, replace_text
from tau_engine.tools.fileio import decode_text, read_bytes_if_exists
from tau_engine.tools.patch import apply_file_patch, parse_patch


class EditManyArgs(ToolArgs):
    edits: list[EditArgs] | None = Field(None, min_length=1)
    patch: str | None = None


@dataclass
class _Draft:
    """One file while the plan is computed: what it was and what it has become so far."""

    shown: str
    before: bytes | None
    text: str | None


class _Drafts:
    """The files a plan touches, each loaded once, keyed by resolved path."""

    def __init__(self, ctx: ToolContext) -> None:
        self._ctx = ctx
        self.files: dict[Path, _Draft] = {}

    def load(self, path_arg: str) -> _Draft:
        path = self._ctx.guard.resolve(path_arg, write=True)
        if path not in self.files:
            shown = self._ctx.guard.relative(path)
            before = read_bytes_if_exists(path, shown)
            text = None if before is None else decode_text(before, shown)
            self.files[path] = _Draft(shown, before, text)
        return self.files[path]

    def changes(self) -> list[FileChange]:
        return [
            FileChange(path, d.shown, d.before, d.text)
            for path, d in self.files.items()
            if not (d.before is None and d.text is None)
        ]


def _plan_edits(edits: list[EditArgs], ctx: ToolContext) -> list[FileChange]:
    drafts = _Drafts(ctx)
    for number, edit in enumerate(edits, start=1):
        try:
            draft = drafts.load(edit.path)
            if draft.text is None:
                raise ToolError(f"{draft.shown} does not exist; use write to create it")
            draft.text = replace_text(
                draft.shown, draft.text, edit.old_string, edit.new_string, edit.replace_all
            )
        except TauError as exc:
            raise reworded(
                exc, f"edit {number} of {len(edits)} ({edit.path}): {exc}; nothing was changed"
            ) from exc
    return drafts.changes()


def _plan_patch(patch: str, ctx: ToolContext) -> list[FileChange]:
    drafts = _Drafts(ctx)
    try:
        for file_patch in parse_patch(patch):
            if file_patch.is_rename:
                assert file_patch.old_path is not None and file_patch.new_path is not None
                source, target = drafts.load(file_patch.old_path), drafts.load(file_patch.new_path)
                if target.text is not None:
                    raise ToolError(
                        f"the patch renames {source.shown} to {target.shown}, which already exists"
                    )
                target.text = apply_file_patch(file_patch, source.text)
                source.text = None
            else:
                draft = drafts.load(file_patch.path)
                draft.text = apply_file_patch(file_patch, draft.text)
    except TauError as exc:
        raise reworded(exc, f"{exc}; nothing was changed") from exc
    return drafts.changes()


class EditManyTool(Tool):
    """Apply several exact edits, or one unified diff, across files, all or nothing."""

    name = "edit_many"
    kind = "edit"
    description = (
        "Change several places, in one or more files, in a single all-or-nothing step. Give "
        "exactly one of: 'edits', a list of exact replacements (same rules as edit; edits to "
        "the same file apply in order), or 'patch', a unified diff (as printed by git diff: "
        "'--- a/PATH' and '+++ b/PATH' headers, '@@' hunks with context lines; /dev/null "
        "creates or deletes a file). If any edit or hunk fails, no file is changed and the "
        "error names the one that failed."
    )
    parameters = {
        "type": "object",
        "properties": {
            "edits": {
                "type": "array",
                "minItems": 1,
                "description": "Exact replacements, applied in order. Omit when giving patch.",
                "items": {
                    "type": "object",
                    "properties": EDIT_ITEM_PROPERTIES,
                    "required": ["path", "old_string", "new_string"],
                    "additionalProperties": False,
                },
            },
            "patch": {
                "type": "string",
                "description": "A unified diff of one or more files, paths relative to the "
                "workspace root. Context lines must match the files exactly; "
                "hunk line numbers may be approximate. Omit when giving edits.",
            },
        },
        "required": [],
        "additionalProperties": False,
    }

    def parse_args(self, arguments: dict[str, Any]) -> EditManyArgs:
        args = parse_model(self.name, EditManyArgs, arguments, self.parameters)
        if (args.edits is None) == (args.patch is None):
            raise ToolError(
                "edit_many: give exactly one of 'edits' (a list of replacements) "
                "or 'patch' (a unified diff)"
            )
        if args.patch is not None and not args.patch.strip():
            raise ToolError("edit_many: 'patch' is empty; give a unified diff")
        return args

    def target(self, args: EditManyArgs) -> str:
        if args.edits is not None:
            paths = list(dict.fromkeys(edit.path for edit in args.edits))
            return ", ".join(paths)
        try:
            return ", ".join(p.path for p in parse_patch(args.patch or ""))
        except TauError:
            return "patch"

    def paths(self, args: EditManyArgs) -> list[str]:
        if args.edits is not None:
            return list(dict.fromkeys(edit.path for edit in args.edits))
        try:
            patches = parse_patch(args.patch or "")
        except TauError:
            return []  # the call itself reports the bad patch
        return list(
            dict.fromkeys(p for fp in patches for p in (fp.old_path, fp.new_path) if p is not None)
        )

    def _plan(self, args: EditManyArgs, ctx: ToolContext) -> list[FileChange]:
        if args.edits is not None:
            return _plan_edits(args.edits, ctx)
        assert args.patch is not None
        return _plan_patch(args.patch, ctx)

    async def preview(self, args: EditManyArgs, ctx: ToolContext) -> str:
        try:
            changes = await asyncio.to_thread(self._plan, args, ctx)
        except TauError as exc:
            return f"edit_many would fail: {exc}"
        return combined_diff(changes) or "no file would change"

    async def run(self, args: EditManyArgs, ctx: ToolContext) -> ToolOutcome:
        changes = await asyncio.to_thread(self._plan, args, ctx)
        return await apply_changes(changes, ctx, diff_in_output=True)
