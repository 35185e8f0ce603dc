"""grep and glob cannot hang tau, honour .gitignore, and never run the repository's git
hooks: linear-time patterns, a time limit, cancellation, git's view of the files."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tau_engine.errors import ToolError
from tau_engine.mentions import list_workspace_files
from tau_engine.safety.workspace import WorkspaceGuard
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome
from tau_engine.tools.linear_regex import compile_line_pattern, matching_lines
from tau_engine.tools.search import GlobTool, GrepTool, SearchBudget, _in_worker
from tests.cli.tau_process import run_tau


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def call(tool: Tool, root: Path, **arguments: Any) -> ToolOutcome:
    ctx = ToolContext(workspace=root, guard=WorkspaceGuard(root))
    return await tool.run(tool.parse_args(arguments), ctx)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = (tmp_path / "repo").resolve()
    root.mkdir()
    git(root, "init", "-q")
    write(root / ".gitignore", "build/\n*.log\n")
    write(root / "src/app.py", "needle = 1\n")
    write(root / "notes.txt", "needle in an untracked file\n")
    write(root / "build/out.py", "needle in build output\n")
    write(root / "debug.log", "needle in a log\n")
    write(root / "vendor/node_modules/dep.js", "needle in a dependency\n")
    git(root, "add", ".gitignore", "src/app.py")
    git(root, "add", "-f", "vendor/node_modules/dep.js")  # tracked, but on the skip list
    return root


async def test_grep_and_glob_honour_gitignore_and_the_skip_list(repo: Path) -> None:
    found = await call(GrepTool(), repo, pattern="needle")
    assert sorted(line.split(":")[0] for line in found.output.splitlines()) == [
        "notes.txt",
        "src/app.py",
    ]
    listed = await call(GlobTool(), repo, pattern="**/*")
    assert sorted(listed.output.splitlines()) == [".gitignore", "notes.txt", "src/app.py"]


async def test_an_ignored_folder_named_explicitly_is_still_searched(repo: Path) -> None:
    found = await call(GrepTool(), repo, pattern="needle", path="build")
    assert found.output == "build/out.py:1:needle in build output"
    listed = await call(GlobTool(), repo, pattern="build/*.py")
    assert listed.output == "build/out.py"


def test_mentions_list_the_same_files(repo: Path) -> None:
    assert list_workspace_files(repo) == [".gitignore", "notes.txt", "src/app.py"]


async def test_listing_files_never_runs_the_repositorys_fsmonitor(repo: Path) -> None:
    # core.fsmonitor in .git/config is a command git runs when it looks at the work tree.
    marker = repo.parent / "fsmonitor-ran"
    git(repo, "config", "core.fsmonitor", f"touch {marker}; false")
    await call(GrepTool(), repo, pattern="needle")
    await call(GlobTool(), repo, pattern="**/*.py")
    list_workspace_files(repo)
    assert not marker.exists()


async def test_catastrophic_patterns_run_in_linear_time(tmp_path: Path) -> None:
    # Python's re needs about 2**60 steps for each of these lines.
    write(tmp_path / "evil.txt", ("a" * 60 + "!\n") * 50 + "aaaa\n")
    found = await call(GrepTool(), tmp_path, pattern="(a+)+$")
    assert found.output == "evil.txt:51:aaaa"
    write(tmp_path / ("a" * 200), "")
    listed = await call(GlobTool(), tmp_path, pattern="*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b")
    assert listed.output.startswith("no files match")


@pytest.mark.parametrize(
    "pattern,error",
    [
        ("(?=lookahead)", "invalid perl operator"),
        (r"(a)\1", "invalid escape sequence"),
        ("a{1001}", "invalid repetition size"),
    ],
)
def test_what_re2_cannot_run_is_an_argument_error(pattern: str, error: str) -> None:
    with pytest.raises(ToolError) as info:
        GrepTool().parse_args({"pattern": pattern})
    assert error in str(info.value) and "RE2 syntax" in str(info.value)


def test_line_semantics_match_one_line_at_a_time() -> None:
    data = b"alpha beta\r\ngamma\n\nbeta end\nlast"

    def lines(pattern: str) -> list[tuple[int, bytes]]:
        return list(matching_lines(compile_line_pattern(pattern), data))

    assert lines("beta") == [(1, b"alpha beta\r"), (4, b"beta end")]
    assert lines(r"^beta") == [(4, b"beta end")]
    assert lines(r"a\s+g") == []  # no match spans a line break
    assert lines(r"end\Z") == [(4, b"beta end")]
    assert lines(r"\Alast$") == [(5, b"last")]
    assert lines("^$") == [(3, b"")]
    assert lines("(?i)GAMMA") == [(2, b"gamma")]


async def test_a_search_past_its_time_limit_says_so(tmp_path: Path) -> None:
    for i in range(5):
        write(tmp_path / f"f{i}.txt", "needle\n")
    found = await call(GrepTool(time_limit_s=0), tmp_path, pattern="needle")
    assert not found.ok and found.data["timed_out"] is True
    assert found.output.endswith(
        "[stopped after 0s, the search time limit: 0 files "
        "searched, 0 matches so far; narrow the path, pattern or glob]"
    )
    listed = await call(GlobTool(time_limit_s=0), tmp_path, pattern="**/*.txt")
    assert not listed.ok and "stopped after 0s" in listed.output


async def test_cancelling_a_search_stops_its_worker_thread() -> None:
    budget = SearchBudget(3600)
    started, finished = threading.Event(), threading.Event()

    def search() -> None:
        started.set()
        while not budget.spent():
            threading.Event().wait(0.001)
        finished.set()

    task = asyncio.create_task(_in_worker(budget, search))
    while not started.is_set():
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(finished.wait, 30)


def test_tau_answers_a_catastrophic_grep_end_to_end(workspace: Path) -> None:
    """Through the real CLI: the run ends with the matches instead of hanging."""
    write(workspace / "evil.txt", ("a" * 60 + "!\n") * 20 + "aaaa\n")
    script = workspace / "script.json"
    script.write_text(
        json.dumps(
            {
                "version": 1,
                "turns": [
                    {"tool_calls": [{"name": "grep", "arguments": {"pattern": "(a+)+$"}}]},
                    {"text": "searched"},
                ],
            }
        )
    )
    # The timeout only turns a hang into a failure; the run takes a second.
    proc = run_tau(
        [
            "-p",
            "find it",
            "--model",
            "offline/replay",
            "--script",
            str(script),
            "--output-format",
            "stream-json",
        ],
        workspace,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines() if '"tool_result"' in line]
    assert results[0]["output"] == "evil.txt:21:aaaa"
