"""edit_many: exact edits and unified diffs across files, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tau_engine.errors import PatchError, ToolError, WorkspaceError
from tau_engine.safety.workspace import WorkspaceGuard
from tau_engine.tools.base import ToolContext, ToolOutcome
from tau_engine.tools.edit_many import EditManyTool


class Checkpoints:
    """Records each before_change path with the file's content at that moment."""

    def __init__(self) -> None:
        self.calls: list[tuple[Path, bytes | None]] = []

    async def __call__(self, path: Path) -> None:
        self.calls.append((path, path.read_bytes() if path.exists() else None))


@pytest.fixture
def checkpoints() -> Checkpoints:
    return Checkpoints()


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.py").write_text("alpha = 1\nshared = 0\n")
    (root / "b.py").write_text("beta = 2\nshared = 0\n")
    return root


@pytest.fixture
def ctx(ws: Path, checkpoints: Checkpoints) -> ToolContext:
    return ToolContext(workspace=ws, guard=WorkspaceGuard(ws), before_change=checkpoints)


async def call(ctx: ToolContext, **arguments: Any) -> ToolOutcome:
    tool = EditManyTool()
    return await tool.run(tool.parse_args(arguments), ctx)


def edit(path: str, old: str, new: str, **extra: Any) -> dict[str, Any]:
    return {"path": path, "old_string": old, "new_string": new, **extra}


async def test_edits_across_files_apply_in_order(
    ws: Path, ctx: ToolContext, checkpoints: Checkpoints
) -> None:
    out = await call(
        ctx,
        edits=[
            edit("a.py", "alpha = 1", "alpha = 10"),
            edit("b.py", "beta = 2", "beta = 20"),
            edit("a.py", "alpha = 10", "alpha = 100"),  # sees the first edit's result
        ],
    )
    assert (ws / "a.py").read_text() == "alpha = 100\nshared = 0\n"
    assert (ws / "b.py").read_text() == "beta = 20\nshared = 0\n"
    assert out.paths == ["a.py", "b.py"]
    assert out.diff is not None and "+alpha = 100" in out.diff and "+beta = 20" in out.diff
    assert checkpoints.calls == [
        (ws / "a.py", b"alpha = 1\nshared = 0\n"),
        (ws / "b.py", b"beta = 2\nshared = 0\n"),
    ]


async def test_a_failing_second_edit_leaves_the_first_file_untouched(
    ws: Path, ctx: ToolContext, checkpoints: Checkpoints
) -> None:
    with pytest.raises(
        ToolError,
        match=r"^edit 2 of 2 \(b.py\): old_string not found in b.py"
        r".*; nothing was changed$",
    ):
        await call(
            ctx, edits=[edit("a.py", "alpha = 1", "alpha = 10"), edit("b.py", "gamma", "delta")]
        )
    assert (ws / "a.py").read_text() == "alpha = 1\nshared = 0\n"
    assert checkpoints.calls == []


async def test_ambiguous_edit_fails_and_replace_all_resolves_it(ws: Path, ctx: ToolContext) -> None:
    (ws / "c.py").write_text("shared = 0\nshared = 0\n")
    with pytest.raises(ToolError, match=r"edit 1 of 1 \(c.py\): old_string occurs 2 times"):
        await call(ctx, edits=[edit("c.py", "shared = 0", "shared = 1")])
    await call(ctx, edits=[edit("c.py", "shared = 0", "shared = 1", replace_all=True)])
    assert (ws / "c.py").read_text() == "shared = 1\nshared = 1\n"


async def test_edit_outside_the_workspace_stays_a_workspace_error(
    ws: Path, ctx: ToolContext
) -> None:
    with pytest.raises(WorkspaceError, match=r"edit 2 of 2"):
        await call(ctx, edits=[edit("a.py", "alpha", "ALPHA"), edit("../x.py", "a", "b")])
    assert (ws / "a.py").read_text() == "alpha = 1\nshared = 0\n"


@pytest.mark.parametrize(
    "arguments,needle",
    [
        ({}, "exactly one of 'edits'"),
        ({"edits": [edit("a.py", "a", "b")], "patch": "--- a/a.py"}, "exactly one of 'edits'"),
        ({"edits": []}, "'edits'"),
        ({"patch": "  \n"}, "'patch' is empty"),
        (
            {"edits": [{"path": "a.py", "old_string": "a"}]},
            "missing required argument 'edits.0.new_string'",
        ),
    ],
)
def test_argument_errors(arguments: dict[str, Any], needle: str) -> None:
    with pytest.raises(ToolError) as info:
        EditManyTool().parse_args(arguments)
    assert needle in str(info.value)


# -- patch mode ----------------------------------------------------------------

MULTI_FILE_PATCH = """\
diff --git a/a.py b/a.py
--- a/a.py
+++ b/a.py
@@ -1,2 +1,2 @@
-alpha = 1
+alpha = 11
 shared = 0
diff --git a/b.py b/b.py
--- a/b.py
+++ /dev/null
@@ -1,2 +0,0 @@
-beta = 2
-shared = 0
diff --git a/pkg/new.py b/pkg/new.py
--- /dev/null
+++ b/pkg/new.py
@@ -0,0 +1,2 @@
+def new():
+    return 1
"""


async def test_patch_edits_creates_and_deletes(
    ws: Path, ctx: ToolContext, checkpoints: Checkpoints
) -> None:
    out = await call(ctx, patch=MULTI_FILE_PATCH)
    assert (ws / "a.py").read_text() == "alpha = 11\nshared = 0\n"
    assert not (ws / "b.py").exists()
    assert (ws / "pkg/new.py").read_text() == "def new():\n    return 1\n"
    assert [path for path, _ in checkpoints.calls] == [ws / "a.py", ws / "b.py", ws / "pkg/new.py"]
    assert checkpoints.calls[1][1] == b"beta = 2\nshared = 0\n"
    assert checkpoints.calls[2][1] is None
    assert "deleted b.py" in out.output and "created pkg/new.py (2 lines)" in out.output


async def test_patch_with_a_bad_hunk_changes_nothing(
    ws: Path, ctx: ToolContext, checkpoints: Checkpoints
) -> None:
    bad = MULTI_FILE_PATCH.replace("-beta = 2\n", "-beta = 3\n")
    with pytest.raises(PatchError) as info:
        await call(ctx, patch=bad)
    message = str(info.value)
    assert message.startswith(
        "b.py: hunk 1 (@@ -1,2 +0,0 @@) does not apply: line 1: "
        "expected 'beta = 3', found 'beta = 2'"
    )
    assert message.endswith("; nothing was changed")
    assert (ws / "a.py").read_text() == "alpha = 1\nshared = 0\n"
    assert (ws / "b.py").exists() and not (ws / "pkg").exists()
    assert checkpoints.calls == []


async def test_patch_tolerates_a_wrong_offset(ws: Path, ctx: ToolContext) -> None:
    (ws / "long.txt").write_text("".join(f"{n}\n" for n in range(100)))
    patch = "--- a/long.txt\n+++ b/long.txt\n@@ -45,3 +45,3 @@\n 50\n-51\n+fifty-one\n 52\n"
    await call(ctx, patch=patch)
    assert "\n50\nfifty-one\n52\n" in (ws / "long.txt").read_text()


async def test_patch_rename(ws: Path, ctx: ToolContext, checkpoints: Checkpoints) -> None:
    patch = "--- a/a.py\n+++ b/renamed.py\n@@ -1,2 +1,2 @@\n-alpha = 1\n+alpha = 2\n shared = 0\n"
    await call(ctx, patch=patch)
    assert not (ws / "a.py").exists()
    assert (ws / "renamed.py").read_text() == "alpha = 2\nshared = 0\n"
    assert {path for path, _ in checkpoints.calls} == {ws / "a.py", ws / "renamed.py"}


async def test_patch_path_outside_the_workspace(ws: Path, ctx: ToolContext) -> None:
    patch = "--- /dev/null\n+++ b/../escape.txt\n@@ -0,0 +1 @@\n+x\n"
    with pytest.raises(WorkspaceError, match=r"outside the workspace"):
        await call(ctx, patch=patch)
    assert not (ws.parent / "escape.txt").exists()


async def test_preview_is_the_diff_to_apply(ws: Path, ctx: ToolContext) -> None:
    tool = EditManyTool()
    args = tool.parse_args({"patch": MULTI_FILE_PATCH})
    preview = await tool.preview(args, ctx)
    assert "+alpha = 11" in preview and "+++ /dev/null" in preview
    assert tool.target(args) == "a.py, b.py, pkg/new.py"
    assert (ws / "b.py").exists()
