"""The ``read`` tool: a text file's lines, numbered like ``cat -n``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import Field

from tau_engine.errors import ToolError
from tau_engine.tools.args import ToolArgs, parse_model
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome
from tau_engine.tools.fileio import BINARY_SNIFF_BYTES, check_is_file, looks_binary

DEFAULT_LIMIT = 2000
# Longer lines (minified code, data) are cut so one line cannot flood the context.
MAX_LINE_CHARS = 2000


class ReadArgs(ToolArgs):
    path: str
    offset: int = Field(1, ge=1)
    limit: int = Field(DEFAULT_LIMIT, ge=1)


def _count_lines(handle: BinaryIO) -> int:
    """Lines from the handle's position to the end, reading in blocks."""
    count = 0
    last = b""
    while block := handle.read(1 << 20):
        count += block.count(b"\n")
        last = block
    return count + (1 if last and not last.endswith(b"\n") else 0)


def _show(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").removesuffix("\n").removesuffix("\r")
    if len(text) > MAX_LINE_CHARS:
        text = f"{text[:MAX_LINE_CHARS]}… [line cut: {len(text) - MAX_LINE_CHARS} more characters]"
    return text


def read_numbered(path: Path, shown: str, offset: int, limit: int, max_chars: int) -> str:
    """Lines ``offset``.. of a text file, at most ``limit`` of them and ``max_chars`` in all."""
    check_is_file(path, shown)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ToolError(f"cannot read {shown}: {exc.strerror or exc}") from exc
    with handle:
        if looks_binary(handle.read(BINARY_SNIFF_BYTES)):
            raise ToolError(f"{shown} is a binary file; read only reads text")
        handle.seek(0)
        out: list[str] = []
        size = 0
        number = 0
        total: int | None = None
        for raw in handle:
            number += 1
            if number < offset:
                continue
            entry = f"{number:>6}\t{_show(raw)}"
            if len(out) >= limit or (out and size + len(entry) + 1 > max_chars):
                total = number + _count_lines(handle)
                break
            out.append(entry)
            size += len(entry) + 1
        if total is None:
            total = number
    if total == 0:
        return f"({shown} is empty)"
    if not out:
        raise ToolError(f"offset {offset} is past the end of {shown}, which has {total} lines")
    last = offset + len(out) - 1
    if last < total:
        out.append(
            f"(lines {offset}-{last} of {total}; read again with offset={last + 1} for more)"
        )
    return "\n".join(out)


class ReadTool(Tool):
    """Read a text file with line numbers."""

    name = "read"
    kind = "read"
    description = (
        "Read a text file. Lines come numbered like 'cat -n' (the number and a tab are not "
        "part of the file). Reads up to 2000 lines from offset; very long lines are cut. "
        "Binary files are refused; use glob to list folders."
    )
    parameters = {
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "File to read, relative to the workspace root.",
            },
            "offset": {
                "type": "integer",
                "minimum": 1,
                "description": "Number of the first line to show (1-based). Default 1.",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "description": f"Most lines to show. Default {DEFAULT_LIMIT}.",
            },
        },
        "required": ["path"],
        "additionalProperties": False,
    }

    def parse_args(self, arguments: dict[str, Any]) -> ReadArgs:
        return parse_model(self.name, ReadArgs, arguments, self.parameters)

    def target(self, args: ReadArgs) -> str:
        return args.path

    def paths(self, args: ReadArgs) -> list[str]:
        return [args.path]

    def result_source(self, args: ReadArgs) -> str:
        return f"file:{args.path}"

    async def run(self, args: ReadArgs, ctx: ToolContext) -> ToolOutcome:
        path = ctx.guard.resolve(args.path)
        shown = ctx.guard.relative(path)
        output = await asyncio.to_thread(
            read_numbered, path, shown, args.offset, args.limit, ctx.max_output_chars
        )
        return ToolOutcome(output=output, paths=[shown])
