"""The system prompt: tau's base instructions plus the workspace's identity and guidance.

Appended when present, in this order: the identity files the onboarding
wizard writes from templates, ``.tau/SOUL.md`` (the agent's persona) and
``.tau/USER.md`` (the user's preferences); then the project's instructions,
``AGENTS.md`` at the workspace root and ``.tau/AGENTS.md`` (where onboarding
records the project's verifier). The ``.tau/`` ones are protected from the
model's file tools (``safety/protected.py``): a model must not rewrite its own
instructions for the next run.

These files are workspace content, so they are read through the
``WorkspaceGuard``: one that is a link to a file outside the workspace (a
committed ``AGENTS.md -> /proc/self/environ`` would put every environment
variable into the prompt) is skipped and reported, and only regular files
are read, at most ``_MAX_GUIDANCE_CHARS`` of them.
"""

from __future__ import annotations

import datetime as _dt
import platform
from pathlib import Path

from tau_engine.errors import WorkspaceError
from tau_engine.safety.workspace import WorkspaceGuard

_BASE = """You are tau, an AI coding agent working in the user's repository from a terminal.

You can read, search, create and edit files, and run shell commands, through the tools you are
given. Work like a careful senior engineer:
- Look before you change: read the relevant files and search the code first.
- Make the smallest change that does the job, in the project's own style.
- Prefer `edit` for targeted changes and `edit_many` for changes across several files;
  use `write` for new files.
- After changing code, run the project's tests or a quick check with `bash` when you can.
- Paths are relative to the workspace root; you cannot touch files outside it, nor
  change `.git/`, `.env` or tau's own `.tau/` settings and state with the file tools.
- If a tool call is denied, do not retry the same call: adapt, or explain what you need.
- When you are done, answer briefly: what you changed and why, and anything left to do.
"""

# Each file and the words that introduce it in the prompt, in the order they are appended.
GUIDANCE_FILES = (
    (".tau/SOUL.md", "Your persona, from .tau/SOUL.md"),
    (".tau/USER.md", "The user's preferences, from .tau/USER.md"),
    ("AGENTS.md", "Guidance from AGENTS.md"),
    (".tau/AGENTS.md", "Guidance from .tau/AGENTS.md"),
)
_HEADINGS = dict(GUIDANCE_FILES)


def guidance_heading(rel: str) -> str:
    """The words that introduce the file at ``rel`` (root-relative, POSIX) in the prompt."""
    return _HEADINGS.get(rel, f"Guidance from {rel}")


_MAX_GUIDANCE_CHARS = 40_000


def guidance_files(root: Path) -> list[Path]:
    """The workspace identity and guidance files that exist, in the order they are
    appended (as found, before the guard: ``build_system_prompt`` checks each one)."""
    return [root / name for name, _ in GUIDANCE_FILES if (root / name).is_file()]


def _read_guidance(guard: WorkspaceGuard, path: Path, budget: int) -> str:
    """Up to ``budget`` characters of a guidance file; ``WorkspaceError`` if it is not a
    regular file inside the workspace."""
    try:
        resolved = guard.resolve(path)
    except WorkspaceError:
        raise WorkspaceError(f"it links to {path.resolve()}, outside the workspace") from None
    if not resolved.is_file():
        raise WorkspaceError("it is not a regular file")
    with open(resolved, "rb") as handle:
        data = handle.read(budget * 4 + 4)  # enough bytes for ``budget`` UTF-8 characters
    return data.decode("utf-8", errors="replace").strip()[:budget]


def build_system_prompt(
    root: Path, *, today: _dt.date | None = None, skipped: list[str] | None = None
) -> str:
    """The full system prompt for a run in the workspace at ``root``.

    A guidance file that cannot be used is left out; why is appended to ``skipped``."""
    day = (today or _dt.date.today()).isoformat()
    parts = [
        _BASE,
        f"Workspace root: {root}\nPlatform: {platform.system()} {platform.machine()}\n"
        f"Today's date: {day}",
    ]
    guard = WorkspaceGuard(root)
    budget = _MAX_GUIDANCE_CHARS
    for path in guidance_files(root):
        rel = path.relative_to(root).as_posix()
        if budget <= 0:
            break
        try:
            text = _read_guidance(guard, path, budget)
        except WorkspaceError as exc:
            if skipped is not None:
                skipped.append(f"guidance file {rel} not loaded: {exc}")
            continue
        except OSError as exc:
            if skipped is not None:
                skipped.append(f"guidance file {rel} not loaded: {exc.strerror or exc}")
            continue
        if not text:
            continue
        budget -= len(text)
        parts.append(f"{guidance_heading(rel)}:\n{text}")
    return "\n\n".join(parts)
