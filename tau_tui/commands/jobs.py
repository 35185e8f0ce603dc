"""``tau jobs``: durable background jobs: submit, run workers, and operate on them.

``submit`` queues a headless prompt (``-p``) or a mission (``--mission ARGS…``, the
arguments of ``tau mission run``); ``run`` is a worker; ``list``, ``show``,
``recover``, ``replay``, ``block``, ``cancel`` and ``prune`` are the operator's
verbs. Every action takes ``--json`` (one JSON document on stdout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tau_engine.protocol.approval import APPROVAL_MODES
from tau_tui.guard import positive_float, positive_int
from tau_tui.store_option import add_store_option

STATE_CHOICES = ["queued", "running", "recovering", "succeeded", "failed", "blocked", "cancelled"]


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "jobs",
        help="durable background jobs: submit, run, list, show, "
        "recover, replay, block, cancel, prune",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", "-w", metavar="DIR", help="workspace root")
    add_store_option(common)
    common.add_argument("--json", action="store_true", help="print one JSON document")
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, text: str) -> argparse.ArgumentParser:
        made: argparse.ArgumentParser = actions.add_parser(name, help=text, parents=[common])
        return made

    p = action("submit", "queue a headless prompt or a mission as a background job")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--prompt", "-p", metavar="PROMPT", help="the prompt ('-' reads it from stdin)"
    )
    what.add_argument(
        "--mission",
        nargs=argparse.REMAINDER,
        metavar="ARGS",
        help="the arguments of 'tau mission run' (everything after --mission "
        "but --json; give the job's options before it)",
    )
    p.add_argument("--model", "-m", metavar="PROVIDER/MODEL", help="model to use")
    p.add_argument("--base-url", metavar="URL", help="override the provider's API base URL")
    p.add_argument(
        "--approval",
        choices=APPROVAL_MODES,
        default="auto-edit",
        help="approval mode of the run (default auto-edit; nobody is asked)",
    )
    p.add_argument("--max-turns", type=positive_int, metavar="N")
    p.add_argument("--max-cost", type=positive_float, metavar="USD")
    p.add_argument("--max-tokens", type=positive_int, metavar="N")
    p.add_argument(
        "--script", metavar="FILE", help="assistant turns for offline/replay (copied into the job)"
    )
    p.add_argument(
        "--key",
        metavar="K",
        help="dedup key: while a job with this key is "
        "queued or running, submitting returns that job",
    )
    p.add_argument(
        "--priority", type=int, default=0, metavar="N", help="higher runs first (default 0)"
    )
    p.add_argument(
        "--max-attempts",
        type=positive_int,
        default=3,
        metavar="N",
        help="attempts, counting retries and recoveries (default 3)",
    )

    p = action("run", "be a worker: claim jobs and run them")
    p.add_argument("--once", action="store_true", help="run at most one job, then exit")
    p.add_argument(
        "--until-empty",
        action="store_true",
        help="exit when no job is waiting instead of waiting for more",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="jobs run at the same time (default 1)",
    )
    p.add_argument(
        "--lease",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="lease length in seconds (default 60)",
    )
    p.add_argument(
        "--heartbeat",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="heartbeat interval, at most a third of the lease (default 10)",
    )
    p.add_argument(
        "--cancel-grace",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="seconds a cancelled job has to stop before it is killed (10)",
    )
    p.add_argument(
        "--recover-every",
        type=positive_float,
        metavar="S",
        help="seconds between recovery passes (default: half the lease)",
    )

    p = action("list", "list jobs, newest first, with their operator state")
    p.add_argument(
        "--state",
        choices=STATE_CHOICES,
        action="append",
        help="only jobs in this state (repeatable)",
    )
    p.add_argument("--limit", type=positive_int, default=50)
    p.add_argument(
        "--stuck-after",
        type=positive_float,
        default=10.0,
        metavar="MIN",
        help="minutes without progress before a running job is stuck (10)",
    )
    p = action("show", "a job's record, attempts, log and transcript")
    p.add_argument("id", help="job id or unique prefix")
    p.add_argument("--stuck-after", type=positive_float, default=10.0, metavar="MIN")
    action("recover", "requeue jobs whose lease expired and whose worker is gone")
    p = action("replay", "queue a new job from a job's recorded inputs")
    p.add_argument("id", help="job id or unique prefix")
    p.add_argument(
        "--offline",
        action="store_true",
        help="play back the recorded provider exchanges (no network, no cost)",
    )
    p = action("block", "hold a queued job out of the queue")
    p.add_argument("id", help="job id or unique prefix")
    p.add_argument("--reason", required=True, metavar="TEXT", help="why (shown to others)")
    p = action("cancel", "cancel a job (a running one is stopped, then killed)")
    p.add_argument("id", help="job id or unique prefix")
    p = action("prune", "delete finished jobs (their sessions are kept)")
    p.add_argument(
        "--older-than",
        required=True,
        metavar="AGE",
        help="finished longer ago than this: 45s, 30m, 12h, 7d, 2w",
    )


def run(args: argparse.Namespace) -> int:
    from tau_engine.jobs.service import JobService
    from tau_engine.paths import WorkspacePaths
    from tau_tui.store_option import selected_store_url

    paths = WorkspacePaths.locate(args.workspace)
    service = JobService.open(paths, store_url=selected_store_url(paths, args))
    try:
        return asyncio.run(_dispatch(service, args))
    finally:
        service.close()


async def _dispatch(service: Any, args: argparse.Namespace) -> int:
    from tau_tui.commands import jobs_output as output

    action = args.action
    if action == "submit":
        if args.mission is not None:
            # --json and --debug after --mission are the submit's: a job's mission always
            # reports as JSON to its worker.
            for flag in ("--json", "--debug"):
                while flag in args.mission:
                    args.mission.remove(flag)
                    setattr(args, flag[2:], True)
            with _mission_inputs(args.mission) as inputs:
                result = await service.submit(
                    "mission",
                    inputs,
                    key=args.key,
                    priority=args.priority,
                    max_attempts=args.max_attempts,
                )
        else:
            result = await service.submit(
                "prompt",
                _prompt_inputs(args),
                key=args.key,
                priority=args.priority,
                max_attempts=args.max_attempts,
            )
        return output.print_submitted(service, result, args.json)
    if action == "run":
        return await _run_worker(service, args)
    stuck_after_s = getattr(args, "stuck_after", 10.0) * 60
    if action == "list":
        states = set(args.state) if args.state else None
        jobs = await service.list_jobs(states=_states(states), limit=args.limit)
        views = await service.views(jobs, stuck_after_s=stuck_after_s)
        return output.print_list(service, jobs, views, args.json)
    if action == "show":
        detail = await service.detail(args.id, stuck_after_s=stuck_after_s)
        return output.print_show(service, detail, args.json)
    if action == "recover":
        return output.print_recovery(await service.recover(), args.json)
    if action == "replay":
        result = await service.replay(args.id, offline=args.offline)
        return output.print_submitted(service, result, args.json)
    if action == "block":
        return output.print_changed(service, await service.block(args.id, args.reason), args.json)
    if action == "cancel":
        return output.print_changed(service, await service.cancel(args.id), args.json)
    if action == "prune":
        return output.print_pruned(await service.prune(args.older_than), args.json)
    raise AssertionError(action)


def _states(names: set[str] | None) -> Any:
    if names is None:
        return None
    from tau_engine.store.job_models import JobState

    return {JobState(name) for name in names}


def _prompt_inputs(args: argparse.Namespace) -> dict[str, Any]:
    from tau_engine.errors import UsageError

    prompt = args.prompt
    if prompt == "-":
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise UsageError("the prompt is empty")
    inputs: dict[str, Any] = {"prompt": prompt, "approval": args.approval}
    for name in ("model", "base_url", "max_turns", "max_cost", "max_tokens", "script"):
        value = getattr(args, name)
        if value is not None:
            inputs[name] = value
    return inputs


@contextlib.contextmanager
def _mission_inputs(mission_args: list[str]) -> Iterator[dict[str, Any]]:
    """The mission job's inputs, checked as ``tau mission run`` would check them; an
    ``--issue -`` is read from stdin now (the job copies it in)."""
    from tau_engine.errors import UsageError
    from tau_tui.commands import mission
    from tau_tui.guard import tau_parser_class

    if not mission_args:
        raise UsageError("--mission needs the arguments of 'tau mission run'")
    parser_class = tau_parser_class()
    parser = parser_class(prog="tau jobs submit --mission")
    mission.add_parser(parser.add_subparsers(dest="command", parser_class=parser_class))
    parser.parse_args(["mission", "run", *mission_args])
    args = list(mission_args)
    with tempfile.TemporaryDirectory() as tmp:
        for i, arg in enumerate(args[:-1]):
            if arg == "--issue" and args[i + 1] == "-":
                issue = Path(tmp) / "issue.md"
                issue.write_text(sys.stdin.read(), encoding="utf-8")
                args[i + 1] = str(issue)
        yield {"args": args}


async def _run_worker(service: Any, args: argparse.Namespace) -> int:
    from tau_engine.jobs.worker import WorkerConfig
    from tau_tui.commands import jobs_output as output

    recover_every = args.recover_every or max(args.lease / 2, args.heartbeat)
    config = WorkerConfig(
        slots=args.workers,
        lease_s=args.lease,
        heartbeat_s=args.heartbeat,
        cancel_grace_s=args.cancel_grace,
        recover_every_s=recover_every,
        once=args.once,
        until_empty=args.until_empty,
    )
    worker = service.worker(config, environ=os.environ, log=output.worker_log)
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            running = len(worker.leases)
            output.worker_log(
                f"draining: finishing {running} running job(s), claiming no "
                "more; signal again to stop them now"
            )
            worker.drain()
        else:
            output.worker_log("stopping the running jobs and handing them back to the queue")
            worker.stop_now()

    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal)
        except (NotImplementedError, RuntimeError):
            pass
    report = await worker.run()
    return output.print_worker_report(report, args.json)
