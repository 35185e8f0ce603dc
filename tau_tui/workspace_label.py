"""How a front end names the workspace: ``~/`` for a folder under the home folder."""

from __future__ import annotations

from pathlib import Path


def workspace_label(root: Path) -> str:
    """``root`` as the app and the setup wizard show it."""
    home = Path.home()
    try:
        return "~/" + root.relative_to(home).as_posix()
    except ValueError:
        return str(root)
