"""The ``glob`` and ``grep`` tools: find files by name and lines by regex.

Both walk the workspace in a worker thread (a large tree must not stall the
event loop), skip ``.git/``, ``.tau/`` and dependency or cache folders, and
cap what they return.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from tau_engine.errors import ToolError
from tau_engine.tools.args import ToolArgs, parse_model
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome
from tau_engine.tools.fileio import looks_binary
from tau_engine.tools.walk import glob_regex, has_glob_chars, walk_files

MAX_GLOB_RESULTS = 200
MAX_GREP_MATCHES = 500
MAX_MATCH_LINE_CHARS = 300
# Larger files are skipped by grep: they are data or build output, not source.
MAX_GREP_FILE_BYTES = 10 * 1024 * 1024


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
    rest = "/".join(segments[len(literal):])
    base = "/".join(literal)
    if pattern.startswith("/") and not base:
        base = "/"
    return base or ".", rest


def find_files(root: Path, base: Path, rest: str) -> tuple[list[str], int]:
    """Files under ``base`` matching glob ``rest``, newest first, capped; and the total."""
    if not rest:
        if base.is_file():
            return [base.relative_to(root).as_posix()], 1
        rest = "**"  # a folder named literally: everything in it
    regex = glob_regex(rest)
    found: list[tuple[float, str]] = []
    for path in walk_files(root, base):
        if regex.match(path.relative_to(base).as_posix()):
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
        f"Skips .git, .tau, node_modules, __pycache__ and virtualenvs; at most "
        f"{MAX_GLOB_RESULTS} paths."
    )
    parameters = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string",
                        "description": "Glob pattern relative to the workspace root, e.g. "
                                       "'**/*.ts'. A folder name alone lists all its files."},
        },
        "required": ["pattern"],
        "additionalProperties": False,
    }

    def parse_args(self, arguments: dict[str, Any]) -> GlobArgs:
        args = parse_model(self.name, GlobArgs, arguments, self.parameters)
        if not args.pattern.strip():
            raise ToolError("glob: 'pattern' is empty; give a pattern such as '**/*.py'")
        return args

    def target(self, args: GlobArgs) -> str:
        return args.pattern

    async def run(self, args: GlobArgs, ctx: ToolContext) -> ToolOutcome:
        base_arg, rest = _split_pattern(args.pattern.strip())
        base = ctx.guard.resolve(base_arg)
        if not base.exists():
            raise ToolError(f"{base_arg} does not exist")
        shown, total = await asyncio.to_thread(find_files, ctx.guard.root, base, rest)
        if not shown:
            hint = ""
            if "**" not in args.pattern and "/" not in args.pattern:
                hint = f"; '*' does not enter folders, try '**/{args.pattern}'"
            return ToolOutcome(output=f"no files match {args.pattern!r}{hint}",
                               data={"count": 0})
        lines = list(shown)
        if total > len(shown):
            lines.append(f"… {total - len(shown)} more")
        return ToolOutcome(output="\n".join(lines), data={"count": total})


def _file_filter(pattern: str | None) -> re.Pattern[str] | None:
    return glob_regex(pattern) if pattern else None


def _search_file(path: Path, regex: re.Pattern[str]) -> list[tuple[int, str]] | None:
    """(line number, line) of each match; ``None`` for a binary, huge or unreadable file."""
    try:
        if path.stat().st_size > MAX_GREP_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if looks_binary(data):
        return None
    hits = []
    for number, line in enumerate(data.decode("utf-8", errors="replace").split("\n"), 1):
        if regex.search(line):
            hits.append((number, line.removesuffix("\r")))
    return hits


def grep_tree(root: Path, start: Path, regex: re.Pattern[str], file_glob: str | None,
              max_chars: int) -> tuple[list[str], int]:
    """``path:line:text`` for each match under ``start`` (capped), and the total match count."""
    by_name = file_glob is not None and "/" not in file_glob
    filter_regex = _file_filter(file_glob)
    files = [start] if start.is_file() else walk_files(root, start)
    out: list[str] = []
    size = 0
    total = 0
    for path in files:
        if filter_regex is not None and path != start:
            subject = path.name if by_name else path.relative_to(start).as_posix()
            if not filter_regex.match(subject):
                continue
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
    return out, total


class GrepTool(Tool):
    """Search file contents with a regular expression."""

    name = "grep"
    kind = "read"
    description = (
        "Search text files for a Python regular expression (re syntax; '(?i)' for case-"
        "insensitive). Returns 'path:line:text' for each matching line. Skips binary files, "
        f".git, .tau, node_modules, __pycache__ and virtualenvs; at most {MAX_GREP_MATCHES} "
        "matches are shown."
    )
    parameters = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string",
                        "description": "Regular expression (Python re) searched in each line."},
            "path": {"type": "string",
                     "description": "File or folder to search, relative to the workspace "
                                    "root. Default: the whole workspace."},
            "glob": {"type": "string",
                     "description": "Only search files matching this glob: without '/' it "
                                    "matches file names ('*.py'), with '/' paths relative to "
                                    "path ('src/**/*.ts')."},
        },
        "required": ["pattern"],
        "additionalProperties": False,
    }

    def parse_args(self, arguments: dict[str, Any]) -> GrepArgs:
        args = parse_model(self.name, GrepArgs, arguments, self.parameters)
        if not args.pattern:
            raise ToolError("grep: 'pattern' is empty; give a regular expression")
        try:
            re.compile(args.pattern)
        except re.error as exc:
            raise ToolError(f"grep: invalid regular expression {args.pattern!r}: {exc}; "
                            "escape special characters such as ( [ . with a backslash") from exc
        return args

    def target(self, args: GrepArgs) -> str:
        return args.pattern if args.path == "." else f"{args.pattern} in {args.path}"

    async def run(self, args: GrepArgs, ctx: ToolContext) -> ToolOutcome:
        start = ctx.guard.resolve(args.path)
        if not start.exists():
            raise ToolError(f"{args.path} does not exist")
        if start.is_file():
            with start.open("rb") as handle:
                if looks_binary(handle.read(8192)):
                    raise ToolError(f"{args.path} is a binary file; grep only searches text")
        regex = re.compile(args.pattern)
        out, total = await asyncio.to_thread(grep_tree, ctx.guard.root, start, regex,
                                             args.glob, ctx.max_output_chars)
        if total == 0:
            where = "" if args.path == "." else f" in {args.path}"
            return ToolOutcome(output=f"no matches for {args.pattern!r}{where}",
                               data={"count": 0})
        if total > len(out):
            out.append(f"… {total - len(out)} more matches (narrow the pattern, path or glob)")
        return ToolOutcome(output="\n".join(out), data={"count": total})
