"""Intake: read a mission's inputs and decide, before any side effect, whether it may run.

Intake only reads: the repository (``git rev-parse``, ``git status``), the
patch file, the settings and the environment, and PATH. A mission that cannot
run is *blocked* with a code, a one-line reason and, where one can be worked
out from the repository, the command that would unblock it. That command is
only suggested: nothing here adopts it. The rules are listed in
``docs/missions.md``; they are checked in this order, the first one found wins:

``unsafe``, ``missing-verifier``, ``underspecified``, ``missing-edit-authority``,
``missing-credentials``, ``too-broad``, ``verifier-not-runnable``, ``dirty-repo``.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tau_engine.errors import MissingKeyError, UsageError
from tau_engine.git import current_branch, dirty_tracked_paths, head_commit, repo_root
from tau_engine.missions import rules
from tau_engine.missions.model import Blocked, MissionInputs
from tau_engine.missions.patch_input import PatchInput, read_patch
from tau_engine.missions.project import missing_module, unrunnable
from tau_engine.resources.project_verifier import (
    RECORDED_IN,
    detect_verifier,
    read_recorded_verifier,
)


@dataclass
class MissionRequest:
    """What the user asked for, as given on the command line."""

    repo: Path
    task: str | None = None
    issue_file: str | None = None
    issue_text: str | None = None
    verifier: str | None = None
    guard: str | None = None
    setup: str | None = None
    patch_file: str | None = None
    model: str | None = None
    max_attempts: int = 3
    max_tokens: int | None = None
    max_cost: float | None = None
    max_minutes: float | None = None
    commit: bool = True
    profile: str = "balanced"
    red_runs: int = 2
    verifier_timeout_s: float = 900.0
    publish: str | None = None
    auto_merge: bool = False


@dataclass
class Verdict:
    """Intake's decision: ``code`` None means the mission may run."""

    code: Blocked | None = None
    message: str = ""
    unblock_command: str | None = None


@dataclass
class Intake:
    """The mission's inputs, where it starts from, and whether it may run."""

    inputs: MissionInputs
    base_commit: str
    base_branch: str | None
    verdict: Verdict


def task_from_issue(text: str) -> str:
    """The task in an issue: ``gh issue view --json title,body`` output, or Markdown."""
    import json

    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("title"), str):
            body = data.get("body") if isinstance(data.get("body"), str) else ""
            return f"{data['title'].strip()}\n\n{(body or '').strip()}".strip()
    return stripped


def title_of(task: str) -> str:
    """The first line of the task, without Markdown heading marks, at most 72 characters."""
    for line in task.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= 72 else line[:71].rstrip() + "…"
    return ""


def rerun_command(inputs: MissionInputs, **changes: str | None) -> str:
    """``tau mission run ...`` with the mission's inputs, and ``changes`` applied."""
    values: dict[str, str | None] = {
        "--repo": inputs.repo,
        "--task": None if inputs.issue_file else inputs.task,
        "--issue": inputs.issue_file,
        "--verifier": inputs.verifier,
        "--guard": inputs.guard,
        "--setup": inputs.setup,
        "--patch": inputs.patch_file,
        "--model": inputs.model,
    }
    values.update({f"--{k.replace('_', '-')}": v for k, v in changes.items()})
    words = ["tau", "mission", "run"]
    for flag, value in values.items():
        if value is not None:
            words += [flag, value]
    if inputs.profile != "balanced":
        words += ["--profile", inputs.profile]
    if not inputs.commit:
        words.append("--no-commit")
    return shlex.join(words)


def _authority(
    request: MissionRequest, repo: Path, environ: Mapping[str, str], inputs: MissionInputs
) -> Verdict | None:
    """Set the edit authority on ``inputs``; a verdict when there is none usable."""
    if request.patch_file is not None:
        inputs.authority = "patch"
        return None
    from tau_engine.missions.environment import mission_settings, provider_environ
    from tau_engine.providers.key_sources import key_vars
    from tau_engine.providers.registry import default_model, parse_model_id, resolve_model

    settings = mission_settings(repo, environ)
    environ = provider_environ(repo, environ, settings)
    # --patch replaces the model: the CLI refuses both together.
    patch_hint = rerun_command(inputs, patch="PATCH.diff", model=None)
    chosen = request.model or default_model(settings, environ, repo)
    provider, _ = parse_model_id(chosen)
    if provider == "offline":
        why = (
            f"{chosen} is an offline model, which is never edit authority"
            if request.model
            else "no patch was given and no provider API key was found"
        )
        return Verdict(
            Blocked.MISSING_EDIT_AUTHORITY,
            f"{why}; give --patch FILE (a unified diff or edit_many JSON), or a "
            "model whose API key is set",
            patch_hint,
        )
    try:
        resolved = resolve_model(chosen, settings, environ, repo)
    except MissingKeyError as exc:
        names = key_vars(provider, settings)
        # The vendor's own variable (second after TAU_<PROVIDER>_API_KEY) is what people set.
        var = names[1] if len(names) > 1 else names[0]
        return Verdict(
            Blocked.MISSING_CREDENTIALS,
            str(exc),
            f"{var}=<your key> " + rerun_command(inputs, model=chosen),
        )
    inputs.authority = "provider"
    inputs.model = resolved.model_id
    return None


def _check_verifier(
    inputs: MissionInputs, repo: Path, environ: Mapping[str, str]
) -> Verdict | None:
    for label, command in (("verifier", inputs.verifier), ("guard", inputs.guard)):
        if not command:
            continue
        why = unrunnable(command, repo, environ)
        if why is None or (inputs.setup and "does not parse" not in why):
            # A setup command may install what is missing now; the run will tell.
            continue
        unblock = None
        suggestion = detect_verifier(repo, environ)
        module = missing_module(why)
        if module:
            python = command.split()[0]
            unblock = f"{python} -m pip install {shlex.quote(module)} && " + rerun_command(inputs)
        elif (
            label == "verifier"
            and suggestion
            and suggestion != command
            and unrunnable(suggestion, repo, environ) is None
        ):
            unblock = rerun_command(inputs, verifier=suggestion)
        return Verdict(Blocked.VERIFIER_NOT_RUNNABLE, f"the {label} cannot run: {why}", unblock)
    return None


def _check_dirty(inputs: MissionInputs, repo: Path, patch: PatchInput | None) -> Verdict | None:
    dirty = dirty_tracked_paths(repo)
    relevant = rules.relevant_dirty_paths(dirty, inputs, patch)
    if not relevant:
        return None
    shown = ", ".join(relevant[:5]) + (
        f" and {len(relevant) - 5} more" if len(relevant) > 5 else ""
    )
    stash = shlex.join(
        ["git", "-C", inputs.repo, "stash", "push", "-m", "before tau mission", "--", *relevant]
    )
    return Verdict(
        Blocked.DIRTY_REPO,
        f"uncommitted changes to {shown} matter to this mission (it starts from "
        "the last commit, without them); commit or stash them",
        f"{stash} && {rerun_command(inputs)}",
    )


def run_intake(request: MissionRequest, environ: Mapping[str, str]) -> Intake:
    """Classify a mission request. Raises ``UsageError`` for input that is not a mission
    at all (no repository, an unreadable or malformed patch)."""
    root = repo_root(request.repo) if request.repo.is_dir() else None
    if root is None:
        raise UsageError(f"--repo {request.repo} is not a git repository")
    base = head_commit(root)
    if base is None:
        raise UsageError(f"{root} has no commit yet: a mission starts from a commit")
    task = request.task
    if request.issue_text is not None:
        task = task_from_issue(request.issue_text)
    task = (task or "").strip()
    patch = read_patch(Path(request.patch_file)) if request.patch_file else None
    inputs = MissionInputs(
        repo=str(root),
        task=task,
        title=title_of(task),
        issue_file=request.issue_file,
        verifier=(request.verifier or "").strip() or None,
        guard=(request.guard or "").strip() or None,
        setup=(request.setup or "").strip() or None,
        patch_file=str(Path(request.patch_file).resolve()) if request.patch_file else None,
        patch_text=patch.text if patch else None,
        patch_sha256=hashlib.sha256(patch.text.encode()).hexdigest() if patch else None,
        model=request.model,
        max_attempts=request.max_attempts,
        max_tokens=request.max_tokens,
        max_cost=request.max_cost,
        max_minutes=request.max_minutes,
        commit=request.commit,
        profile=request.profile,
        red_runs=request.red_runs,
        verifier_timeout_s=request.verifier_timeout_s,
        publish="draft" if request.publish else None,
        auto_merge=request.auto_merge,
    )
    intake = Intake(inputs, base, current_branch(root), Verdict())
    intake.verdict = _classify(inputs, root, patch, request, environ)
    return intake


def _classify(
    inputs: MissionInputs,
    root: Path,
    patch: PatchInput | None,
    request: MissionRequest,
    environ: Mapping[str, str],
) -> Verdict:
    unsafe = rules.unsafe_reason(inputs.task, patch, inputs.profile)
    if unsafe:
        return Verdict(Blocked.UNSAFE, unsafe, None)
    if not inputs.verifier:
        # The verifier onboarding recorded comes first, but only as a suggestion: a
        # workspace file never chooses a command that tau runs unasked.
        recorded = read_recorded_verifier(root)
        suggestion = recorded or detect_verifier(root, environ)
        source = f"{RECORDED_IN} records" if recorded else "this repository suggests"
        return Verdict(
            Blocked.MISSING_VERIFIER,
            "no --verifier: a mission needs a command that fails now and passes "
            "when the task is done" + (f" ({source} '{suggestion}')" if suggestion else ""),
            rerun_command(inputs, verifier=suggestion or "TEST_COMMAND"),
        )
    vague = rules.underspecified_reason(inputs.task, with_patch=patch is not None)
    if vague:
        better = f"Make `{inputs.verifier}` pass" + (f": {inputs.task}" if inputs.task else "")
        return Verdict(
            Blocked.UNDERSPECIFIED, vague, rerun_command(inputs, task=better, issue=None)
        )
    blocked = _authority(request, root, environ, inputs)
    if blocked:
        return blocked
    broad = rules.too_broad_reason(inputs.task, patch)
    if broad:
        reason, first_item = broad
        return Verdict(
            Blocked.TOO_BROAD,
            reason,
            rerun_command(inputs, task=first_item, issue=None) if first_item else None,
        )
    return _check_verifier(inputs, root, environ) or _check_dirty(inputs, root, patch) or Verdict()
