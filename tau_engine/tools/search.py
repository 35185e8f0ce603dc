"""The ``glob`` and ``grep`` tools: find files by name and lines by regex.

Both look at the files ``workspace_files`` lists (git's view inside a
repository, so ``.gitignore`` is honoured; one skip list of dependency and
cache folders), in a worker thread so a large tree never stalls the event
loop, and cap what they return. Patterns run on RE2 (``linear_regex``), in
time linear in the text. A search also has a time limit: past it, or when
the call is cancelled, the worker stops at the next file and the call says
what it found so far.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tau_engine.errors import ToolError
from tau_engine.safety.permissions import ToolCall as PolicyCall
from tau_engine.tools.args import ToolArgs, parse_model
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome
from tau_engine.tools.fileio import looks_binary
from tau_engine.tools.linear_regex import LinearRegex, compile_line_pattern, matching_lines
from tau_engine.tools.walk import glob_regex, has_glob_chars
from tau_engine.tools.workspace_files import workspace_files

MAX_GLOB_RESULTS = 200
MAX_GREP_MATCHES = 500
MAX_MATCH_LINE_CHARS = 300
# Larger files are skipped by grep: they are data or build output, not source.
MAX_GREP_FILE_BYTES = 10 * 1024 * 1024
SEARCH_TIME_LIMIT_S = 30.0


class SearchBudget:
    """When a search must stop: its time limit, or the call was cancelled."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.deadline = time.monotonic() + limit_s
        self.cancelled = threading.Event()
        self.timed_out = False

    def spent(self) -> bool:
        if self.cancelled.is_set():
            return True
        if time.monotonic() >= self.deadline:
            self.timed_out = True
        return self.timed_out

    def note(self, what: str) -> str:
        return (
            f"[stopped after {self.limit_s:g}s, the search time limit: {what}; narrow the "
            "path, pattern or glob]"
        )


class GlobArgs(ToolArgs):
    pattern: str


class GrepArgs(ToolArgs):
    pattern: str
    path: str = "."
    glob: str | None = None


def _split_pattern(pattern: str) -> tuple[str, str]:
    """(literal leading folders, the rest): ``src/**/*.py`` -> (``src``, ``**/*.py``)."""
    segments = pattern.split("/")
    literal: list[str] = []
    for segment in segments:
        if has_glob_chars(segment):
            break
        literal.append(segment)
    rest = "/".join(segments[len(literal) :])
    base = "/".join(literal)
    if pattern.startswith("/") and not base:
        base = "/"
    return base or ".", rest


def _files_under(root: Path, base: Path) -> Iterable[Path]:
    return [base] if base.is_file() else workspace_files(root, base)


def find_files(
    root: Path, base: Path, rest: str, budget: SearchBudget | None = None
) -> tuple[list[str], int]:
    """Files under ``base`` matching glob ``rest``, newest first, capped; and the total."""
    if not rest:
        if base.is_file():
            return [base.relative_to(root).as_posix()], 1
        rest = "**"  # a folder named literally: everything in it
    regex = glob_regex(rest)
    found: list[tuple[float, str]] = []
    for path in _files_under(root, base):
        if budget is not None and budget.spent():
            break
        # Bytes: RE2 matches them ~3x faster than str, and undecodable names work too.
        if regex.match(os.fsencode(path.relative_to(base).as_posix())):
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            found.append((mtime, path.relative_to(root).as_posix()))
    found.sort(key=lambda item: (-item[0], item[1]))
    return [shown for _, shown in found[:MAX_GLOB_RESULTS]], len(found)


class GlobTool(Tool):
    """Find files by glob pattern, newest first."""

    name = "glob"
    kind = "read"
    description = (
        "Find files whose workspace-relative path matches a glob pattern. '*' and '?' match "
        "within one folder, '**' any number of folders, '{a,b}' alternatives: '**/*.py', "
        "'src/**/test_*.py', 'docs/*.{md,rst}'. Returns paths, most recently modified first. "
        "Honours .gitignore in a git repository and skips .git, .tau, node_modules, "
        f"__pycache__ and virtualenvs; at most {MAX_GLOB_RESULTS} paths."
    )
    parameters = {
        "type": "object",
        "properties": {
            "pattern": {
                "type": "string",
                "description": "Glob pattern relative to the workspace root, e.g. "
                "'**/*.ts'. A folder name alone lists all its files.",
            },
        },
        "required": ["pattern"],
        "additionalProperties": False,
    }

    def __init__(self, *, time_limit_s: float = SEARCH_TIME_LIMIT_S) -> None:
        self.time_limit_s = time_limit_s

    def parse_args(self, arguments: dict[str, Any]) -> GlobArgs:
        args = parse_model(self.name, GlobArgs, arguments, self.parameters)
        if not args.pattern.strip():
            raise ToolError("glob: 'pattern' is empty; give a pattern such as '**/*.py'")
        glob_regex(_split_pattern(args.pattern.strip())[1] or "**")  # refuse it now if invalid
        return args

    def target(self, args: GlobArgs) -> str:
        return args.pattern

    def policy_call(self, args: GlobArgs) -> PolicyCall:
        return PolicyCall(self.name, self.kind, subjects=(args.pattern,))

    async def run(self, args: GlobArgs, ctx: ToolContext) -> ToolOutcome:
        base_arg, rest = _split_pattern(args.pattern.strip())
        base = ctx.guard.resolve(base_arg)
        if not base.exists():
            raise ToolError(f"{base_arg} does not exist")
        budget = SearchBudget(self.time_limit_s)
        shown, total = await _in_worker(budget, find_files, ctx.guard.root, base, rest, budget)
        if budget.timed_out:
            listed = "\n".join(shown) + "\n" if shown else ""
            return ToolOutcome(
                output=listed + budget.note(f"{total} files matched so far"),
                ok=False,
                data={"count": total, "timed_out": True},
            )
        if not shown:
            hint = ""
            if "**" not in args.pattern and "/" not in args.pattern:
                hint = f"; '*' does not enter folders, try '**/{args.pattern}'"
            return ToolOutcome(output=f"no files match {args.pattern!r}{hint}", data={"count": 0})
        lines = list(shown)
        if total > len(shown):
            lines.append(f"… {total - len(shown)} more")
        return ToolOutcome(output="\n".join(lines), data={"count": total})


async def _in_worker(budget: SearchBudget, function: Any, *args: Any) -> Any:
    """Run a search in a thread; a cancelled call tells the thread to stop at once."""
    try:
        return await asyncio.to_thread(function, *args)
    finally:
        budget.cancelled.set()


def _search_file(path: Path, regex: LinearRegex) -> list[tuple[int, str]] | None:
    """(line number, line) of each match; ``None`` for a binary, huge or unreadable file."""
    try:
        if path.stat().st_size > MAX_GREP_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if looks_binary(data):
        return None
    return [
        (number, line.decode("utf-8", errors="replace").removesuffix("\r"))
        for number, line in matching_lines(regex, data)
    ]


def grep_tree(
    root: Path,
    start: Path,
    regex: LinearRegex,
    file_glob: str | None,
    max_chars: int,
    budget: SearchBudget | None = None,
) -> tuple[list[str], int, int]:
    """``path:line:text`` for each match under ``start`` (capped), the total match count,
    and how many files were searched."""
    by_name = file_glob is not None and "/" not in file_glob
    filter_regex = glob_regex(file_glob) if file_glob else None
    out: list[str] = []
    size = 0
    total = 0
    searched = 0
    for path in _files_under(root, start):
        if budget is not None and budget.spent():
            break
        if filter_regex is not None and path != start:
            subject = path.name if by_name else path.relative_to(start).as_posix()
            if not filter_regex.match(os.fsencode(subject)):
                continue
        searched += 1
        hits = _search_file(path, regex)
        if not hits:
            continue
        shown = path.relative_to(root).as_posix()
        for number, line in hits:
            total += 1
            if len(line) > MAX_MATCH_LINE_CHARS:
                line = line[:MAX_MATCH_LINE_CHARS] + " …"
            entry = f"{shown}:{number}:{line}"
            if len(out) < MAX_GREP_MATCHES and size + len(entry) + 1 <= max_chars:
                out.append(entry)
                size += len(entry) + 1
    return out, total, searched


class GrepTool(Tool):
    """Search file contents with a regular expression."""

    name = "grep"
    kind = "read"
    description = (
        "Search text files for a regular expression (RE2 syntax: Python's re without "
        "lookaround or backreferences; '(?i)' for case-insensitive), line by line. Returns "
        "'path:line:text' for each matching line. Honours .gitignore in a git repository; "
        "skips binary files, .git, .tau, node_modules, __pycache__ and virtualenvs; at most "
        f"{MAX_GREP_MATCHES} matches are shown."
    )
    parameters = {
        "type": "object",
        "properties": {
            "pattern": {
                "type": "string",
                "description": "Regular expression (RE2) searched in each line.",
            },
            "path": {
                "type": "string",
                "description": "File or folder to search, relative to the workspace "
                "root. Default: the whole workspace.",
            },
            "glob": {
                "type": "string",
                "description": "Only search files matching this glob: without '/' it "
                "matches file names ('*.py'), with '/' paths relative to "
                "path ('src/**/*.ts').",
            },
        },
        "required": ["pattern"],
        "additionalProperties": False,
    }

    def __init__(self, *, time_limit_s: float = SEARCH_TIME_LIMIT_S) -> None:
        self.time_limit_s = time_limit_s

    def parse_args(self, arguments: dict[str, Any]) -> GrepArgs:
        args = parse_model(self.name, GrepArgs, arguments, self.parameters)
        if not args.pattern:
            raise ToolError("grep: 'pattern' is empty; give a regular expression")
        compile_line_pattern(args.pattern)
        if args.glob:
            glob_regex(args.glob)
        return args

    def target(self, args: GrepArgs) -> str:
        return args.pattern if args.path == "." else f"{args.pattern} in {args.path}"

    def paths(self, args: GrepArgs) -> list[str]:
        return [args.path]

    async def run(self, args: GrepArgs, ctx: ToolContext) -> ToolOutcome:
        start = ctx.guard.resolve(args.path)
        if not start.exists():
            raise ToolError(f"{args.path} does not exist")
        if start.is_file():
            with start.open("rb") as handle:
                if looks_binary(handle.read(8192)):
                    raise ToolError(f"{args.path} is a binary file; grep only searches text")
        regex = compile_line_pattern(args.pattern)
        budget = SearchBudget(self.time_limit_s)
        out, total, searched = await _in_worker(
            budget, grep_tree, ctx.guard.root, start, regex, args.glob, ctx.max_output_chars, budget
        )
        if budget.timed_out:
            out.append(budget.note(f"{searched} files searched, {total} matches so far"))
            return ToolOutcome(
                output="\n".join(out), ok=False, data={"count": total, "timed_out": True}
            )
        if total == 0:
            where = "" if args.path == "." else f" in {args.path}"
            return ToolOutcome(output=f"no matches for {args.pattern!r}{where}", data={"count": 0})
        if total > len(out):
            out.append(f"… {total - len(out)} more matches (narrow the pattern, path or glob)")
        return ToolOutcome(output="\n".join(out), data={"count": total})
