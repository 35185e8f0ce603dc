"""The workspace guard: every path a tool touches resolves inside the workspace.

This check applies in every approval mode, ``full-auto`` included. Symlinks are
resolved before the check, so a link inside the workspace that points out of it
is refused too. Writes are also checked against the protected paths
(``safety/protected.py``): tau's state and settings files and git's internals.
"""

from __future__ import annotations

import os
from pathlib import Path

from tau_engine.errors import WorkspaceError
from tau_engine.paths import resolve_inside, user_config_dir
from tau_engine.safety.protected import protecting_rule


class WorkspaceGuard:
    """Resolves user- or model-given paths against one workspace root."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        # The user config dir is inside the workspace when tau runs in the home folder.
        self.settings_dirs = (user_config_dir().resolve(),)

    def resolve(self, path: str | os.PathLike[str], *, write: bool = False) -> Path:
        """Return the absolute path for ``path`` or raise ``WorkspaceError``.

        With ``write=True`` it also refuses the protected paths, naming the rule."""
        resolved = resolve_inside(self.root, path)
        if write:
            raw = os.fspath(path)
            rule = protecting_rule(self.root, raw, resolved, self.settings_dirs)
            if rule is not None:
                raise WorkspaceError(rule.refusal(raw))
        return resolved

    def relative(self, path: Path) -> str:
        """The path as shown to users and models: relative to the root, '/'-separated."""
        try:
            return path.resolve().relative_to(self.root).as_posix() or "."
        except ValueError:
            return str(path)
