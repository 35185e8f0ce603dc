"""A mission's git worktree: created beside the user's checkout, never in it.

A mission works on branch ``tau/mission-<id>`` in a worktree at
``.tau/worktrees/<id>``; the user's checkout, index and branch are never
touched. Everything here that needs an index uses a temporary one
(``GIT_INDEX_FILE``), so the worktree's own index stays at its ``HEAD``:

- ``snapshot`` records the worktree's files (tracked and untracked, ignored
  ones aside) as a tree object, and ``restore`` puts them back: an edit
  attempt that was killed half-way restarts from where it began.
- ``result_tree`` is the base commit with only the paths the editors changed,
  so what a test run leaves behind (caches, build output) never reaches the
  commit or the diff.
- ``commit`` writes that tree as a commit and moves the branch with a
  compare-and-swap from the base commit, so two runs of the same mission can
  never both commit; ``find_commit`` finds a commit already made (by its
  ``Tau-Mission`` trailer) so that a resumed mission does not commit again.

A worktree is removed only when it holds no uncommitted or untracked change and
its ``HEAD`` is reachable from a ref; ``git worktree remove`` without
``--force`` refuses the rest on its own as well.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tau_engine.git import GitError, git_out, run_git
from tau_engine.missions.model import TRAILER, MissionError

FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "tau",
    "GIT_AUTHOR_EMAIL": "tau@localhost",
    "GIT_COMMITTER_NAME": "tau",
    "GIT_COMMITTER_EMAIL": "tau@localhost",
}


def branch_name(mission_id: str) -> str:
    return f"tau/mission-{mission_id}"


def _registered(repo: Path) -> dict[Path, str | None]:
    """The repository's worktrees: path -> checked-out branch ref (None when detached)."""
    out = run_git(repo, ["worktree", "list", "--porcelain"]).stdout
    found: dict[Path, str | None] = {}
    current: Path | None = None
    for line in out.splitlines():
        if line.startswith("worktree "):
            current = Path(line[len("worktree ") :]).resolve()
            found[current] = None
        elif line.startswith("branch ") and current is not None:
            found[current] = line[len("branch ") :]
    return found


def ensure_worktree(repo: Path, path: Path, branch: str, base: str) -> None:
    """Create the mission's worktree on a new branch at ``base``; on a resume, finish
    what an interrupted creation left (the path and branch are the mission's own)."""
    run_git(repo, ["worktree", "prune"])
    registered = _registered(repo)
    where = path.resolve()
    if where in registered:
        if registered[where] != f"refs/heads/{branch}":
            raise MissionError(
                f"{path} is a worktree of {registered[where] or 'a detached HEAD'}"
                f", not of {branch}; it will not be reused"
            )
        return
    if path.exists():
        # Left by a `git worktree add` killed before it registered the worktree. Moved
        # aside, not deleted: whatever is in a folder tau did not finish is not tau's to lose.
        path.rename(path.with_name(f"{path.name}.orphan-{time.time_ns()}"))
    path.parent.mkdir(parents=True, exist_ok=True)
    exists = (
        run_git(
            repo, ["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], check=False
        ).returncode
        == 0
    )
    if exists:
        run_git(repo, ["worktree", "add", str(path), branch], hooks=False)
    else:
        run_git(repo, ["worktree", "add", "-b", branch, str(path), base], hooks=False)


def check_worktree(repo: Path, worktree: Path, branch: str) -> None:
    """Raise ``MissionError`` unless the worktree is still the repository's, on ``branch``.

    An editor that rewrote the worktree's ``.git`` file would point every later git
    command (snapshot, commit) at another repository."""
    common = run_git(worktree, ["rev-parse", "--git-common-dir"], check=False)
    expected = git_out(repo, ["rev-parse", "--git-common-dir"])
    found = (worktree / common.stdout.strip()) if common.returncode == 0 else None
    if found is None or found.resolve() != (repo / expected).resolve():
        raise MissionError(f"{worktree} no longer belongs to {repo}: its .git was changed")
    head = run_git(worktree, ["symbolic-ref", "--quiet", "HEAD"], check=False).stdout.strip()
    if head != f"refs/heads/{branch}":
        raise MissionError(f"{worktree} is no longer on {branch} (HEAD: {head or 'detached'})")


@contextlib.contextmanager
def _temp_index() -> Iterator[dict[str, str]]:
    folder = tempfile.mkdtemp(prefix="tau-index-")
    try:
        yield {"GIT_INDEX_FILE": os.path.join(folder, "index"), "GIT_LITERAL_PATHSPECS": "1"}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def snapshot(worktree: Path) -> str:
    """The worktree's files (tracked and untracked, not ignored) as a tree object id."""
    with _temp_index() as env:
        run_git(worktree, ["read-tree", "HEAD"], env=env)
        run_git(worktree, ["add", "-A", "--", "."], env=env)
        return git_out(worktree, ["write-tree"], env=env)


def changed_paths(worktree: Path, old_tree: str, new_tree: str) -> list[str]:
    """Paths whose content differs between two trees."""
    out = run_git(
        worktree, ["diff-tree", "-r", "-z", "--no-renames", "--name-only", old_tree, new_tree]
    ).stdout
    return [p for p in out.split("\0") if p]


def restore(worktree: Path, tree: str) -> list[str]:
    """Make the worktree's files what ``snapshot`` recorded as ``tree``; return the paths
    put back. Ignored files are left alone; the worktree's index is not changed."""
    current = snapshot(worktree)
    out = run_git(
        worktree, ["diff-tree", "-r", "-z", "--no-renames", "--name-status", current, tree]
    ).stdout.split("\0")
    changes = list(zip(out[0::2], out[1::2], strict=False))
    restored: list[str] = []
    for status, rel in changes:
        if status == "D":  # not in the snapshot: created since
            (worktree / rel).unlink(missing_ok=True)
            restored.append(rel)
    wanted = [rel for status, rel in changes if status and status != "D"]
    if wanted:
        with _temp_index() as env:
            run_git(worktree, ["read-tree", tree], env=env)
            run_git(
                worktree,
                ["checkout-index", "-f", "-z", "--stdin"],
                env=env,
                input="\0".join(wanted) + "\0",
            )
        restored += wanted
    return sorted(restored)


def result_tree(worktree: Path, base: str, paths: list[str]) -> str:
    """``base`` with ``paths`` taken from the worktree as they are now (a deleted file
    deleted): the tree a mission commits."""
    with _temp_index() as env:
        run_git(worktree, ["read-tree", base], env=env)
        if paths:
            run_git(
                worktree,
                ["update-index", "--add", "--remove", "-z", "--stdin"],
                env=env,
                input="\0".join(paths) + "\0",
            )
        return git_out(worktree, ["write-tree"], env=env)


def diff(worktree: Path, old: str, new: str) -> str:
    """The unified diff between two trees or commits (binary files included)."""
    return run_git(
        worktree,
        [
            "-c",
            "core.quotepath=off",
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--no-renames",
            "--binary",
            old,
            new,
        ],
    ).stdout


def diff_stat(worktree: Path, old: str, new: str) -> tuple[int, int, int]:
    """(files, added lines, removed lines) between two trees."""
    out = run_git(worktree, ["diff", "--numstat", "--no-renames", old, new]).stdout
    files = added = removed = 0
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        files += 1
        added += int(parts[0]) if parts[0].isdigit() else 0
        removed += int(parts[1]) if parts[1].isdigit() else 0
    return files, added, removed


def _identity_env(worktree: Path) -> dict[str, str]:
    """The user's git identity when configured, else tau's, so a commit never fails on it."""
    name = run_git(worktree, ["config", "user.name"], check=False).stdout.strip()
    email = run_git(worktree, ["config", "user.email"], check=False).stdout.strip()
    if name and email:
        return {}
    return FALLBACK_IDENTITY


def find_commit(worktree: Path, base: str, branch: str, mission_id: str) -> str | None:
    """The commit on ``branch`` after ``base`` whose trailer names this mission, if any."""
    proc = run_git(
        worktree,
        [
            "log",
            "--format=%H%x00%(trailers:key=" + TRAILER + ",valueonly,separator=%x2C)",
            f"{base}..refs/heads/{branch}",
        ],
        check=False,
    )
    if proc.returncode != 0:
        return None
    for line in proc.stdout.splitlines():
        sha, _, values = line.partition("\0")
        if mission_id in [v.strip() for v in values.split(",")]:
            return sha
    return None


def commit(worktree: Path, *, base: str, branch: str, tree: str, message: str) -> str:
    """Commit ``tree`` on top of ``base`` and move ``branch`` to it, only if the branch is
    still at ``base``. Returns the new commit id."""
    sha = git_out(
        worktree, ["commit-tree", tree, "-p", base], input=message, env=_identity_env(worktree)
    )
    try:
        run_git(
            worktree, ["update-ref", "-m", "tau mission commit", f"refs/heads/{branch}", sha, base]
        )
    except GitError as exc:
        raise MissionError(
            f"{branch} moved away from the base commit while the mission "
            f"ran; not committing ({exc})"
        ) from exc
    # The worktree's index still holds the base; bring it to the new HEAD (files untouched).
    run_git(worktree, ["reset", "-q"], hooks=False)
    return sha


def commit_message(
    title: str, task: str, mission_id: str, trailers: dict[str, str] | None = None
) -> str:
    """The commit message: the task's title, the rest of its text, and the mission trailer
    last (``trailers`` adds more, e.g. a job's)."""
    lines = [title.strip() or "tau mission", ""]
    body = task.strip().splitlines()
    if body and body[0].strip().lstrip("#").strip() == title.strip():
        body = body[1:]  # the title line itself (a Markdown heading, or the first line)
    text = "\n".join(body).strip()
    if text:
        lines += [text, ""]
    lines.append(f"{TRAILER}: {mission_id}")
    for key, value in (trailers or {}).items():
        lines.append(f"{key}: {value}")
    return "\n".join(lines) + "\n"


def removable(repo: Path, worktree: Path) -> str | None:
    """Why the worktree must be kept, or None when removing it loses nothing."""
    if not worktree.exists():
        return "it does not exist"
    status = run_git(worktree, ["status", "--porcelain", "--untracked-files=all"]).stdout
    if status.strip():
        return "it holds uncommitted or untracked changes"
    head = git_out(worktree, ["rev-parse", "HEAD"])
    refs = run_git(
        repo,
        [
            "for-each-ref",
            "--contains",
            head,
            "--format=%(refname)",
            "refs/heads",
            "refs/tags",
            "refs/remotes",
        ],
    ).stdout
    if not refs.strip():
        return "its commits are on no branch or tag"
    return None


def remove_if_safe(repo: Path, worktree: Path) -> str | None:
    """Remove the worktree (the branch stays) when ``removable``; return why not otherwise."""
    why = removable(repo, worktree)
    if why is not None:
        return why
    run_git(repo, ["worktree", "remove", str(worktree)])
    return None


def add_temporary_worktree(repo: Path, commit_ish: str) -> Path:
    """A fresh detached worktree at ``commit_ish`` in a new folder outside the repository."""
    parent = Path(tempfile.mkdtemp(prefix="tau-verify-"))
    path = parent / "worktree"
    try:
        run_git(repo, ["worktree", "add", "--detach", str(path), commit_ish], hooks=False)
    except BaseException:
        shutil.rmtree(parent, ignore_errors=True)
        raise
    return path


def remove_temporary_worktree(repo: Path, path: Path) -> None:
    """Remove what ``add_temporary_worktree`` made (whatever a verifier run left in it)."""
    run_git(repo, ["worktree", "remove", "--force", str(path)], check=False)
    shutil.rmtree(path.parent, ignore_errors=True)
    run_git(repo, ["worktree", "prune"], check=False)
