"""Unified diffs as coloured ``Content``, with the theme's ``$diff-*`` variables."""

from __future__ import annotations

from textual.content import Content

ADDED_STYLE = "$diff-added on $diff-added-background"
REMOVED_STYLE = "$diff-removed on $diff-removed-background"
HUNK_STYLE = "$diff-hunk"
HEADER_STYLE = "bold"


def diff_line_style(line: str) -> str:
    """The style of one line of a unified diff."""
    if line.startswith(("+++", "---")):
        return HEADER_STYLE
    if line.startswith("+"):
        return ADDED_STYLE
    if line.startswith("-"):
        return REMOVED_STYLE
    if line.startswith("@@"):
        return HUNK_STYLE
    return ""


def render_diff(diff: str, max_lines: int | None = None) -> Content:
    """A unified diff, one styled line per diff line; cut after ``max_lines`` with a note."""
    lines = diff.rstrip("\n").split("\n")
    hidden = 0
    if max_lines is not None and len(lines) > max_lines:
        hidden = len(lines) - max_lines
        lines = lines[:max_lines]
    parts = [Content.styled(line, diff_line_style(line)) for line in lines]
    if hidden:
        parts.append(Content.styled(f"… {hidden} more diff lines", "$text-muted"))
    return Content("\n").join(parts)


def diff_stats(diff: str) -> tuple[int, int]:
    """Lines added and removed by a unified diff."""
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed
