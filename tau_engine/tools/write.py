"""The ``write`` and ``write_many`` tools: create or overwrite whole files."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from tau_engine.errors import TauError, ToolError
from tau_engine.tools.args import ToolArgs, parse_model
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome
from tau_engine.tools.changes import FileChange, apply_changes, combined_diff, reworded
from tau_engine.tools.fileio import read_bytes_if_exists, uses_crlf, with_crlf

_PATH = {
    "type": "string",
    "description": "File to write, relative to the workspace root; missing folders are created.",
}
_CONTENT = {
    "type": "string",
    "description": "The complete new content of the file (not a diff, not a part).",
}


class WriteArgs(ToolArgs):
    path: str
    content: str


class WriteManyArgs(ToolArgs):
    files: list[WriteArgs] = Field(min_length=1)


def plan_write(path_arg: str, content: str, ctx: ToolContext) -> FileChange:
    """The change that makes ``path_arg`` hold ``content`` (the path is checked by the guard)."""
    path = ctx.guard.resolve(path_arg, write=True)
    shown = ctx.guard.relative(path)
    if path == ctx.guard.root:
        raise ToolError(f"{path_arg!r} is the workspace root; give a file path")
    before = read_bytes_if_exists(path, shown)
    if before is not None and "\r" not in content and uses_crlf(before):
        # Rewriting a CRLF file with content the model wrote with \n: keep its endings.
        content = with_crlf(content)
    return FileChange(path, shown, before, content)


class WriteTool(Tool):
    """Create a file or replace its whole content."""

    name = "write"
    kind = "edit"
    description = (
        "Create a text file, or overwrite an existing one with new content. Parent folders "
        "are created. Returns a summary; prefer edit for changing part of an existing file."
    )
    parameters = {
        "type": "object",
        "properties": {"path": _PATH, "content": _CONTENT},
        "required": ["path", "content"],
        "additionalProperties": False,
    }

    def parse_args(self, arguments: dict[str, Any]) -> WriteArgs:
        return parse_model(self.name, WriteArgs, arguments, self.parameters)

    def target(self, args: WriteArgs) -> str:
        return args.path

    def paths(self, args: WriteArgs) -> list[str]:
        return [args.path]

    async def preview(self, args: WriteArgs, ctx: ToolContext) -> str:
        try:
            change = await asyncio.to_thread(plan_write, args.path, args.content, ctx)
        except TauError as exc:
            return f"write {args.path} would fail: {exc}"
        return combined_diff([change]) or f"{change.shown} unchanged"

    async def run(self, args: WriteArgs, ctx: ToolContext) -> ToolOutcome:
        change = await asyncio.to_thread(plan_write, args.path, args.content, ctx)
        return await apply_changes([change], ctx, diff_in_output=False)


class WriteManyTool(Tool):
    """Write several whole files at once: all of them, or none if any path is bad."""

    name = "write_many"
    kind = "edit"
    description = (
        "Create or overwrite several text files in one call. All paths are checked first: "
        "if any is invalid, no file is written. Use it to scaffold related files together."
    )
    parameters = {
        "type": "object",
        "properties": {
            "files": {
                "type": "array",
                "minItems": 1,
                "description": "The files to write, each with its path and complete content.",
                "items": {
                    "type": "object",
                    "properties": {"path": _PATH, "content": _CONTENT},
                    "required": ["path", "content"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["files"],
        "additionalProperties": False,
    }

    def parse_args(self, arguments: dict[str, Any]) -> WriteManyArgs:
        return parse_model(self.name, WriteManyArgs, arguments, self.parameters)

    def target(self, args: WriteManyArgs) -> str:
        return ", ".join(item.path for item in args.files)

    def paths(self, args: WriteManyArgs) -> list[str]:
        return list(dict.fromkeys(item.path for item in args.files))

    def _plan(self, args: WriteManyArgs, ctx: ToolContext) -> list[FileChange]:
        changes: list[FileChange] = []
        for number, item in enumerate(args.files, start=1):
            try:
                change = plan_write(item.path, item.content, ctx)
            except TauError as exc:
                raise reworded(
                    exc, f"file {number} of {len(args.files)}: {exc}; no file was written"
                ) from exc
            if any(change.path == earlier.path for earlier in changes):
                raise ToolError(
                    f"file {number} of {len(args.files)}: {change.shown} is listed "
                    "twice; no file was written"
                )
            changes.append(change)
        return changes

    async def preview(self, args: WriteManyArgs, ctx: ToolContext) -> str:
        try:
            changes = await asyncio.to_thread(self._plan, args, ctx)
        except TauError as exc:
            return f"write_many would fail: {exc}"
        return combined_diff(changes) or "no file would change"

    async def run(self, args: WriteManyArgs, ctx: ToolContext) -> ToolOutcome:
        changes = await asyncio.to_thread(self._plan, args, ctx)
        return await apply_changes(changes, ctx, diff_in_output=False)
