"""The ``edit`` tool: replace one exact passage of a file."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tau_engine.errors import TauError, ToolError
from tau_engine.tools.args import ToolArgs, parse_model
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome
from tau_engine.tools.changes import FileChange, apply_changes, combined_diff
from tau_engine.tools.fileio import decode_text, read_bytes_if_exists, uses_crlf, with_crlf

# What read's "cat -n" prefix looks like when a model copies it into old_string.
_LINE_NUMBER_PREFIX = re.compile(r"^\s*\d+\t", re.MULTILINE)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _not_found(shown: str, text: str, old: str) -> str:
    message = f"old_string not found in {shown}"
    if _LINE_NUMBER_PREFIX.match(old):
        return message + "; leave out the line-number prefixes that read shows"
    if _collapse(old) and _collapse(old) in _collapse(text):
        return (
            message + "; a passage matching it except for whitespace or indentation "
            "exists: copy the exact text from read"
        )
    return message + "; read the file again and copy the exact text to replace"


def _line_numbers(text: str, old: str, limit: int = 10) -> str:
    numbers: list[str] = []
    start = text.find(old)
    while start != -1 and len(numbers) < limit:
        numbers.append(str(text.count("\n", 0, start) + 1))
        start = text.find(old, start + len(old))
    return ", ".join(numbers)


def replace_text(shown: str, text: str, old: str, new: str, replace_all: bool) -> str:
    """``text`` with ``old`` replaced by ``new``; ``ToolError`` when that is not one exact match.

    In a CRLF file, an ``old``/``new`` written with plain ``\\n`` is matched and
    written with ``\\r\\n``, so the file keeps its line endings, also when the
    edit adds lines.
    """
    if not old:
        raise ToolError("old_string is empty; to create or overwrite a whole file use write")
    if old == new:
        raise ToolError("old_string and new_string are identical; nothing would change")
    count = text.count(old)
    if count == 0 and "\r\n" in text and "\n" in old and "\r\n" not in old:
        old, new = old.replace("\n", "\r\n"), with_crlf(new)
        count = text.count(old)
    elif uses_crlf(text.encode()):
        new = with_crlf(new)
    if count == 0:
        raise ToolError(_not_found(shown, text, old))
    if count > 1 and not replace_all:
        raise ToolError(
            f"old_string occurs {count} times in {shown} (lines "
            f"{_line_numbers(text, old)}); add more context or set replace_all"
        )
    return text.replace(old, new) if replace_all else text.replace(old, new, 1)


class EditArgs(ToolArgs):
    path: str
    old_string: str
    new_string: str
    replace_all: bool = False


EDIT_ITEM_PROPERTIES: dict[str, Any] = {
    "path": {"type": "string", "description": "File to change, relative to the workspace root."},
    "old_string": {
        "type": "string",
        "description": "Exact text to replace, copied from the file including "
        "indentation (without read's line-number prefixes). It must "
        "occur exactly once unless replace_all is true; include "
        "surrounding lines to make it unique.",
    },
    "new_string": {
        "type": "string",
        "description": "Text to put in its place (must differ from old_string; empty to delete).",
    },
    "replace_all": {
        "type": "boolean",
        "description": "Replace every occurrence instead of exactly one. Default false.",
    },
}


class EditTool(Tool):
    """Replace one exact passage of a text file."""

    name = "edit"
    kind = "edit"
    description = (
        "Replace an exact passage of an existing text file. old_string must match the file "
        "exactly (whitespace included) and occur once, unless replace_all is true. Read the "
        "file first. Returns the diff. To create a file or rewrite it whole, use write; for "
        "several changes at once, use edit_many."
    )
    parameters = {
        "type": "object",
        "properties": EDIT_ITEM_PROPERTIES,
        "required": ["path", "old_string", "new_string"],
        "additionalProperties": False,
    }

    def parse_args(self, arguments: dict[str, Any]) -> EditArgs:
        return parse_model(self.name, EditArgs, arguments, self.parameters)

    def target(self, args: EditArgs) -> str:
        return args.path

    def paths(self, args: EditArgs) -> list[str]:
        return [args.path]

    def _plan(self, args: EditArgs, ctx: ToolContext) -> FileChange:
        path = ctx.guard.resolve(args.path, write=True)
        shown = ctx.guard.relative(path)
        before = read_bytes_if_exists(path, shown)
        if before is None:
            raise ToolError(f"{shown} does not exist; use write to create it")
        text = decode_text(before, shown)
        after = replace_text(shown, text, args.old_string, args.new_string, args.replace_all)
        return FileChange(path, shown, before, after)

    async def preview(self, args: EditArgs, ctx: ToolContext) -> str:
        try:
            change = await asyncio.to_thread(self._plan, args, ctx)
        except TauError as exc:
            return f"edit {args.path} would fail: {exc}"
        return combined_diff([change])

    async def run(self, args: EditArgs, ctx: ToolContext) -> ToolOutcome:
        change = await asyncio.to_thread(self._plan, args, ctx)
        return await apply_changes([change], ctx, diff_in_output=True)
