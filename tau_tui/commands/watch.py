"""``tau watch``: the operator panels, read-only, refreshed as state under ``.tau/`` changes.

Another tau process (a worker, a mission in another terminal) may be the writer: each tick
(``--interval-ms``, default 1000) checks the store (SQLite's ``PRAGMA data_version``; a
PostgreSQL store's change notifications) and the logs' mtimes, and re-reads only when
something changed (or a running job's lease may have aged). The store is chosen as
``tau status`` chooses it (``--store``, ``TAU_STORE_URL``, the config).

* ``--no-color --iterations N`` prints N plain frames, each after ``--- watch frame K/N ---``;
* ``--json`` streams one JSON object per line with ``kubectl get --watch`` semantics:
  ``ADDED`` for every session, job and mission first, then ``MODIFIED``/``DELETED``
  (``{"type", "kind", "id", "object"}``); ``--iterations`` bounds the ticks;
* otherwise, on a terminal, the Textual watch screen (read-only).
"""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from pathlib import Path
    from typing import Any


def add_parser(sub: Any) -> None:
    from tau_tui.commands.shell import add_width_options

    parser = sub.add_parser(
        "watch",
        help="live operator panels, refreshed when .tau/ changes (--json: a stream)",
        description="Watch this workspace's sessions, jobs and missions as they change, also "
        "when another tau process writes them.",
    )
    add_width_options(parser)
    parser.add_argument(
        "--interval-ms",
        type=int,
        default=1000,
        metavar="MS",
        help="how often to check for changes (default 1000)",
    )
    parser.add_argument(
        "--iterations", type=int, metavar="N", help="stop after N ticks (plain: N frames)"
    )
    parser.add_argument(
        "--json", action="store_true", help="stream ADDED/MODIFIED/DELETED events as JSON lines"
    )


def run(args: argparse.Namespace) -> int:
    from tau_engine.errors import UsageError
    from tau_engine.status.snapshot import locate_workspace

    if args.interval_ms < 10:
        raise UsageError("--interval-ms must be at least 10")
    if args.iterations is not None and args.iterations < 1:
        raise UsageError("--iterations must be at least 1")
    from tau_tui.commands.status import chosen_store_url

    root = locate_workspace(getattr(args, "workspace", None))
    url = chosen_store_url(str(root), args)
    if args.json:
        return watch_json(root, args.interval_ms / 1000, args.iterations, url)
    from tau_tui.commands.shell import plain_width, wants_plain

    if wants_plain(args) or args.iterations is not None:
        return watch_plain(root, plain_width(args), args.interval_ms / 1000, args.iterations, url)
    from tau_tui.operator_app import run_operator_app

    return run_operator_app(
        root, mode="watch", readonly=True, interval_s=args.interval_ms / 1000, store_url=url
    )


def _ticks(interval_s: float, iterations: int | None) -> Any:
    tick = 0
    while iterations is None or tick < iterations:
        if tick:
            time.sleep(interval_s)
        tick += 1
        yield tick


def watch_plain(
    root: Path, width: int, interval_s: float, iterations: int | None, url: str | None = None
) -> int:
    """Print ``iterations`` frames of the plain panels (without a count: until stopped)."""
    from tau_engine.status.objects import ages_alone
    from tau_engine.status.store_choice import store_watcher
    from tau_tui.commands.shell import SNAPSHOT_ROWS
    from tau_tui.plain.panels import render_plain

    watcher = store_watcher(root, url)
    frame: list[str] = []
    running = False
    try:
        for tick in _ticks(interval_s, iterations):
            # A lease can go stale, a breaker's cool-down end, with no write: re-read then.
            if watcher.changed() or running:
                data = watcher.snapshot(limit=SNAPSHOT_ROWS).to_json()
                running = ages_alone(data)
                frame = render_plain(data, width)
            count = f"{tick}/{iterations}" if iterations is not None else str(tick)
            sys.stdout.write(f"--- watch frame {count} ---\n" + "\n".join(frame) + "\n")
            sys.stdout.flush()
    finally:
        watcher.close()
    return 0


def watch_json(
    root: Path, interval_s: float, iterations: int | None, url: str | None = None
) -> int:
    """Stream watch events until interrupted (or for ``iterations`` ticks)."""
    import json

    from tau_engine.status.objects import diff_objects
    from tau_engine.status.store_choice import store_watcher

    watcher = store_watcher(root, url)
    seen: dict[Any, Any] = {}
    try:
        for _tick in _ticks(interval_s, iterations):
            running = any(
                key[0] == "job" and value.get("state") == "running" for key, value in seen.items()
            )
            if not (watcher.changed() or running):
                continue
            current = watcher.objects(time.time())
            if current is None:
                continue
            for event in diff_objects(seen, current):
                sys.stdout.write(json.dumps(event, ensure_ascii=True, sort_keys=True) + "\n")
            sys.stdout.flush()
            seen = current
    finally:
        watcher.close()
    return 0
