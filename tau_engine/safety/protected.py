"""Paths inside the workspace that the model's file tools never change, in any mode.

Each rule has a name, which the refusal quotes, and says why the path is
protected and how the change can still be made. The rules:

``tau-state``
    tau's own state under ``.tau/``: the session store, checkpoints, logs and
    the prompt history. A tool that rewrote them could corrupt the session or
    the checkpoints undo depends on.
``tau-settings``
    tau's settings files in the workspace: ``.tau/*.toml`` (``config.toml``
    today) and the workspace ``.env``; and the user config dir, when the
    workspace contains it (tau run in the home folder). They can choose the
    approval mode, where API keys are sent, which secret is read and which
    workspaces are trusted; a model that wrote them would widen what the next
    run may do.
``tau-identity``
    the identity files composed into the system prompt: ``.tau/SOUL.md`` (the
    agent's persona), ``.tau/USER.md`` (the user's preferences) and
    ``.tau/AGENTS.md`` (the project's instructions for tau). A model that
    rewrote them would change its own instructions for every later run.
``git-internals``
    anything inside a ``.git`` folder (or a ``.git`` file), at any depth:
    ``.git/config`` (``core.fsmonitor``, ``core.hooksPath``) and ``.git/hooks/*``
    make git run programs on the user's next ``git status`` or commit.

A path is checked as written (relative to the root) and as resolved (after
symlinks), and against where ``.tau`` and ``.git`` really are, so a link in
either direction does not get around a rule. ``bash`` is not covered: it can
do anything the user can (see docs/safety.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

STATE_DIR = ".tau"
DOTENV = ".env"
# tau's own state files and folders directly under .tau/.
STATE_NAMES = frozenset(
    {
        "tau.db",
        "tau.db-wal",
        "tau.db-shm",
        "tau.db-journal",
        "checkpoints",
        "logs",
        "prompt_history",
        ".gitignore",
    }
)
# The identity files under .tau/, in the order the system prompt composes them.
IDENTITY_NAMES = ("SOUL.md", "USER.md", "AGENTS.md")
_IDENTITY_FOLDED = frozenset(name.casefold() for name in IDENTITY_NAMES)


@dataclass(frozen=True, slots=True)
class ProtectedRule:
    """One protection: its name, why it exists, and how a user makes the change instead."""

    name: str
    why: str
    how_to_allow: str

    def refusal(self, shown: str) -> str:
        """The tool result that refuses a write to ``shown``."""
        return (
            f"refused by rule '{self.name}': {shown} {self.why}; tau's file tools never "
            f"change it, in any approval mode. {self.how_to_allow}"
        )


TAU_STATE = ProtectedRule(
    "tau-state",
    "is tau's own session state (store, checkpoints, logs, prompt history)",
    "Nothing needs to change it by hand: use tau's commands (undo, sessions delete).",
)
TAU_SETTINGS = ProtectedRule(
    "tau-settings",
    "is one of tau's settings files (it can choose the approval mode, where "
    "API keys are sent and which secret is read)",
    "To change it, tell the user what to change and let them edit the file themselves.",
)
TAU_IDENTITY = ProtectedRule(
    "tau-identity",
    "is one of tau's identity files, composed into the system prompt "
    "(persona, the user's preferences, project instructions)",
    "To change it, tell the user what to change and let them edit the file themselves "
    "(or run tau onboard).",
)
GIT_INTERNALS = ProtectedRule(
    "git-internals",
    "is inside git's own folder, where config and hooks make git run programs",
    "To change it, tell the user the git command to run (git config ..., a hook) and let "
    "them run it themselves.",
)

RULES = (TAU_STATE, TAU_SETTINGS, TAU_IDENTITY, GIT_INTERNALS)


def rule_for_parts(parts: tuple[str, ...]) -> ProtectedRule | None:
    """The rule protecting a root-relative path given as its parts, if any."""
    if any(part.casefold() == ".git" for part in parts):
        # Case-folded: on a case-insensitive file system .GIT/config is .git/config.
        return GIT_INTERNALS
    folded = [part.casefold() for part in parts[:2]]
    if folded == [DOTENV]:
        return TAU_SETTINGS
    if len(parts) >= 2 and folded[0] == STATE_DIR:
        if folded[1] in STATE_NAMES:
            return TAU_STATE
        if len(parts) == 2 and folded[1] in _IDENTITY_FOLDED:
            return TAU_IDENTITY
        if len(parts) == 2 and parts[1].casefold().endswith(".toml"):
            return TAU_SETTINGS
    return None


def _parts(path: Path, root: Path) -> tuple[str, ...] | None:
    try:
        return path.relative_to(root).parts
    except ValueError:
        return None


def protecting_rule(
    root: Path, raw: str, resolved: Path, settings_dirs: tuple[Path, ...] = ()
) -> ProtectedRule | None:
    """The rule that refuses writing ``raw`` (which resolved to ``resolved``), if any.

    ``root`` is the resolved workspace root; ``settings_dirs`` are resolved folders that
    hold only tau's settings (the user config dir)."""
    if any(resolved == folder or folder in resolved.parents for folder in settings_dirs):
        return TAU_SETTINGS
    lexical = PurePosixPath(os.path.normpath(raw.replace(os.sep, "/")))
    if not lexical.is_absolute():
        rule = rule_for_parts(lexical.parts)
        if rule is not None:
            return rule
    parts = _parts(resolved, root)
    if parts is not None:
        rule = rule_for_parts(parts)
        if rule is not None:
            return rule
    # .tau or .git may themselves be links to another folder of the workspace.
    for name in (STATE_DIR, ".git"):
        real = (root / name).resolve()
        if real != root / name and (resolved == real or real in resolved.parents):
            inside = resolved.relative_to(real).parts
            rule = rule_for_parts((name, *inside))
            if rule is not None:
                return rule
    return None
