"""Edits that add lines to a CRLF file keep its CRLF line endings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tau_engine.safety.workspace import WorkspaceGuard
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome
from tau_engine.tools.edit import EditTool
from tau_engine.tools.edit_many import EditManyTool
from tau_engine.tools.write import WriteManyTool, WriteTool

CRLF_FILE = b"one\r\ntwo\r\nthree\r\n"


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    (tmp_path / "w.txt").write_bytes(CRLF_FILE)
    return ToolContext(workspace=tmp_path, guard=WorkspaceGuard(tmp_path))


async def call(tool: Tool, ctx: ToolContext, **arguments: Any) -> ToolOutcome:
    return await tool.run(tool.parse_args(arguments), ctx)


@pytest.mark.parametrize(
    "old,new,expected",
    [
        # One line in, several out: the new lines take the file's CRLF.
        ("two", "two\nmore\nlines", b"one\r\ntwo\r\nmore\r\nlines\r\nthree\r\n"),
        ("three\r\n", "three\nfour\n", b"one\r\ntwo\r\nthree\r\nfour\r\n"),
        # Multi-line old_string written with \n, as models do.
        ("one\ntwo", "1\n1.5\n2", b"1\r\n1.5\r\n2\r\nthree\r\n"),
        # Already CRLF in new_string: kept as given, not doubled.
        ("two", "2\r\n2b", b"one\r\n2\r\n2b\r\nthree\r\n"),
    ],
)
async def test_edit_adds_lines_with_crlf(
    ctx: ToolContext, old: str, new: str, expected: bytes
) -> None:
    await call(EditTool(), ctx, path="w.txt", old_string=old, new_string=new)
    assert (ctx.workspace / "w.txt").read_bytes() == expected


async def test_edit_many_adds_lines_with_crlf(ctx: ToolContext) -> None:
    await call(
        EditManyTool(),
        ctx,
        edits=[
            {"path": "w.txt", "old_string": "one", "new_string": "zero\none"},
            {"path": "w.txt", "old_string": "three", "new_string": "three\nfour"},
        ],
    )
    assert (ctx.workspace / "w.txt").read_bytes() == (b"zero\r\none\r\ntwo\r\nthree\r\nfour\r\n")


async def test_an_lf_file_stays_lf(ctx: ToolContext) -> None:
    (ctx.workspace / "u.txt").write_bytes(b"a\nb\n")
    await call(EditTool(), ctx, path="u.txt", old_string="a", new_string="a\nx")
    assert (ctx.workspace / "u.txt").read_bytes() == b"a\nx\nb\n"


async def test_rewriting_a_crlf_file_keeps_crlf(ctx: ToolContext) -> None:
    await call(WriteTool(), ctx, path="w.txt", content="new\ncontent\n")
    assert (ctx.workspace / "w.txt").read_bytes() == b"new\r\ncontent\r\n"
    await call(
        WriteManyTool(),
        ctx,
        files=[{"path": "w.txt", "content": "again\n"}, {"path": "fresh.txt", "content": "lf\n"}],
    )
    assert (ctx.workspace / "w.txt").read_bytes() == b"again\r\n"
    assert (ctx.workspace / "fresh.txt").read_bytes() == b"lf\n"
    # Content that brings its own \r is written exactly as given.
    await call(WriteTool(), ctx, path="w.txt", content="mixed\r\nend\n")
    assert (ctx.workspace / "w.txt").read_bytes() == b"mixed\r\nend\n"
