"""What tau can tell about a project without running anything in it.

- What the repository's files point to as its verifier lives in
  ``resources/project_verifier.py`` (shared with onboarding); it is only ever suggested.
- ``unrunnable``: why a verifier command cannot start (a program that is not
  installed, a script that does not exist, ``python -m`` a module that is not
  importable), found before anything runs.
- ``is_test_file``: the rule that decides whether a diff touched the
  verifier's own tests (the tamper check).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

# Shell words that start a command but are not programs to look for.
_BUILTINS = frozenset(
    {
        "cd",
        "export",
        "set",
        "unset",
        "true",
        "false",
        "test",
        "[",
        "[[",
        "echo",
        "printf",
        "exit",
        "source",
        ".",
        "exec",
        "env",
        "command",
        "time",
        "!",
        "{",
        "}",
        "(",
        ")",
        "if",
        "then",
        "else",
        "fi",
        "for",
        "while",
        "do",
        "done",
        "case",
        "esac",
        "timeout",
        "nice",
        "xargs",
    }
)
_SEPARATORS = frozenset({"&&", "||", ";", "|", "&", "(", ")"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PYTHON = re.compile(r"^(python|python3|python3\.\d+|pypy3?)$")

_TEST_DIRS = frozenset({"test", "tests", "__tests__", "testing", "spec", "specs"})
_TEST_FILE = re.compile(
    r"^(test_.*\.py|.*_test\.py|conftest\.py|.*_test\.go|"
    r".*\.(test|spec)\.[cm]?[jt]sx?|.*Test\.java|.*_spec\.rb)$"
)


def _commands(command: str) -> list[list[str]]:
    """The simple commands of a shell line: words split at ``&&``, ``||``, ``;``, ``|``."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    out: list[list[str]] = [[]]
    for word in lexer:
        if word in _SEPARATORS or set(word) <= set(";&|()"):
            out.append([])
        else:
            out[-1].append(word)
    return [words for words in out if words]


def _program(words: list[str]) -> tuple[str, list[str]] | None:
    rest = list(words)
    while rest and (
        _ASSIGNMENT.match(rest[0]) or rest[0] in ("env", "command", "nice", "time", "exec")
    ):
        rest.pop(0)
    if not rest or rest[0] in _BUILTINS:
        return None
    return rest[0], rest[1:]


def unrunnable(command: str, repo: Path, environ: Mapping[str, str] | None = None) -> str | None:
    """Why ``command`` cannot start in ``repo`` (None: every program in it is there)."""
    env = dict(os.environ if environ is None else environ)
    try:
        commands = _commands(command)
    except ValueError as exc:
        return f"the command does not parse as a shell line ({exc})"
    if not commands:
        return "the command is empty"
    for words in commands:
        found = _program(words)
        if found is None:
            continue
        program, args = found
        if "$" in program or "`" in program:
            continue  # computed at run time: nothing to check
        if "/" in program:
            path = Path(program) if os.path.isabs(program) else repo / program
            if not path.is_file():
                return f"{program} does not exist"
            if not os.access(path, os.X_OK):
                return f"{program} is not executable"
            resolved: str | None = str(path)
        else:
            resolved = shutil.which(program, path=env.get("PATH"))
            if resolved is None:
                return f"{program} is not installed (not found on PATH)"
        if _PYTHON.match(PurePosixPath(program).name) and len(args) >= 2 and args[0] == "-m":
            module = args[1]
            if not _importable(str(resolved), module, repo, env):
                return f"{program} cannot import {module} (is it installed?)"
    return None


def _importable(python: str, module: str, repo: Path, env: Mapping[str, str]) -> bool:
    """Whether ``python -m module`` would find the module (looked up, not run)."""
    probe = (
        "import importlib.util, sys\nsys.exit(0 if importlib.util.find_spec(sys.argv[1]) else 3)"
    )
    try:
        proc = subprocess.run(
            [python, "-c", probe, module.split(".")[0]],
            cwd=repo,
            env=dict(env),
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return True  # cannot tell: let the run itself say
    return proc.returncode != 3


def missing_module(reason: str) -> str | None:
    """The module named by an ``unrunnable`` reason about ``python -m``, if it is one."""
    match = re.search(r"cannot import (\S+) ", reason)
    return match.group(1) if match else None


def named_paths(command: str | None) -> list[str]:
    """Relative paths a command names (``tests/test_x.py::test_a`` names ``tests/test_x.py``)."""
    if not command:
        return []
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    out: list[str] = []
    for word in words:
        word = word.split("::", 1)[0]
        if word.startswith("-") or "=" in word or os.path.isabs(word):
            continue
        if "/" in word or re.search(r"\.(py|go|js|ts|rb|java)$", word):
            out.append(str(PurePosixPath(word)).rstrip("/"))
    return out


def is_test_file(path: str, named: list[str] | None = None) -> bool:
    """Whether ``path`` is one of the tests a verifier runs: a test folder, a test file
    name, or a path the verifier (or guard) command names, or one under it."""
    posix = PurePosixPath(path)
    if any(part in _TEST_DIRS for part in posix.parts[:-1]) or _TEST_FILE.match(posix.name):
        return True
    return any(path == name or path.startswith(name + "/") for name in named or [])
