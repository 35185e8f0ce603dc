"""Where tau keeps things: the workspace's ``.tau/`` and the user's config dir.

The workspace is found by walking up from the current directory to the nearest
folder that has a ``.tau/`` or is a git root; ``--workspace DIR`` overrides.
The user config dir comes from platformdirs (``TAU_CONFIG_DIR`` overrides it,
which tests use to stay out of the real home).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tau_engine.errors import WorkspaceError

STATE_DIR_NAME = ".tau"
STATE_GITIGNORE = "# tau's local state: sessions, checkpoints, logs. Not for commits.\n*\n"


def user_config_dir() -> Path:
    """The user-level config folder (``config.toml``, ``themes/``, ``models.toml``)."""
    override = os.environ.get("TAU_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_path

    return user_config_path("tau", appauthor=False)


def resolve_inside(root: Path, path: str | os.PathLike[str]) -> Path:
    """``path`` (relative to ``root``, absolute, or ``~``-based) with its symlinks resolved,
    or ``WorkspaceError`` when it is not inside ``root`` (a resolved root).

    The containment check alone: the store uses it to restore checkpointed files, and
    ``safety.workspace.WorkspaceGuard`` builds its rules (protected paths) on it.
    """
    raw = os.fspath(path)
    if not raw or "\x00" in raw:
        raise WorkspaceError(f"invalid path: {raw!r}")
    candidate = Path(os.path.expanduser(raw)) if raw.startswith("~") else Path(raw)
    if not candidate.is_absolute():
        candidate = root / candidate
    resolved = candidate.resolve()
    if resolved != root and root not in resolved.parents:
        raise WorkspaceError(f"path is outside the workspace ({root}): {raw}")
    return resolved


def find_workspace(start: Path | None = None) -> Path:
    """The nearest ancestor of ``start`` with ``.tau/`` or ``.git``, else ``start`` itself."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / STATE_DIR_NAME).is_dir() or (folder / ".git").exists():
            return folder
    return here


@dataclass(frozen=True)
class WorkspacePaths:
    """Every path tau uses inside one workspace."""

    root: Path

    @classmethod
    def locate(cls, override: str | os.PathLike[str] | None = None) -> WorkspacePaths:
        if override is not None:
            root = Path(override).expanduser()
            if not root.is_dir():
                raise WorkspaceError(f"workspace is not a directory: {root}")
            return cls(root.resolve())
        return cls(find_workspace())

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR_NAME

    @property
    def db_path(self) -> Path:
        return self.state_dir / "tau.db"

    @property
    def config_path(self) -> Path:
        return self.state_dir / "config.toml"

    @property
    def checkpoints_dir(self) -> Path:
        return self.state_dir / "checkpoints"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def locks_dir(self) -> Path:
        """Per-session lock files (see ``tau_engine.store.session_lock``)."""
        return self.state_dir / "locks"

    @property
    def history_path(self) -> Path:
        return self.state_dir / "prompt_history"

    def ensure(self) -> Path:
        """Create ``.tau/`` with its own ``.gitignore``; return the state dir."""
        state = self.state_dir
        try:
            state.mkdir(parents=True, exist_ok=True)
            ignore = state / ".gitignore"
            if not ignore.exists():
                ignore.write_text(STATE_GITIGNORE, encoding="utf-8")
        except OSError as exc:
            raise WorkspaceError(f"cannot create {state}: {exc.strerror or exc}") from exc
        return state


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
