"""The project's verifier: the command that checks a change, found without running anything.

Two sources, and neither ever runs a command by itself:

- ``detect_verifier``: what the repository's files point to (``pyproject.toml``
  with pytest -> ``python -m pytest -q``, ``go.mod`` -> ``go test ./...``).
  Onboarding offers it; a mission with no ``--verifier`` suggests it.
- ``recorded_verifier``: the line onboarding writes into ``.tau/AGENTS.md``
  (``Check a change with: `CMD```). A workspace file is untrusted input, so a
  recorded command is only ever *suggested* (a mission is blocked with the
  command that would use it); the user runs it by typing it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path

from tau_engine.regular_file import read_regular_bytes

RECORDED_IN = ".tau/AGENTS.md"
_VERIFIER_LINE = re.compile(r"^Check a change with: `(?P<command>[^`\n]+)`[ \t]*$", re.MULTILINE)
_MAX_READ = 200_000


def _read(path: Path, limit: int = _MAX_READ) -> str:
    try:  # a pipe planted as pyproject.toml or AGENTS.md must not hang intake
        return read_regular_bytes(path, limit).decode("utf-8", errors="replace")
    except OSError:
        return ""


def python_command(environ: Mapping[str, str] | None = None) -> str:
    """``python`` when it is on PATH, else ``python3`` (Debian and macOS ship only that)."""
    path = (os.environ if environ is None else environ).get("PATH")
    if shutil.which("python", path=path) is None and shutil.which("python3", path=path):
        return "python3"
    return "python"


def _python_tests(repo: Path) -> bool:
    return any(repo.glob("test*.py")) or any((repo / "tests").glob("test*.py"))


def detect_verifier(repo: Path, environ: Mapping[str, str] | None = None) -> str | None:
    """The test command this repository's files point to, or None. Nothing is run."""
    python = python_command(environ)
    pyproject = _read(repo / "pyproject.toml")
    if (
        "pytest" in pyproject
        or (repo / "pytest.ini").is_file()
        or "[tool:pytest]" in _read(repo / "setup.cfg")
        or "[pytest]" in _read(repo / "tox.ini")
        or (repo / "conftest.py").is_file()
    ):
        return f"{python} -m pytest -q"
    if (repo / "go.mod").is_file():
        return "go test ./..."
    package = _read(repo / "package.json")
    if package:
        try:
            test_script = json.loads(package).get("scripts", {}).get("test", "")
        except (ValueError, AttributeError):
            test_script = ""
        if isinstance(test_script, str) and test_script and "no test specified" not in test_script:
            return "npm test"
    if (repo / "Cargo.toml").is_file():
        return "cargo test"
    if re.search(r"^test:", _read(repo / "Makefile"), re.MULTILINE):
        return "make test"
    if pyproject or (repo / "setup.py").is_file() or _python_tests(repo):
        return f"{python} -m unittest"
    return None


def recorded_verifier(text: str) -> str | None:
    """The verifier command recorded in an AGENTS.md text, if any."""
    match = _VERIFIER_LINE.search(text)
    return match.group("command").strip() if match else None


def check_verifier(command: str) -> str:
    """``command`` if it can be recorded on one line; else ``ValueError``."""
    cleaned = command.strip()
    if not cleaned or "\n" in cleaned or "`" in cleaned or len(cleaned) > 300:
        raise ValueError("a verifier is one line of at most 300 characters, without backquotes")
    return cleaned


def read_recorded_verifier(root: Path) -> str | None:
    """The verifier recorded in ``root/.tau/AGENTS.md``, or None. Only a regular file is
    read (never through a link, never a FIFO), and only a valid one-line command counts."""
    path = root / RECORDED_IN
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode) or path.parent.is_symlink():
            return None
    except OSError:
        return None
    command = recorded_verifier(_read(path))
    if command is None:
        return None
    try:
        return check_verifier(command)
    except ValueError:
        return None
