"""``--publish draft``: push the mission branch and open (or update) a draft pull request.

Only with the flag, only for a green, committed mission, and only through the
user's own ``git`` remote ``origin`` and ``gh`` CLI. When ``gh`` is missing or
not logged in, nothing is pushed: the record says why and lists the exact
commands to run. ``--auto-merge`` marks the pull request ready and asks GitHub
to merge it when its checks pass (``gh pr merge --auto``), never with an admin
override.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from tau_engine.git import run_git
from tau_engine.missions.model import MissionState, Outcome, Publication
from tau_engine.missions.report import publish_commands

GH_TIMEOUT_S = 120.0


def _gh(args: list[str], cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["gh", *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=GH_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def auto_merge_commands(branch: str) -> list[str]:
    return [
        shlex.join(["gh", "pr", "ready", branch]),
        shlex.join(["gh", "pr", "merge", branch, "--auto", "--squash"]),
    ]


def publish(state: MissionState, environ: Mapping[str, str]) -> Publication:
    """Publish the mission as a draft pull request, or record why not and how to."""
    commands = publish_commands(state)
    branch = state.branch or f"tau/mission-{state.id}"
    wants_merge = state.inputs.auto_merge and state.outcome is Outcome.GREEN
    if wants_merge:
        commands += auto_merge_commands(branch)

    def not_published(reason: str) -> Publication:
        return Publication(status="not-published", reason=reason, commands=commands)

    if state.outcome is not Outcome.GREEN or not state.commit:
        return not_published("only a green, committed mission is published")
    repo = Path(state.inputs.repo)
    if shutil.which("gh", path=environ.get("PATH")) is None:
        return not_published("the gh CLI is not installed; run the commands below")
    try:
        auth = _gh(["auth", "status"], repo, environ)
        if auth.returncode != 0:
            return not_published(
                "gh is not logged in (gh auth login); run the commands below after logging in"
            )
        if run_git(repo, ["remote", "get-url", "origin"], check=False).returncode != 0:
            return not_published("the repository has no remote named origin")
        push = run_git(repo, ["push", "-u", "origin", f"{branch}:{branch}"], check=False)
        if push.returncode != 0:
            return not_published(f"git push failed: {_first_line(push.stderr)}")
        body = str(Path(".tau/missions") / state.id / "PR.md")
        title = state.inputs.title or f"tau mission {state.id}"
        existing = _gh(["pr", "view", branch, "--json", "url", "--jq", ".url"], repo, environ)
        if existing.returncode == 0 and existing.stdout.strip():
            done = _gh(["pr", "edit", branch, "--title", title, "--body-file", body], repo, environ)
            url = existing.stdout.strip()
        else:
            done = _gh(
                [
                    "pr",
                    "create",
                    "--draft",
                    "--base",
                    state.base_branch or "main",
                    "--head",
                    branch,
                    "--title",
                    title,
                    "--body-file",
                    body,
                ],
                repo,
                environ,
            )
            url = _first_line(done.stdout)
        if done.returncode != 0:
            return not_published(
                f"gh could not create the pull request: {_first_line(done.stderr)}"
            )
        if wants_merge:
            for args in (["pr", "ready", branch], ["pr", "merge", branch, "--auto", "--squash"]):
                step = _gh(args, repo, environ)
                if step.returncode != 0:
                    return Publication(
                        status="published",
                        url=url,
                        commands=commands,
                        reason=f"draft pull request {url}; auto-merge not set: "
                        f"{_first_line(step.stderr)}",
                    )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return not_published(f"gh failed: {exc}")
    what = "pull request, auto-merge when checks pass" if wants_merge else "draft pull request"
    return Publication(
        status="published",
        url=url,
        commands=commands,
        reason=f"{what}: {url}",
        auto_merge=wants_merge,
    )
