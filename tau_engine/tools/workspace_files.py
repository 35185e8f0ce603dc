"""Which files of the workspace a search or a mention looks at.

Inside a git repository the files are the ones git would show: tracked, plus
untracked files that no ``.gitignore`` (or ``.git/info/exclude``, or the
user's global excludes) ignores, as ``git ls-files --cached --others
--exclude-standard`` lists them. Elsewhere, or when git lists nothing under
the starting folder (it is ignored itself, and the user named it), the
folder is walked. Either way one skip list applies: ``SKIPPED_DIRS`` below
the starting folder are left out, so a search that starts inside one still
works. Symlinked folders are never followed and symlinked files that point
outside the workspace are left out, so a search cannot read what the
workspace guard would refuse.

git runs with ``core.fsmonitor`` off: a repository's own ``.git/config``
must not get a command run just because tau listed its files.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

# Folders never worth searching or mentioning: version control, tau's own state,
# dependency trees, caches and virtualenvs.
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".tau",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
    }
)
GIT_TIMEOUT_S = 20.0
_GIT_LIST = [
    "git",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.untrackedCache=false",
    "ls-files",
    "-z",
    "--cached",
    "--others",
    "--exclude-standard",
]


def _inside_workspace(root: Path, path: Path) -> bool:
    """A symlinked file counts only when it points inside the workspace."""
    if not path.is_symlink():
        return True
    target = path.resolve()
    return target == root or root in target.parents


def git_listing(folder: Path) -> list[str] | None:
    """``folder``-relative paths git shows under ``folder``; ``None`` outside a repository
    (or when git is missing or fails)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
    try:
        done = subprocess.run(
            _GIT_LIST,
            cwd=folder,
            capture_output=True,
            env=env,
            timeout=GIT_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return [os.fsdecode(raw) for raw in done.stdout.split(b"\0") if raw]


def _skipped(relative: str) -> bool:
    return any(part in SKIPPED_DIRS for part in relative.split("/")[:-1])


def walk_files(root: Path, start: Path) -> Iterator[Path]:
    """Every file under ``start`` in a stable order, skipping ``SKIPPED_DIRS`` and links out."""
    for folder, dirnames, filenames in os.walk(start):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for name in sorted(filenames):
            path = Path(folder, name)
            if not _inside_workspace(root, path):
                continue
            if path.is_file():  # not a FIFO, socket or device, which would block a read
                yield path


def workspace_files(root: Path, start: Path) -> Iterator[Path]:
    """The files under folder ``start`` a search looks at (see the module docstring)."""
    listed = git_listing(start)
    if not listed:
        yield from walk_files(root, start)
        return
    for relative in sorted(set(listed)):
        if _skipped(relative):
            continue
        path = start / relative
        # A tracked file may be deleted, a submodule is a folder, a symlink may leave.
        if _inside_workspace(root, path) and path.is_file():
            yield path


def relative_workspace_files(root: Path, limit: int) -> list[str]:
    """Workspace-relative paths of at most ``limit`` files, for ``@`` completion."""
    found: list[str] = []
    for path in workspace_files(root, root):
        found.append(path.relative_to(root).as_posix())
        if len(found) >= limit:
            break
    return found
