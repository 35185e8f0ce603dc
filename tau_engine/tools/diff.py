"""Unified diffs of file changes, shared by every tool that edits files.

The same text goes to the approval preview, to ``ToolOutcome.diff`` for the UI
and into the tool result, so it follows the ``git diff`` conventions people
and models already read: ``a/`` and ``b/`` prefixes, ``/dev/null`` for a
created or deleted file, and ``\\ No newline at end of file`` markers.
"""

from __future__ import annotations

import difflib

NO_NEWLINE = "\\ No newline at end of file"


def split_lines(text: str) -> list[str]:
    """``text`` cut after each ``\\n`` only (``str.splitlines`` also cuts at form feeds
    and Unicode separators, which would corrupt such files); endings are kept."""
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _lines(text: str) -> list[str]:
    lines = split_lines(text)
    if lines and not lines[-1].endswith("\n"):
        # Mark the missing final newline the way diff(1) does, so that adding
        # one shows up as a change instead of vanishing.
        lines[-1] = lines[-1] + "\n" + NO_NEWLINE + "\n"
    return lines


def unified_diff(path: str, old: str | None, new: str | None, *, context: int = 3) -> str:
    """The unified diff turning ``old`` into ``new`` for the file ``path``.

    ``None`` stands for a file that does not exist (before a creation, after a
    deletion). Returns ``""`` when nothing changes.
    """
    if old == new:
        return ""
    from_name = "/dev/null" if old is None else f"a/{path}"
    to_name = "/dev/null" if new is None else f"b/{path}"
    body = difflib.unified_diff(_lines(old or ""), _lines(new or ""), from_name, to_name, n=context)
    return "".join(line if line.endswith("\n") else line + "\n" for line in body)


def diff_stats(diff: str) -> tuple[int, int]:
    """(lines added, lines removed) in the unified diff of one file."""
    added = removed = 0
    in_hunk = False
    for line in diff.split("\n"):
        if line.startswith("@@"):
            in_hunk = True
        elif line.startswith("--- ") and not in_hunk:
            continue
        elif in_hunk and line.startswith("+"):
            added += 1
        elif in_hunk and line.startswith("-"):
            removed += 1
        elif not line.startswith((" ", "\\")):
            in_hunk = False
    return added, removed
