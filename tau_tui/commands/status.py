"""``tau status [--json]``: the operator snapshot of a workspace, for scripts and loops.

Prints one sorted ``control_plane.PATH=VALUE`` marker per field (``tau_tui.plain.markers``)
or, with ``--json``, the snapshot itself. Exit 0 when healthy, 1 when something needs
attention (the reasons are the ``control_plane.attention.N`` markers), 2 for bad usage.
Scripts run it in a loop, so it loads only the standard library and the snapshot reader.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

EXIT_HEALTHY, EXIT_ATTENTION = 0, 1


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "status",
        help="the operator snapshot: health, sessions, jobs, missions, memory",
        description="Print what tau is doing in this workspace as sorted grep-safe markers "
        "(control_plane.KEY=VALUE, 'none' for a missing value). Exit 0 when healthy, 1 when "
        "something needs attention (see the control_plane.attention markers).",
    )
    parser.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    parser.add_argument(
        "--workspace",
        "-w",
        metavar="DIR",
        help="workspace root (default: nearest folder with .tau/ or .git)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    from tau_tui.store_option import add_store_option

    add_store_option(parser)


def quick_args(argv: list[str]) -> Any:
    """The arguments of ``tau status ARGS`` when they are only ``--json``, ``--debug``,
    ``-w DIR`` and ``--store URL``: read without argparse (and the ``re``, ``gettext`` and
    ``shutil`` it loads, a third of this command's budget). Anything else returns None:
    argparse then reads it, with its help and its errors."""
    from types import SimpleNamespace

    args = SimpleNamespace(json=False, debug=False, workspace=None, store=None)
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg in ("--json", "--debug"):
            setattr(args, arg[2:], True)
        elif (
            arg in ("-w", "--workspace")
            and index + 1 < len(argv)
            and not argv[index + 1].startswith("-")
            and args.workspace is None
        ):
            args.workspace = argv[index + 1]
            index += 1
        elif (
            arg == "--store"
            and index + 1 < len(argv)
            and not argv[index + 1].startswith("-")
            and args.store is None
        ):
            args.store = argv[index + 1]
            index += 1
        else:
            return None
        index += 1
    return args


def chosen_store_url(root: str, args: Any) -> str | None:
    """The store ``tau status``/``shell``/``watch`` read (None: the workspace's SQLite
    file), chosen as every command chooses it (``store_option.selected_store_url``), after
    a cheap look says any place names one: with none, nothing more is loaded."""
    import os

    from tau_engine.status.store_choice import STORE_URL_ENV, is_postgresql, may_name_a_store

    flag = getattr(args, "store", None)
    if not may_name_a_store(root, flag):
        return None
    url: str | None = flag or os.environ.get(STORE_URL_ENV, "").strip()
    if not url:
        # Only a config file names a store: the settings decide, with the trust rules (a
        # tenth of a second of pydantic). --store and TAU_STORE_URL come before every
        # config file, so above they give the same answer without loading any of it.
        from pathlib import Path

        from tau_engine.paths import WorkspacePaths
        from tau_tui.store_option import selected_store_url

        url = selected_store_url(WorkspacePaths(Path(root)), args)
    if url is not None and not is_postgresql(url):
        # Rarely anything but "sqlite": the store package (its pydantic models, a tenth
        # of a second) is loaded only to say, in its words, what is wrong with a URL.
        from tau_engine.store.factory import backend_name

        backend_name(url)  # an unknown scheme or a sqlite path: one line, exit 2
        return None
    return url


def run(args: argparse.Namespace) -> int:
    from tau_engine.status.snapshot import find_workspace
    from tau_engine.status.store_choice import read_store_snapshot

    root = find_workspace(getattr(args, "workspace", None))
    snapshot = read_store_snapshot(root, chosen_store_url(root, args))
    data = snapshot.to_json()
    if args.json:
        import json

        sys.stdout.write(json.dumps(data, ensure_ascii=True, sort_keys=True) + "\n")
    else:
        from tau_tui.plain.markers import marker_lines

        sys.stdout.write("\n".join(marker_lines(data)) + "\n")
    return EXIT_HEALTHY if snapshot.healthy else EXIT_ATTENTION
