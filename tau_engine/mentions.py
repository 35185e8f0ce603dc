"""``@path`` mentions: the workspace's file list for completion, and attaching files.

Every front end gets the same behaviour through ``Engine.run`` (or
``Engine.expand_mentions`` when a front end wants to show the attachments
first). Both functions here block (they walk the tree and read files): call
them in a thread. Attaching appends each mentioned file's content to the
prompt, so the model sees it without a tool call; the prompt as typed stays
in the message's ``meta``. Paths resolve through the ``WorkspaceGuard``, so a
mention can never attach a file outside the workspace.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tau_engine.errors import WorkspaceError
from tau_engine.safety.workspace import WorkspaceGuard

MAX_FILES = 20_000
MAX_ATTACHMENT_BYTES = 100_000
SKIPPED_DIRS = {".git", ".tau", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache",
                ".ruff_cache", ".pytest_cache", "dist", "build", ".tox"}
_MENTION = re.compile(r"(?:(?<=\s)|^)@([^\s@]+)")


def list_workspace_files(root: Path) -> list[str]:
    """Workspace-relative file paths: ``git ls-files`` in a repository, else a bounded walk."""
    if (root / ".git").exists():
        try:
            done = subprocess.run(
                ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                cwd=root, capture_output=True, text=True, timeout=10, check=True)
            files = [line for line in done.stdout.splitlines() if line]
            return sorted(files)[:MAX_FILES]
        except (OSError, subprocess.SubprocessError):
            pass
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        rel = Path(folder).relative_to(root)
        for name in sorted(names):
            found.append((rel / name).as_posix() if rel.parts else name)
            if len(found) >= MAX_FILES:
                return found
    return found


def mentioned_paths(text: str) -> list[str]:
    """The ``@path`` tokens of a prompt, in order, without duplicates."""
    seen: dict[str, None] = {}
    for match in _MENTION.finditer(text):
        seen.setdefault(match.group(1).rstrip(".,;:!?)"), None)
    return list(seen)


def attach_mentions(text: str, root: Path) -> tuple[str, list[str]]:
    """The prompt with the mentioned files' contents appended, and the paths attached.

    Mentions that are not files inside the workspace are left as typed.
    """
    guard = WorkspaceGuard(root)
    blocks: list[str] = []
    attached: list[str] = []
    for rel in mentioned_paths(text):
        try:
            path = guard.resolve(rel)
        except WorkspaceError:
            continue
        if not path.is_file():
            continue
        try:
            data = path.read_bytes()[:MAX_ATTACHMENT_BYTES + 1]
        except OSError:
            continue
        if b"\x00" in data[:8192]:
            continue  # binary: the model gets the path only
        body = data[:MAX_ATTACHMENT_BYTES].decode("utf-8", errors="replace")
        cut = "\n[... cut at 100 KB]" if len(data) > MAX_ATTACHMENT_BYTES else ""
        blocks.append(f'<attached_file path="{rel}">\n{body}{cut}\n</attached_file>')
        attached.append(rel)
    if not blocks:
        return text, []
    return text + "\n\n" + "\n\n".join(blocks), attached
