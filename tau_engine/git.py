"""Run ``git`` as a subprocess, the one way tau talks to git.

Every call runs ``git -C DIR ...`` with a cleaned environment: the ``GIT_*``
variables that point git at another repository, index or work tree (set when
tau itself runs from a git hook) are dropped, prompts are off, and messages are
in English so that failures read the same everywhere, and ``core.fsmonitor`` is
off (a repository's config could otherwise run a program on any ``git status``).
Hooks are disabled for
the calls tau makes on its own worktrees (``hooks=False``): a hook is a
program, and tau runs only the programs the user named (the verifier, the
guard, the setup command).

These functions block; async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from tau_engine.errors import TauError

# Variables that would redirect git away from the directory given with -C.
_REDIRECTING_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)


class GitError(TauError):
    """A git command failed; the message carries git's own first line of complaint."""

    def __init__(self, message: str, *, returncode: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


def git_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every git call gets."""
    env = {k: v for k, v in os.environ.items() if k not in _REDIRECTING_VARS}
    env.update(
        {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "LANGUAGE": "C", "GIT_OPTIONAL_LOCKS": "0"}
    )
    if extra:
        env.update(extra)
    return env


def run_git(
    cwd: Path,
    args: Sequence[str],
    *,
    check: bool = True,
    hooks: bool = True,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """``git -C cwd args...``; raises ``GitError`` on a non-zero exit when ``check``."""
    # A repository's own config must not make a read run a program (core.fsmonitor).
    command = ["git", "-C", str(cwd), "-c", "core.fsmonitor=false"]
    if not hooks:
        command += ["-c", f"core.hooksPath={os.devnull}"]
    command += list(args)
    try:
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=git_environ(env),
            input=input,
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed (or not on PATH)") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {' '.join(args[:2])} took longer than {timeout:g}s") from exc
    if check and proc.returncode != 0:
        first = next((line for line in proc.stderr.splitlines() if line.strip()), "")
        raise GitError(
            f"git {' '.join(args[:2])} failed: {first or f'exit {proc.returncode}'}",
            returncode=proc.returncode,
            stderr=proc.stderr,
        )
    return proc


def git_out(
    cwd: Path,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
) -> str:
    """The stripped standard output of a git command that must succeed."""
    return run_git(cwd, args, env=env, input=input).stdout.strip()


def repo_root(path: Path) -> Path | None:
    """The top of the work tree containing ``path``, or ``None`` when it is not in one."""
    proc = run_git(path, ["rev-parse", "--show-toplevel"], check=False)
    if proc.returncode != 0:
        return None
    return Path(proc.stdout.strip()).resolve()


def head_commit(cwd: Path) -> str | None:
    """The commit ``HEAD`` points at, or ``None`` when the branch has no commit yet."""
    proc = run_git(cwd, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], check=False)
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def current_branch(cwd: Path) -> str | None:
    """The checked-out branch's short name, or ``None`` on a detached ``HEAD``."""
    proc = run_git(cwd, ["symbolic-ref", "--quiet", "--short", "HEAD"], check=False)
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def dirty_tracked_paths(cwd: Path) -> list[str]:
    """Tracked files with staged or unstaged changes (untracked files are not listed)."""
    out = run_git(cwd, ["status", "--porcelain=v1", "-z", "--untracked-files=no"]).stdout
    paths: list[str] = []
    entries = out.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":
            # A rename or copy is followed by its source path.
            paths.append(entries[i])
            i += 1
    return paths
