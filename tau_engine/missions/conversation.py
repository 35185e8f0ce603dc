"""``/mission`` in a conversation: its arguments, and the mission it starts.

The command line reads like ``tau mission run``'s flags, quoted as in a shell,
then the task as typed::

    /mission --verifier "python -m pytest -q" [--patch FILE] Fix add() so that it adds

Options come first; the first word that is not one of them starts the task,
which is kept verbatim (apostrophes and all), or unquoted when it is one quoted
word; ``--`` ends the options. With no task, the task is the conversation's last
prompt (as typed); with no conversation either, it is empty and intake blocks the
mission as ``underspecified``. The repository is the workspace's; a relative
``--patch`` is relative to the workspace root. The edit authority is ``--patch``
or else the session's current model (an offline model never is: intake records
the mission ``blocked`` with ``missing-edit-authority``, as ``tau mission run``
does). The mission is ``MissionContext.start``, the CLI's, with the engine's
event bus, so every front end sees its ``mission_phase`` events.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tau_engine.errors import UsageError

USAGE = (
    "/mission [--verifier CMD] [--guard CMD] [--setup CMD] [--patch FILE] "
    "[--max-attempts N] [--max-tokens N] [--max-cost USD] [--max-minutes N] "
    "[--red-runs N] [--profile NAME] [--no-commit] [--] [TASK]"
)

# One shell word: bare characters, '…', "…" (with backslash escapes) or \x, run together.
_WORD = re.compile(r"""(?:[^\s'"\\]+|'[^']*'|"(?:[^"\\]|\\.)*"|\\.)+""", re.DOTALL)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise ValueError
    return value


def _red_runs(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 5:
        raise ValueError
    return value


def _profile(text: str) -> str:
    from tau_engine.safety.profiles import BUILTIN_PROFILES

    if text not in BUILTIN_PROFILES:
        raise ValueError
    return text


_VALUES: dict[str, Callable[[str], Any]] = {
    "--verifier": str,
    "--guard": str,
    "--setup": str,
    "--patch": str,
    "--max-attempts": _positive_int,
    "--max-tokens": _positive_int,
    "--max-cost": _positive_float,
    "--max-minutes": _positive_float,
    "--red-runs": _red_runs,
    "--profile": _profile,
}
_SWITCHES = ("--no-commit",)


@dataclass
class MissionArgs:
    """What a ``/mission`` line asked for; ``task`` None: none was typed."""

    task: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def _unquote(word: str) -> str:
    try:
        parts = shlex.split(word)
    except ValueError as exc:
        raise UsageError(f"/mission: cannot read {word!r} ({exc})") from None
    return parts[0] if parts else ""


def parse_mission_args(text: str) -> MissionArgs:
    """Read a ``/mission`` line's arguments. Raises ``UsageError`` naming the problem."""
    args = MissionArgs()
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        match = _WORD.match(text, pos)
        if match is None:
            if pos < len(text):  # an unclosed quote
                raise UsageError(f"/mission: unclosed quote in {text[pos:]!r}; usage: {USAGE}")
            return args
        word = match.group(0)
        if word == "--":
            rest = text[match.end() :].strip()
            args.task = rest or None
            return args
        name, eq, inline = word.partition("=")
        if not name.startswith("--"):
            rest = text[pos:].strip()
            single = _WORD.fullmatch(rest)
            # One quoted word is unquoted; anything else is the task as typed.
            args.task = _unquote(rest) if single and rest[0] in "'\"" else rest
            return args
        pos = match.end()
        if name in _SWITCHES and not eq:
            args.options[name] = True
            continue
        convert = _VALUES.get(name)
        if convert is None:
            raise UsageError(f"/mission: unknown option {name}; usage: {USAGE}")
        if eq:
            raw = _unquote(inline) if inline else ""
        else:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            value = _WORD.match(text, pos)
            if value is None and pos < len(text):
                raise UsageError(f"/mission: unclosed quote in {text[pos:]!r}; usage: {USAGE}")
            if value is None:
                raise UsageError(f"/mission: {name} needs a value; usage: {USAGE}")
            raw = _unquote(value.group(0))
            pos = value.end()
        try:
            args.options[name] = convert(raw)
        except ValueError:
            raise UsageError(f"/mission: {name} {raw!r} is not a valid value") from None


def mission_request(
    args: MissionArgs, *, repo: Path, task: str, model: str | None
) -> Any:  # MissionRequest: imported when a mission runs
    """The ``MissionRequest`` of a parsed ``/mission`` line."""
    from tau_engine.missions.intake import MissionRequest

    opts = args.options
    patch = opts.get("--patch")
    if patch is not None:
        patch = str(repo / Path(patch).expanduser())  # absolute stays absolute
    return MissionRequest(
        repo=repo,
        task=task,
        verifier=opts.get("--verifier"),
        guard=opts.get("--guard"),
        setup=opts.get("--setup"),
        patch_file=patch,
        model=None if patch is not None else model,
        max_attempts=opts.get("--max-attempts", 3),
        max_tokens=opts.get("--max-tokens"),
        max_cost=opts.get("--max-cost"),
        max_minutes=opts.get("--max-minutes"),
        commit=not opts.get("--no-commit", False),
        profile=opts.get("--profile", "balanced"),
        red_runs=opts.get("--red-runs", 2),
    )


def last_prompt(history: list[Any]) -> str:
    """The conversation's last prompt as the user typed it ("" when there is none)."""
    for stored in reversed(history):
        message = stored.message
        if message.role != "user" or (message.meta or {}).get("compaction"):
            continue
        typed = (message.meta or {}).get("typed")
        text = typed if isinstance(typed, str) else message.content
        if text.strip():
            return str(text)
    return ""


@dataclass(frozen=True)
class ConversationMission:
    """A ``/mission`` that ran: its final state, its evidence folder, and the commands
    PR.md lists to publish it (empty without a PR.md)."""

    state: Any  # MissionState
    evidence_dir: Path
    publish_commands: tuple[str, ...]


async def run_conversation_mission(
    engine: Any, text: str, *, environ: Mapping[str, str] | None = None
) -> ConversationMission:
    """Start the mission a ``/mission`` line asks for in ``engine``'s workspace and run
    it to its outcome, announcing its phases on ``engine.bus``. Cancelling it (Esc,
    Ctrl+C) stops it in its phase: ``tau mission resume ID`` continues it."""
    from tau_engine.git import repo_root
    from tau_engine.missions.report import publish_commands
    from tau_engine.missions.service import MissionContext

    args = parse_mission_args(text)
    workspace = engine.paths.root
    repo = await asyncio.to_thread(repo_root, workspace)
    if repo is None:
        raise UsageError(f"/mission needs a git repository; {workspace} is not in one")
    task = args.task if args.task is not None else last_prompt(await engine.history())
    request = mission_request(args, repo=repo, task=task, model=engine.model_id or None)
    # The engine's environment (the process's, with the keys it found): what a
    # ``tau mission run`` started where tau was would see.
    env = dict(engine.runtime.environ if environ is None else environ)
    context = await asyncio.to_thread(MissionContext.open, repo, environ=env, bus=engine.bus)
    try:
        state = await context.start(request)
    finally:
        context.close()
    evidence = context.evidence_dir(state.id)
    has_pr = await asyncio.to_thread((evidence / "PR.md").is_file)
    return ConversationMission(
        state=state,
        evidence_dir=evidence,
        publish_commands=tuple(publish_commands(state)) if has_pr else (),
    )
