"""glob and grep over a temporary workspace."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tau_engine.errors import ToolError, WorkspaceError
from tau_engine.safety.workspace import WorkspaceGuard
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome
from tau_engine.tools.search import MAX_GLOB_RESULTS, GlobTool, GrepTool
from tau_engine.tools.walk import glob_regex


def touch(path: Path, text: str = "", mtime: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    touch(root / "src/app.py", "import os\nTODO = 'later'\n", mtime=1_000)
    touch(root / "src/util/helpers.py", "def helper():\n    return 'todo: nothing'\n", mtime=3_000)
    touch(root / "README.md", "# Project\nTODO: write docs\n", mtime=2_000)
    touch(root / ".git/config", "TODO in git\n")
    touch(root / ".tau/state.py", "TODO in state\n")
    touch(root / "node_modules/lib/index.js", "TODO in deps\n")
    touch(root / "src/__pycache__/app.cpython-311.py", "TODO cached\n")
    touch(root / ".venv/lib/site.py", "TODO venv\n")
    (root / "logo.png").write_bytes(b"\x89PNG\x00\x00TODO")
    return root


@pytest.fixture
def ctx(ws: Path) -> ToolContext:
    return ToolContext(workspace=ws, guard=WorkspaceGuard(ws))


async def call(tool: Tool, ctx: ToolContext, **arguments: Any) -> ToolOutcome:
    return await tool.run(tool.parse_args(arguments), ctx)


@pytest.mark.parametrize(
    "pattern,path,matches",
    [
        ("**/*.py", "a/b/c.py", True),
        ("**/*.py", "c.py", True),
        ("*.py", "a/c.py", False),
        ("src/**/test_*.py", "src/test_x.py", True),
        ("src/**/test_*.py", "src/a/b/test_x.py", True),
        ("docs/*.{md,rst}", "docs/x.rst", True),
        ("docs/*.{md,rst}", "docs/x.txt", False),
        ("file?.txt", "file1.txt", True),
        ("[!a]*.txt", "a1.txt", False),
        ("a.py", "xa.py", False),
    ],
)
def test_glob_patterns(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).match(path)) is matches


async def test_glob_newest_first_and_skips_junk(ctx: ToolContext) -> None:
    out = await call(GlobTool(), ctx, pattern="**/*.py")
    assert out.output.splitlines() == ["src/util/helpers.py", "src/app.py"]
    assert out.data == {"count": 2}


async def test_glob_inside_a_named_junk_folder_still_works(ctx: ToolContext) -> None:
    out = await call(GlobTool(), ctx, pattern="node_modules/**/*.js")
    assert out.output == "node_modules/lib/index.js"


async def test_glob_folder_name_lists_its_files(ctx: ToolContext) -> None:
    out = await call(GlobTool(), ctx, pattern="src")
    assert out.output.splitlines() == ["src/util/helpers.py", "src/app.py"]


async def test_glob_caps_the_count(ws: Path, ctx: ToolContext) -> None:
    for n in range(MAX_GLOB_RESULTS + 5):
        touch(ws / "many" / f"f{n:03}.txt")
    out = await call(GlobTool(), ctx, pattern="many/*.txt")
    lines = out.output.splitlines()
    assert len(lines) == MAX_GLOB_RESULTS + 1
    assert lines[-1] == "… 5 more"


async def test_glob_no_match_hints_at_double_star(ctx: ToolContext) -> None:
    out = await call(GlobTool(), ctx, pattern="*.py")
    assert out.output == "no files match '*.py'; '*' does not enter folders, try '**/*.py'"


async def test_glob_outside_the_workspace(ctx: ToolContext) -> None:
    with pytest.raises(WorkspaceError):
        await call(GlobTool(), ctx, pattern="../*")
    with pytest.raises(WorkspaceError):
        await call(GlobTool(), ctx, pattern="/etc/*")


async def test_grep_finds_lines_and_skips_binary_and_junk(ws: Path, ctx: ToolContext) -> None:
    os.mkfifo(ws / "src" / "pipe.py")  # reading it would block forever
    out = await call(GrepTool(), ctx, pattern="TODO")
    assert out.output.splitlines() == [
        "README.md:2:TODO: write docs",
        "src/app.py:2:TODO = 'later'",
    ]


async def test_grep_path_glob_and_inline_flags(ctx: ToolContext) -> None:
    out = await call(GrepTool(), ctx, pattern="(?i)todo", path="src", glob="*.py")
    assert out.output.splitlines() == [
        "src/app.py:2:TODO = 'later'",
        "src/util/helpers.py:2:    return 'todo: nothing'",
    ]
    out = await call(GrepTool(), ctx, pattern="(?i)todo", path="src", glob="util/*.py")
    assert out.output == "src/util/helpers.py:2:    return 'todo: nothing'"
    out = await call(GrepTool(), ctx, pattern="import", path="src/app.py")
    assert out.output == "src/app.py:1:import os"


async def test_grep_caps_output_and_counts_the_rest(ws: Path) -> None:
    touch(ws / "log.txt", "".join(f"hit {n}\n" for n in range(1000)))
    small = ToolContext(workspace=ws, guard=WorkspaceGuard(ws), max_output_chars=2000)
    out = await call(GrepTool(), small, pattern="^hit", path="log.txt")
    lines = out.output.splitlines()
    assert lines[0] == "log.txt:1:hit 0"
    assert (
        lines[-1] == f"… {1000 - (len(lines) - 1)} more matches (narrow the pattern, path or glob)"
    )
    assert len(out.output) < 2200
    assert out.data == {"count": 1000}


async def test_grep_no_match_bad_regex_and_binary_target(ctx: ToolContext) -> None:
    out = await call(GrepTool(), ctx, pattern="nowhere-to-be-found")
    assert out.output == "no matches for 'nowhere-to-be-found'" and out.ok
    with pytest.raises(ToolError, match=r"invalid regular expression 'f\(x'"):
        GrepTool().parse_args({"pattern": "f(x"})
    with pytest.raises(ToolError, match=r"logo.png is a binary file"):
        await call(GrepTool(), ctx, pattern="TODO", path="logo.png")


async def test_grep_does_not_follow_links_out_of_the_workspace(
    tmp_path: Path, ws: Path, ctx: ToolContext
) -> None:
    touch(tmp_path / "secret.txt", "TODO secret\n")
    (ws / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (ws / "leakdir").symlink_to(tmp_path)
    out = await call(GrepTool(), ctx, pattern="secret")
    assert out.output == "no matches for 'secret'"
    with pytest.raises(WorkspaceError):
        await call(GrepTool(), ctx, pattern="TODO", path="leak.txt")
