"""The explicit rules intake blocks a mission by (each listed in ``docs/missions.md``).

They are deliberately plain: a pattern list a reader can check, not a model's
judgement. Each function returns the reason to block, or None.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from tau_engine.missions.model import STRICT_PROFILES, MissionInputs
from tau_engine.missions.patch_input import PatchInput
from tau_engine.missions.project import is_test_file, named_paths
from tau_engine.safety.protected import rule_for_parts

# -- unsafe ------------------------------------------------------------------------------

# What no profile lets a mission do.
_UNSAFE_TASK = [
    (re.compile(r"\bforce[- ]?push|\bpush\s+(--force|-f)\b", re.I), "force-pushes"),
    (
        re.compile(r"\brm\s+-[a-z]*r[a-z]*f?[a-z]*\s+(/|~)(\s|$)", re.I),
        "deletes the home or root folder",
    ),
    (
        re.compile(
            r"\b(print|show|send|upload|post|leak|exfiltrat\w*|e-?mail|reveal|dump)\b"
            r".{0,40}\b(api[ _-]?keys?|secrets?|credentials?|passwords?|access tokens?|"
            r"ssh keys?|\.env)\b",
            re.I,
        ),
        "exposes credentials",
    ),
    (re.compile(r"\brewrite\s+(the\s+)?(git\s+)?history\b", re.I), "rewrites git history"),
    (
        re.compile(r"\bdisable\s+(the\s+)?(sandbox|safety|redaction)\b", re.I),
        "disables tau's safety",
    ),
]
# What the strict and hardened profiles also forbid.
_STRICT_TASK = [
    (
        re.compile(r"\bgit\s+push\b|\bpush\s+(to|the)\s+(remote|origin|main|master)\b", re.I),
        "pushes",
    ),
    (re.compile(r"\bdeploy\b", re.I), "deploys"),
    (
        re.compile(r"\b(delete|remove|skip|disable|xfail)\w*\b.{0,20}\btests?\b", re.I),
        "removes or skips tests",
    ),
]
_STRICT_PATHS = re.compile(
    r"(^|/)(\.github/workflows/|\.gitlab-ci\.yml$|\.env(\..*)?$|"
    r"[^/]*\.pem$|[^/]*\.key$|id_rsa[^/]*$|id_ed25519[^/]*$|"
    r"\.npmrc$|\.pypirc$|\.netrc$)"
)


_NEGATION = re.compile(
    r"\b(not|never|don't|dont|stop|avoid|no longer|prevent|without)\b[^.]*$", re.I
)


def _asks_for(pattern: re.Pattern[str], task: str) -> bool:
    """Whether the task asks for what ``pattern`` matches ("do not print the key" does not)."""
    for match in pattern.finditer(task):
        before = task[max(0, match.start() - 30) : match.start()]
        if not _NEGATION.search(before):
            return True
    return False


def _path_problem(path: str) -> str | None:
    posix = PurePosixPath(path)
    rule = rule_for_parts(posix.parts)
    if rule is not None:
        return f"{rule.why} (rule '{rule.name}')"
    if posix.is_absolute() or path.startswith("~"):
        return "is an absolute path"
    if ".." in posix.parts:
        return "leaves the repository (..)"
    if ".git" in posix.parts:
        return "is inside .git"
    if posix.parts and posix.parts[0] == ".tau":
        return "is tau's own state (.tau/)"
    return None


def unsafe_reason(task: str, patch: PatchInput | None, profile: str) -> str | None:
    """Why the task or the patch asks for what the safety profile forbids."""
    for path in patch.paths if patch else []:
        problem = _path_problem(path)
        if problem:
            return f"the patch writes {path}, which {problem}"
    strict = profile in STRICT_PROFILES
    if strict:
        for path in patch.paths if patch else []:
            if _STRICT_PATHS.search(path):
                return (
                    f"the patch changes {path} (CI, credentials or key files), which "
                    f"the {profile} profile forbids"
                )
    checks = _UNSAFE_TASK + (_STRICT_TASK if strict else [])
    for pattern, what in checks:
        if _asks_for(pattern, task):
            extra = f" under the {profile} profile" if (pattern, what) in _STRICT_TASK else ""
            return f"the task asks for something that {what}, which tau refuses{extra}"
    return None


# -- underspecified ----------------------------------------------------------------------

_VAGUE = frozenset(
    {
        "fix it",
        "fix this",
        "fix that",
        "fix the bug",
        "fix bug",
        "fix bugs",
        "fix the bugs",
        "fix the tests",
        "fix tests",
        "fix the test",
        "make it work",
        "make tests pass",
        "make the tests pass",
        "improve it",
        "improve the code",
        "clean up",
        "cleanup",
        "refactor",
        "do it",
        "help",
        "todo",
        "update",
        "changes",
        "wip",
    }
)
MIN_TASK_WORDS = 3


def underspecified_reason(task: str, *, with_patch: bool) -> str | None:
    """Why the task does not say enough. With a patch, the patch is the specification,
    so only an empty task is refused (the commit message comes from it)."""
    if not task.strip():
        return "the task is empty: say what should change (--task TEXT or --issue FILE)"
    if with_patch:
        return None
    words = re.findall(r"[\w'-]+", task.lower())
    if " ".join(words) in _VAGUE:
        return f"the task '{task.strip()}' does not say what to change or how to tell it is done"
    if len(words) < MIN_TASK_WORDS:
        return (
            f"the task '{task.strip()}' has fewer than {MIN_TASK_WORDS} words; say what "
            "should change and where"
        )
    return None


# -- too broad ---------------------------------------------------------------------------

MAX_PATCH_FILES = 50
MAX_PATCH_LINES = 2_000
MAX_TASK_ITEMS = 5
# Checked in order, so the message quotes the most telling phrase.
_BROAD = [
    re.compile(pattern, re.I)
    for pattern in (
        r"\b(entire|whole|complete)\s+(code\s?base|project|repo(sitory)?|app(lication)?)\b",
        r"\bevery\s+(file|module|package|class|function)\b",
        r"\ball\s+(files|modules|packages)\b",
        r"\bfrom\s+scratch\b",
        r"\b(rewrite|refactor|migrate|port|convert)\s+(the\s+|this\s+)?(entire|whole|complete|"
        r"everything)\b",
    )
]
_TASK_ITEM = re.compile(r"^\s*[-*]\s+\[ \]\s+(.+)$", re.M)


def too_broad_reason(task: str, patch: PatchInput | None) -> tuple[str, str | None] | None:
    """Why the mission is more than one reviewable change, and the first item of the
    task's checklist when it has one (a narrower task to run instead)."""
    if patch and len(patch.paths) > MAX_PATCH_FILES:
        return (
            f"the patch touches {len(patch.paths)} files (more than {MAX_PATCH_FILES}); "
            "split it into reviewable missions",
            None,
        )
    if patch and patch.changed_lines > MAX_PATCH_LINES:
        return (
            f"the patch changes {patch.changed_lines} lines (more than "
            f"{MAX_PATCH_LINES}); split it into reviewable missions",
            None,
        )
    items = _TASK_ITEM.findall(task)
    if len(items) > MAX_TASK_ITEMS:
        return (
            f"the task lists {len(items)} open items (more than {MAX_TASK_ITEMS}); run "
            "one mission per item",
            items[0].strip(),
        )
    match = next((m for m in (p.search(task) for p in _BROAD) if m), None)
    if match:
        return (
            f"the task asks for '{match.group(0)}', which is not one reviewable change; "
            "name the part to change",
            None,
        )
    return None


# -- dirty repository --------------------------------------------------------------------


def relevant_dirty_paths(
    dirty: list[str], inputs: MissionInputs, patch: PatchInput | None
) -> list[str]:
    """The uncommitted changes that matter: to a file the patch touches, a file the
    task, verifier or guard names, or a test file. Untracked files never count."""
    touched = set(patch.paths if patch else [])
    named = named_paths(inputs.verifier) + named_paths(inputs.guard)
    out = []
    for path in dirty:
        if path in touched or is_test_file(path, named) or path in inputs.task:
            out.append(path)
    return sorted(dict.fromkeys(out))
