"""``tau mission``: run, resume, list, show, verify and inspect coding missions.

``run`` and ``resume`` print one progress line per phase on stderr and the
outcome on stdout; with ``--json`` the last stdout line is one compact object
(``id``, ``phase``, ``outcome``, ``reason``, ``unblock_command``,
``evidence_dir``, ``commit``). Exit codes: 0 green or already-green, 1 failed,
3 blocked, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from tau_engine.safety.profiles import BUILTIN_PROFILES
from tau_tui.guard import positive_float, positive_int
from tau_tui.store_option import add_store_option

EXIT_BLOCKED = 3


def _red_runs(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 5:
        raise argparse.ArgumentTypeError("must be between 1 and 5")
    return value


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "mission",
        help="run a coding mission: task + verifier -> "
        "verified commit with evidence, or a blocked reason",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--repo",
        "-w",
        metavar="DIR",
        help="the git repository (default: the one containing the current directory)",
    )
    add_store_option(common)
    common.add_argument("--json", action="store_true", help="print one JSON object last")
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    run = actions.add_parser("run", parents=[common], help="start a mission")
    task = run.add_mutually_exclusive_group()
    task.add_argument("--task", metavar="TEXT", help="what to do")
    task.add_argument(
        "--issue",
        metavar="FILE",
        help="take the task from an issue: a "
        "Markdown file or `gh issue view N --json title,body` output ('-': stdin)",
    )
    run.add_argument(
        "--verifier", metavar="CMD", help="command that fails now and passes when the task is done"
    )
    run.add_argument(
        "--guard", metavar="CMD", help="command that must stay green (e.g. the full test suite)"
    )
    run.add_argument("--setup", metavar="CMD", help="command run once in the new worktree")
    authority = run.add_mutually_exclusive_group()
    authority.add_argument(
        "--patch", metavar="FILE", help="edit authority: a unified diff or edit_many JSON file"
    )
    authority.add_argument(
        "--model",
        "-m",
        metavar="PROVIDER/MODEL",
        help="edit authority: a model that edits through the agent loop",
    )
    run.add_argument(
        "--max-attempts",
        type=positive_int,
        default=3,
        metavar="N",
        help="edit attempts, the first included (default 3)",
    )
    run.add_argument("--max-tokens", type=positive_int, metavar="N", help="token budget")
    run.add_argument("--max-cost", type=positive_float, metavar="USD", help="cost budget")
    run.add_argument("--max-minutes", type=positive_float, metavar="N", help="wall-time budget")
    run.add_argument(
        "--red-runs",
        type=_red_runs,
        default=2,
        metavar="N",
        help="verifier runs at RED (default 2; different results: flaky)",
    )
    run.add_argument(
        "--verifier-timeout",
        type=positive_float,
        default=900.0,
        metavar="S",
        help="seconds before a verifier, guard or setup run is killed (900)",
    )
    run.add_argument(
        "--profile",
        choices=BUILTIN_PROFILES,
        default="balanced",
        help="safety profile (strict/hardened block changes to the tests)",
    )
    run.add_argument(
        "--no-commit",
        action="store_true",
        help="leave the verified change uncommitted in the worktree",
    )
    run.add_argument(
        "--publish", choices=["draft"], help="push the branch and open a draft pull request with gh"
    )
    run.add_argument(
        "--auto-merge",
        action="store_true",
        help="with --publish: merge when checks pass (gh pr merge --auto)",
    )

    actions.add_parser("list", parents=[common], help="list missions, newest first").add_argument(
        "--limit", type=positive_int, default=50
    )
    for name, text in (
        ("show", "show a mission's state"),
        ("resume", "continue a mission from the phase it stopped in"),
        ("evidence", "list a mission's evidence files and check them"),
    ):
        actions.add_parser(name, parents=[common], help=text).add_argument(
            "id", help="mission id or unique prefix"
        )
    verify = actions.add_parser(
        "verify", parents=[common], help="re-check a mission in a fresh temporary worktree"
    )
    verify.add_argument("id", help="mission id or unique prefix")
    verify.add_argument(
        "--red",
        action="store_true",
        help="also re-prove RED: the verifier fails on the base commit",
    )


def _repo(args: argparse.Namespace) -> Path:
    from tau_engine.errors import UsageError
    from tau_engine.git import repo_root
    from tau_engine.paths import find_workspace

    named = args.repo
    given_before = getattr(args, "workspace", None)  # tau -w DIR mission ...
    if given_before is not None:
        if (
            named is not None
            and Path(named).expanduser().resolve() != Path(given_before).expanduser().resolve()
        ):
            raise UsageError(
                f"-w is given twice with different values ({given_before} "
                f"before 'mission', {named} after it)"
            )
        named = given_before
    start = Path(named).expanduser() if named else Path.cwd()
    if named and not start.is_dir():
        raise UsageError(f"--repo {named} is not a directory")
    root = repo_root(start)
    if root is not None:
        return root
    if args.action == "run":
        raise UsageError(f"{start} is not in a git repository")
    return find_workspace(start)


def run(args: argparse.Namespace) -> int:
    from tau_engine.missions.service import MissionContext

    if args.action == "run" and args.auto_merge and not args.publish:
        from tau_engine.errors import UsageError

        raise UsageError("--auto-merge needs --publish draft")
    repo = _repo(args)
    bus = None
    if args.action in ("run", "resume"):
        from tau_engine.events import EventBus
        from tau_tui.commands.mission_output import PhaseLines

        bus = EventBus()
        bus.subscribe(PhaseLines(sys.stderr))
    from tau_engine.paths import WorkspacePaths
    from tau_tui.store_option import selected_store_url

    store_url = selected_store_url(WorkspacePaths(repo.resolve()), args)
    context = MissionContext.open(repo, environ=dict(os.environ), bus=bus, store_url=store_url)
    try:
        return asyncio.run(_dispatch(context, args))
    finally:
        context.close()


async def _dispatch(context: Any, args: argparse.Namespace) -> int:
    from tau_tui.commands import mission_output as output

    if args.action == "run":
        state = await context.start(_request(args))
        return output.print_outcome(context, state, args.json)
    if args.action == "resume":
        state = await context.resume(args.id)
        return output.print_outcome(context, state, args.json)
    if args.action == "list":
        return output.print_list(await context.recent(args.limit), args.json)
    state, _revision = await context.load(args.id)
    if args.action == "show":
        return output.print_show(context, state, args.json)
    if args.action == "evidence":
        return output.print_evidence(context, state, args.json)
    if args.action == "verify":
        from tau_engine.missions.verify import verify_mission

        report = await verify_mission(
            state,
            context.evidence_dir(state.id),
            red=args.red,
            environ=context.environ,
            redact=context.redactor,
        )
        return output.print_verify(report, args.json)
    raise AssertionError(args.action)


def _request(args: argparse.Namespace) -> Any:
    from tau_engine.errors import UsageError
    from tau_engine.missions.intake import MissionRequest

    issue_text = None
    if args.issue == "-":
        issue_text = sys.stdin.read()
    elif args.issue:
        try:
            issue_text = Path(args.issue).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"cannot read --issue {args.issue}: {getattr(exc, 'strerror', None) or exc}"
            ) from exc
    return MissionRequest(
        repo=_repo(args),
        task=args.task,
        issue_file=args.issue,
        issue_text=issue_text,
        verifier=args.verifier,
        guard=args.guard,
        setup=args.setup,
        patch_file=args.patch,
        model=args.model,
        max_attempts=args.max_attempts,
        max_tokens=args.max_tokens,
        max_cost=args.max_cost,
        max_minutes=args.max_minutes,
        commit=not args.no_commit,
        profile=args.profile,
        red_runs=args.red_runs,
        verifier_timeout_s=args.verifier_timeout,
        publish=args.publish,
        auto_merge=args.auto_merge,
    )
