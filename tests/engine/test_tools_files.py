"""read, write, edit and write_many against real files in a temporary workspace."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tau_engine.errors import ToolError, WorkspaceError
from tau_engine.safety.workspace import WorkspaceGuard
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome
from tau_engine.tools.edit import EditTool
from tau_engine.tools.read import ReadTool
from tau_engine.tools.write import WriteManyTool, WriteTool


class Checkpoints:
    """A before_change callback that records each path and its content at that moment."""

    def __init__(self) -> None:
        self.calls: list[tuple[Path, bytes | None]] = []

    async def __call__(self, path: Path) -> None:
        self.calls.append((path, path.read_bytes() if path.exists() else None))


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def checkpoints() -> Checkpoints:
    return Checkpoints()


@pytest.fixture
def ctx(ws: Path, checkpoints: Checkpoints) -> ToolContext:
    return ToolContext(workspace=ws, guard=WorkspaceGuard(ws), before_change=checkpoints)


async def call(tool: Tool, ctx: ToolContext, **arguments: Any) -> ToolOutcome:
    return await tool.run(tool.parse_args(arguments), ctx)


# -- read ----------------------------------------------------------------------


async def test_read_numbers_lines_like_cat_n(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.py").write_text("first\nsecond\r\nthird")
    out = await call(ReadTool(), ctx, path="a.py")
    assert out.output == "     1\tfirst\n     2\tsecond\n     3\tthird"
    assert out.paths == ["a.py"]


async def test_read_offset_and_limit_say_how_to_continue(ws: Path, ctx: ToolContext) -> None:
    (ws / "big.txt").write_text("".join(f"row {n}\n" for n in range(1, 101)))
    out = await call(ReadTool(), ctx, path="big.txt", offset=10, limit=3)
    lines = out.output.splitlines()
    assert lines[:3] == ["    10\trow 10", "    11\trow 11", "    12\trow 12"]
    assert lines[3] == "(lines 10-12 of 100; read again with offset=13 for more)"


async def test_read_offset_past_the_end(ws: Path, ctx: ToolContext) -> None:
    (ws / "s.txt").write_text("a\nb\n")
    with pytest.raises(ToolError, match=r"offset 5 is past the end of s.txt, which has 2 lines"):
        await call(ReadTool(), ctx, path="s.txt", offset=5)


async def test_read_cuts_very_long_lines_and_respects_the_output_cap(ws: Path) -> None:
    (ws / "min.js").write_text("x" * 5000 + "\n" + "short\n" * 3000)
    small = ToolContext(workspace=ws, guard=WorkspaceGuard(ws), max_output_chars=3000)
    out = await call(ReadTool(), small, path="min.js")
    first = out.output.splitlines()[0]
    assert first.startswith("     1\t" + "x" * 2000) and "3000 more characters" in first
    assert len(out.output) < 3200
    assert out.output.splitlines()[-1].startswith("(lines 1-")


async def test_read_empty_file(ws: Path, ctx: ToolContext) -> None:
    (ws / "e.txt").write_text("")
    assert (await call(ReadTool(), ctx, path="e.txt")).output == "(e.txt is empty)"


async def test_read_refuses_binary_files(ws: Path, ctx: ToolContext) -> None:
    (ws / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ToolError, match=r"^x.png is a binary file; read only reads text$"):
        await call(ReadTool(), ctx, path="x.png")


async def test_read_refuses_directories_with_a_glob_hint(ws: Path, ctx: ToolContext) -> None:
    (ws / "src").mkdir()
    with pytest.raises(ToolError, match=r"src is a directory; use glob"):
        await call(ReadTool(), ctx, path="src")


async def test_read_missing_file_suggests_close_names(ws: Path, ctx: ToolContext) -> None:
    (ws / "pkg").mkdir()
    (ws / "pkg" / "config.py").write_text("")
    with pytest.raises(
        ToolError,
        match=r"pkg/confg.py does not exist; did you mean "
        "pkg/config.py",
    ):
        await call(ReadTool(), ctx, path="pkg/confg.py")
    with pytest.raises(ToolError, match=r"nothing/x.py does not exist"):
        await call(ReadTool(), ctx, path="nothing/x.py")


@pytest.mark.parametrize(
    "arguments,needle",
    [
        ({}, "missing required argument 'path'"),
        ({"path": "a", "offset": 0}, "'offset'"),
        ({"path": "a", "lines": 3}, "unknown argument 'lines'"),
        ({"path": 7}, "'path'"),
    ],
)
def test_read_argument_errors_tell_the_model_what_to_fix(
    arguments: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ToolError) as info:
        ReadTool().parse_args(arguments)
    assert needle in str(info.value)
    assert "expected arguments: path, offset?, limit?" in str(info.value)


# -- the workspace rule --------------------------------------------------------


@pytest.mark.parametrize(
    "tool,arguments",
    [
        (ReadTool(), {"path": "../outside.txt"}),
        (ReadTool(), {"path": "/etc/passwd"}),
        (ReadTool(), {"path": "link/secret.txt"}),
        (WriteTool(), {"path": "../outside.txt", "content": "x"}),
        (WriteTool(), {"path": "link/secret.txt", "content": "x"}),
        (EditTool(), {"path": "/etc/passwd", "old_string": "root", "new_string": "x"}),
        (
            WriteManyTool(),
            {
                "files": [
                    {"path": "ok.txt", "content": "x"},
                    {"path": "../../evil.txt", "content": "x"},
                ]
            },
        ),
    ],
)
async def test_paths_outside_the_workspace_are_refused(
    tmp_path: Path,
    ws: Path,
    ctx: ToolContext,
    checkpoints: Checkpoints,
    tool: Tool,
    arguments: dict[str, Any],
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (ws / "link").symlink_to(outside)
    with pytest.raises(WorkspaceError, match=r"outside the workspace"):
        await call(tool, ctx, **arguments)
    assert checkpoints.calls == []
    assert not (ws / "ok.txt").exists()
    assert (outside / "secret.txt").read_text() == "secret"
    assert not (tmp_path / "outside.txt").exists()


# -- write ---------------------------------------------------------------------


async def test_write_creates_parents_and_reports_a_diff(
    ws: Path, ctx: ToolContext, checkpoints: Checkpoints
) -> None:
    out = await call(WriteTool(), ctx, path="deep/er/new.py", content="a = 1\nb = 2\n")
    assert (ws / "deep/er/new.py").read_text() == "a = 1\nb = 2\n"
    assert out.output == "created deep/er/new.py (2 lines)"
    assert out.diff is not None and out.diff.startswith("--- /dev/null\n+++ b/deep/er/new.py")
    assert out.paths == ["deep/er/new.py"]
    assert checkpoints.calls == [(ws / "deep/er/new.py", None)]


async def test_write_overwrites_keeps_mode_and_leaves_no_temp_files(
    ws: Path, ctx: ToolContext, checkpoints: Checkpoints
) -> None:
    script = ws / "run.sh"
    script.write_text("echo old\n")
    script.chmod(0o750)
    out = await call(WriteTool(), ctx, path="run.sh", content="echo new\n")
    assert script.read_text() == "echo new\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert out.output == "updated run.sh (+1 -1)"
    assert out.diff is not None and "-echo old\n+echo new\n" in out.diff
    assert checkpoints.calls == [(script, b"echo old\n")]
    assert sorted(os.listdir(ws)) == ["run.sh"]


async def test_write_through_an_inner_symlink_keeps_the_link(ws: Path, ctx: ToolContext) -> None:
    (ws / "real.txt").write_text("old\n")
    (ws / "alias.txt").symlink_to(ws / "real.txt")
    await call(WriteTool(), ctx, path="alias.txt", content="new\n")
    assert (ws / "alias.txt").is_symlink()
    assert (ws / "real.txt").read_text() == "new\n"


async def test_write_preview_is_the_diff_and_changes_nothing(
    ws: Path, ctx: ToolContext, checkpoints: Checkpoints
) -> None:
    (ws / "a.txt").write_text("one\n")
    tool = WriteTool()
    preview = await tool.preview(tool.parse_args({"path": "a.txt", "content": "two\n"}), ctx)
    assert "-one\n+two\n" in preview
    assert (ws / "a.txt").read_text() == "one\n"
    assert checkpoints.calls == []


async def test_write_onto_a_directory_fails(ws: Path, ctx: ToolContext) -> None:
    (ws / "d").mkdir()
    with pytest.raises(ToolError, match=r"d is a directory"):
        await call(WriteTool(), ctx, path="d", content="x")


# -- edit ----------------------------------------------------------------------


async def test_edit_replaces_one_exact_passage(
    ws: Path, ctx: ToolContext, checkpoints: Checkpoints
) -> None:
    (ws / "m.py").write_text("def f():\n    return 1\n\ndef g():\n    return 2\n")
    out = await call(
        EditTool(), ctx, path="m.py", old_string="    return 1", new_string="    return 10"
    )
    assert (ws / "m.py").read_text() == "def f():\n    return 10\n\ndef g():\n    return 2\n"
    assert out.diff is not None and "-    return 1\n+    return 10\n" in out.diff
    assert out.output.startswith("updated m.py (+1 -1)") and "+    return 10" in out.output
    assert checkpoints.calls == [
        (ws / "m.py", b"def f():\n    return 1\n\ndef g():\n    return 2\n")
    ]


async def test_edit_old_string_not_found(ws: Path, ctx: ToolContext) -> None:
    (ws / "x.py").write_text("a = 1\n")
    with pytest.raises(ToolError, match=r"^old_string not found in x.py"):
        await call(EditTool(), ctx, path="x.py", old_string="b = 2", new_string="b = 3")


async def test_edit_not_found_hints_at_whitespace_and_line_numbers(
    ws: Path, ctx: ToolContext
) -> None:
    (ws / "x.py").write_text("if a:\n    b()\n")
    with pytest.raises(ToolError, match=r"except for whitespace"):
        await call(EditTool(), ctx, path="x.py", old_string="if a:\n  b()", new_string="c")
    with pytest.raises(ToolError, match=r"line-number prefixes"):
        await call(EditTool(), ctx, path="x.py", old_string="     2\t    b()", new_string="c")


async def test_edit_ambiguous_old_string(
    ws: Path, ctx: ToolContext, checkpoints: Checkpoints
) -> None:
    (ws / "x.py").write_text("x = 0\nx = 0\ny = 1\nx = 0\n")
    with pytest.raises(
        ToolError,
        match=r"^old_string occurs 3 times in x.py \(lines 1, 2, 4\); "
        "add more context or set replace_all$",
    ):
        await call(EditTool(), ctx, path="x.py", old_string="x = 0", new_string="x = 5")
    assert checkpoints.calls == []
    await call(
        EditTool(), ctx, path="x.py", old_string="x = 0", new_string="x = 5", replace_all=True
    )
    assert (ws / "x.py").read_text() == "x = 5\nx = 5\ny = 1\nx = 5\n"


async def test_edit_identical_strings_and_empty_old_string_are_errors(
    ws: Path, ctx: ToolContext
) -> None:
    (ws / "x.py").write_text("a\n")
    with pytest.raises(ToolError, match=r"identical"):
        await call(EditTool(), ctx, path="x.py", old_string="a", new_string="a")
    with pytest.raises(ToolError, match=r"old_string is empty; .* use write"):
        await call(EditTool(), ctx, path="x.py", old_string="", new_string="b")


async def test_edit_missing_and_binary_files(ws: Path, ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match=r"nope.py does not exist; use write"):
        await call(EditTool(), ctx, path="nope.py", old_string="a", new_string="b")
    (ws / "blob.bin").write_bytes(b"ab\x00cd")
    with pytest.raises(ToolError, match=r"blob.bin is a binary file"):
        await call(EditTool(), ctx, path="blob.bin", old_string="ab", new_string="xy")


async def test_edit_keeps_crlf_line_endings(ws: Path, ctx: ToolContext) -> None:
    (ws / "w.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    await call(EditTool(), ctx, path="w.txt", old_string="one\ntwo", new_string="1\n2")
    assert (ws / "w.txt").read_bytes() == b"1\r\n2\r\nthree\r\n"


async def test_edit_preview_shows_the_failure_instead_of_raising(
    ws: Path, ctx: ToolContext
) -> None:
    (ws / "x.py").write_text("a\n")
    tool = EditTool()
    preview = await tool.preview(
        tool.parse_args({"path": "x.py", "old_string": "zzz", "new_string": "y"}), ctx
    )
    assert preview.startswith("edit x.py would fail: old_string not found in x.py")


# -- write_many ----------------------------------------------------------------


async def test_write_many_writes_every_file_after_checkpointing_each(
    ws: Path, ctx: ToolContext, checkpoints: Checkpoints
) -> None:
    (ws / "old.txt").write_text("before\n")
    out = await call(
        WriteManyTool(),
        ctx,
        files=[
            {"path": "old.txt", "content": "after\n"},
            {"path": "pkg/__init__.py", "content": ""},
            {"path": "pkg/mod.py", "content": "X = 1\n"},
        ],
    )
    assert (ws / "old.txt").read_text() == "after\n"
    assert (ws / "pkg/mod.py").read_text() == "X = 1\n"
    assert (ws / "pkg/__init__.py").read_text() == ""
    assert checkpoints.calls == [
        (ws / "old.txt", b"before\n"),
        (ws / "pkg/__init__.py", None),
        (ws / "pkg/mod.py", None),
    ]
    assert out.paths == ["old.txt", "pkg/__init__.py", "pkg/mod.py"]
    assert out.diff is not None and "+++ b/pkg/mod.py" in out.diff


async def test_write_many_is_all_or_nothing_on_a_bad_path(
    ws: Path, ctx: ToolContext, checkpoints: Checkpoints
) -> None:
    (ws / "taken").mkdir()
    with pytest.raises(
        ToolError,
        match=r"file 2 of 2: taken is a directory.*no file was "
        "written",
    ):
        await call(
            WriteManyTool(),
            ctx,
            files=[{"path": "a.txt", "content": "a"}, {"path": "taken", "content": "b"}],
        )
    assert not (ws / "a.txt").exists()
    assert checkpoints.calls == []


async def test_write_many_rejects_the_same_file_twice(ws: Path, ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match=r"a.txt is listed twice"):
        await call(
            WriteManyTool(),
            ctx,
            files=[{"path": "a.txt", "content": "1"}, {"path": "./a.txt", "content": "2"}],
        )


async def test_write_many_rolls_back_when_a_write_fails(
    ws: Path, ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tau_engine.tools.fileio import atomic_write_bytes as real_write

    def failing_write(path: Path, data: bytes) -> None:
        if path.name == "second.txt":
            raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr("tau_engine.tools.changes.atomic_write_bytes", failing_write)
    (ws / "first.txt").write_text("original\n")
    with pytest.raises(
        ToolError,
        match=r"cannot write second.txt: No space left on device; "
        "no file was changed",
    ):
        await call(
            WriteManyTool(),
            ctx,
            files=[
                {"path": "first.txt", "content": "new\n"},
                {"path": "new.txt", "content": "n\n"},
                {"path": "second.txt", "content": "x"},
            ],
        )
    assert (ws / "first.txt").read_text() == "original\n"
    assert sorted(os.listdir(ws)) == ["first.txt"]


async def test_special_files_are_refused_instead_of_blocking(ws: Path, ctx: ToolContext) -> None:
    os.mkfifo(ws / "pipe")
    with pytest.raises(ToolError, match=r"^pipe is not a regular file$"):
        await call(ReadTool(), ctx, path="pipe")
    with pytest.raises(ToolError, match=r"^pipe is not a regular file$"):
        await call(WriteTool(), ctx, path="pipe", content="x")
