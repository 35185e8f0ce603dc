"""The system prompt: tau's base instructions plus the workspace's own guidance.

``AGENTS.md`` at the workspace root and ``.tau/AGENTS.md`` are appended when
present (both, root first), as are identity files the onboarding wizard wrote
(``.tau/identity/*.md``), so a project can teach the model its conventions.
"""

from __future__ import annotations

import datetime as _dt
import platform
from pathlib import Path

_BASE = """You are tau, an AI coding agent working in the user's repository from a terminal.

You can read, search, create and edit files, and run shell commands, through the tools you are
given. Work like a careful senior engineer:
- Look before you change: read the relevant files and search the code first.
- Make the smallest change that does the job, in the project's own style.
- Prefer `edit` for targeted changes and `edit_many` for changes across several files;
  use `write` for new files.
- After changing code, run the project's tests or a quick check with `bash` when you can.
- Paths are relative to the workspace root; you cannot touch files outside it.
- If a tool call is denied, do not retry the same call: adapt, or explain what you need.
- When you are done, answer briefly: what you changed and why, and anything left to do.
"""

GUIDANCE_FILES = ("AGENTS.md", ".tau/AGENTS.md")
_MAX_GUIDANCE_CHARS = 40_000


def guidance_files(root: Path) -> list[Path]:
    """The workspace guidance files that exist, in the order they are appended."""
    found = [root / name for name in GUIDANCE_FILES if (root / name).is_file()]
    identity = root / ".tau" / "identity"
    if identity.is_dir():
        found.extend(sorted(p for p in identity.glob("*.md") if p.is_file()))
    return found


def build_system_prompt(root: Path, *, today: _dt.date | None = None) -> str:
    """The full system prompt for a run in the workspace at ``root``."""
    day = (today or _dt.date.today()).isoformat()
    parts = [
        _BASE,
        f"Workspace root: {root}\nPlatform: {platform.system()} {platform.machine()}\n"
        f"Today's date: {day}",
    ]
    budget = _MAX_GUIDANCE_CHARS
    for path in guidance_files(root):
        try:
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        if not text or budget <= 0:
            continue
        text = text[:budget]
        budget -= len(text)
        rel = path.relative_to(root).as_posix()
        parts.append(f"Guidance from {rel}:\n{text}")
    return "\n\n".join(parts)
