"""The key of a workspace in a shared store: which jobs are this workspace's.

A PostgreSQL store is shared by several workspaces, and by several machines each with
its own checkout of one repository; they must serve one queue per repository, and
never see or claim another repository's jobs. The key is therefore:

* ``git:<sha>``: the repository's root commit (the commit with no parent that ``HEAD``
  reaches; the smallest hash when there are several), followed by ``:<folder>`` for a
  workspace in a sub-folder of the repository (``git:<sha>:services/api``). It is the same in every
  clone on every machine, whatever the remote is called or spelled (ssh or https, a
  mirror), wherever the checkout lives; it does not change as the history grows.
  A repository could only share it by holding that commit (a fork or clone of the same
  project): making another commit with that hash is a SHA-1 preimage.
* ``path:<host>:<resolved root>``: a folder that is not a git repository, or one
  with no commit yet; that one folder on that one machine.

The key is not a secret and not a permission: everyone who can reach the database can
read every workspace's rows. It keeps workspaces apart, not users.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

from tau_engine.git import GitError, run_git

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def workspace_key(root: Path) -> str:
    """The key of the workspace at ``root`` (blocking: it runs ``git``)."""
    roots = _git_lines(root, ["rev-list", "--max-parents=0", "HEAD"])
    shas = sorted(sha for sha in roots or [] if _SHA.fullmatch(sha))
    prefix = _git_lines(root, ["rev-parse", "--show-prefix"])
    if shas and prefix is not None:
        folder = prefix[0].strip("/") if prefix else ""
        return f"git:{shas[0]}" + (f":{folder}" if folder else "")
    return f"path:{socket.gethostname()}:{root.resolve()}"


def _git_lines(root: Path, args: list[str]) -> list[str] | None:
    """The lines ``git`` printed, or None when it failed (not a repository, no commit)."""
    try:
        proc = run_git(root, args, check=False, timeout=30.0)
    except GitError:
        return None
    if proc.returncode != 0:
        return None
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]
