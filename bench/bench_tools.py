"""Tool benchmarks: what the per-call subreaper and the RE2 search cost.

Run from the repository root:  python bench/bench_tools.py [--quick]

Every figure is a median, with a baseline measured the same way in the same run:

- bash: one ``bash`` tool call running ``true``, under the per-call subreaper
  (the default on Linux) against the same call run directly in a process group.
- grep: ``grep_tree`` over a synthetic tree (files x lines of source-like text),
  RE2 over each file's bytes, against Python's ``re`` searching each line of the
  same files (what grep did before).
- glob: ``**/*.py`` over the same tree, RE2 against ``re``.
- re2 import: ``python -c "import re2"`` against ``python -c pass``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tau_engine.safety.workspace import WorkspaceGuard  # noqa: E402
from tau_engine.tools import search  # noqa: E402
from tau_engine.tools.base import ToolContext  # noqa: E402
from tau_engine.tools.bash import BashTool  # noqa: E402
from tau_engine.tools.command_process import CommandProcess  # noqa: E402
from tau_engine.tools.linear_regex import compile_line_pattern  # noqa: E402
from tau_engine.tools.search import find_files, grep_tree  # noqa: E402
from tau_engine.tools.walk import glob_regex  # noqa: E402
from tau_engine.tools.workspace_files import workspace_files  # noqa: E402


def median_ms(function: Callable[[], Any], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def row(name: str, tau_ms: float, base_name: str, base_ms: float) -> None:
    print(
        f"{name:<34} {tau_ms:9.2f} ms   {base_name:<28} {base_ms:9.2f} ms   "
        f"{tau_ms / base_ms:5.2f}x"
    )


def bench_bash(runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ctx = ToolContext(workspace=root, guard=WorkspaceGuard(root))
        tool = BashTool()
        args = tool.parse_args({"command": "true"})

        async def supervised() -> None:
            await tool.run(args, ctx)

        async def direct() -> None:
            proc = await CommandProcess.start(
                ["bash", "-c", "true"], cwd=root, env=None, grace_s=2, drain_s=1, supervised=False
            )
            await proc.wait()
            await proc.finish()

        with asyncio.Runner() as runner:
            runner.run(supervised())  # warm up
            tau = median_ms(lambda: runner.run(supervised()), runs)
            base = median_ms(lambda: runner.run(direct()), runs)
        row("bash 'true', subreaper", tau, "same, process group only", base)


def make_tree(root: Path, files: int, lines: int) -> None:
    body = "".join(
        f"def function_{i}(value):\n    return value * {i}  # comment {i}\n"
        for i in range(lines // 2)
    )
    for i in range(files):
        path = root / f"pkg{i % 20}" / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body + ("needle_here = 1\n" if i % 10 == 0 else ""))


def re_grep(root: Path, pattern: re.Pattern[str]) -> int:
    """What grep did before: Python's re on each decoded line of the same files."""
    total = 0
    for path in workspace_files(root, root):
        for line in path.read_bytes().decode("utf-8", "replace").split("\n"):
            if pattern.search(line):
                total += 1
    return total


def re_glob_regex(pattern: str) -> re.Pattern[bytes]:
    """The same glob translation, compiled by Python's re (what glob did before)."""
    with_re2 = glob_regex(pattern)
    return re.compile(with_re2.pattern.encode())


def bench_search(runs: int, files: int, lines: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder).resolve()
        make_tree(root, files, lines)
        for needle in ("needle_here", r"return value \* 7\b"):
            linear = compile_line_pattern(needle)
            backtracking = re.compile(needle)
            assert grep_tree(root, root, linear, None, 10**9)[1] == re_grep(root, backtracking)
            tau = median_ms(lambda: grep_tree(root, root, linear, None, 30_000), runs)  # noqa: B023
            base = median_ms(lambda: re_grep(root, backtracking), runs)  # noqa: B023
            row(f"grep {needle!r}", tau, f"re per line ({files} files)", base)
        tau = median_ms(lambda: find_files(root, root, "**/*.py"), runs)
        original = search.glob_regex
        search.glob_regex = re_glob_regex  # type: ignore[assignment]
        try:
            base = median_ms(lambda: find_files(root, root, "**/*.py"), runs)
        finally:
            search.glob_regex = original
        row("glob '**/*.py'", tau, "same with re", base)


def bench_import(runs: int) -> None:
    def child(code: str) -> None:
        subprocess.run([sys.executable, "-c", code], check=True)

    tau = median_ms(lambda: child("import re2"), runs)
    base = median_ms(lambda: child("pass"), runs)
    row("python -c 'import re2'", tau, "python -c pass", base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs, a smaller tree")
    quick = parser.parse_args().quick
    runs = 5 if quick else 21
    bench_bash(runs)
    bench_search(3 if quick else 7, 300 if quick else 2000, 200)
    bench_import(runs)


if __name__ == "__main__":
    main()
