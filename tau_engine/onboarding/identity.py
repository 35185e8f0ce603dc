"""The identity files: templates, the verifier section, and what a change would do.

``.tau/SOUL.md`` (the agent's persona), ``.tau/USER.md`` (the user's
preferences) and ``.tau/AGENTS.md`` (the project's instructions) start from the
short templates below. The system prompt composes them in that order
(``agent/prompt.py``) and the model's file tools never change them
(``safety/protected.py``).

The project's verifier, the command that checks a change (missions run it),
is recorded in ``.tau/AGENTS.md`` as one line a program can read back
(``resources/project_verifier.py``: ``recorded_verifier``)::

    ## Verifier

    Check a change with: `python -m pytest -q`
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from tau_engine.safety.protected import IDENTITY_NAMES, STATE_DIR

SOUL_TEMPLATE = """# Persona

You are tau, a careful senior engineer working in this repository.

- Be direct and brief: say what you changed, why, and what is left.
- Make small, reviewable changes in the project's own style.
- Read before you write; when something is unclear, look it up or ask.
"""

USER_TEMPLATE = """# About me

My preferences, for tau. Edit freely: this file is yours.

- Answer in short paragraphs; show the commands I can run.
- Ask before large refactors or new dependencies.
"""

AGENTS_TEMPLATE = """# Project instructions

What tau should know about this project: layout, conventions, how to build and test.
Edit freely: this file is composed into tau's system prompt.
"""

TEMPLATES = {"SOUL.md": SOUL_TEMPLATE, "USER.md": USER_TEMPLATE, "AGENTS.md": AGENTS_TEMPLATE}
DESCRIPTIONS = {
    "SOUL.md": "the agent's persona",
    "USER.md": "your preferences",
    "AGENTS.md": "the project's instructions",
}
VERIFIER_HEADING = "## Verifier"
_SECTION = re.compile(r"^## Verifier[ \t]*\n(?:(?!^#).*\n?)*", re.MULTILINE)
_MAX_READ = 200_000


def identity_path(root: Path, name: str) -> Path:
    return root / STATE_DIR / name


def verifier_section(command: str) -> str:
    return f"{VERIFIER_HEADING}\n\nCheck a change with: `{command}`\n"


def with_verifier(text: str, command: str | None) -> str:
    """``text`` (an AGENTS.md) with its verifier section set to ``command`` (replacing an
    earlier one); unchanged when ``command`` is None."""
    if not command:
        return text
    section = verifier_section(command)
    if _SECTION.search(text):
        return _SECTION.sub(lambda _: section + "\n", text, count=1).rstrip("\n") + "\n"
    body = text.rstrip("\n")
    return f"{body}\n\n{section}" if body else section


def _existing_text(path: Path) -> tuple[str | None, bool]:
    """The file's text and whether it is a regular file; for a link or a special file, a
    line saying what it is (the workspace is untrusted: tau neither reads through a link
    nor waits on a FIFO)."""
    if path.is_symlink():
        return f"(a link to {os.readlink(path)}; tau does not read through it)\n", False
    if path.is_file():
        return _read(path), True
    if path.exists():
        return "(not a regular file)\n", False
    return None, False


def _read(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(_MAX_READ)
    except OSError:
        return ""


@dataclass(frozen=True)
class IdentityFile:
    """One identity file: what is there now and what onboarding would write."""

    name: str  # SOUL.md, USER.md, AGENTS.md
    path: Path
    existing: str | None  # None: the file does not exist
    proposed: str  # the template (AGENTS.md: with the verifier section)
    regular: bool = True  # the existing path is a regular file (not a link, not a FIFO)

    @property
    def exists(self) -> bool:
        return self.existing is not None

    @property
    def differs(self) -> bool:
        """Whether writing ``proposed`` would change an existing file."""
        return self.existing is not None and self.existing != self.proposed

    def diff(self) -> str:
        """The unified diff from the existing file to the proposed one ('' if none)."""
        if self.existing is None or not self.differs:
            return ""
        rel = f"{STATE_DIR}/{self.name}"
        return "".join(
            difflib.unified_diff(
                self.existing.splitlines(keepends=True),
                self.proposed.splitlines(keepends=True),
                fromfile=f"a/{rel}",
                tofile=f"b/{rel}",
            )
        )


def identity_files(root: Path, verifier: str | None = None) -> list[IdentityFile]:
    """The three identity files of the workspace at ``root``, in prompt order. The
    proposed AGENTS.md is the existing one (else the template) with the verifier set."""
    files = []
    for name in IDENTITY_NAMES:
        path = identity_path(root, name)
        existing, regular = _existing_text(path)
        files.append(
            with_proposal(IdentityFile(name, path, existing, TEMPLATES[name], regular), verifier)
        )
    return files


def with_proposal(item: IdentityFile, verifier: str | None) -> IdentityFile:
    """``item`` proposing its template, or for AGENTS.md the existing text (else the
    template) with the verifier section set. Reads nothing."""
    if item.name != "AGENTS.md":
        return item
    base = item.existing if item.existing is not None and item.regular else TEMPLATES[item.name]
    return replace(item, proposed=with_verifier(base, verifier))
