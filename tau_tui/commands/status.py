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


def quick_args(argv: list[str]) -> Any:
    """The arguments of ``tau status ARGS`` when they are only ``--json``, ``--debug`` and
    ``-w DIR``: read without argparse (and the ``re``, ``gettext`` and ``shutil`` it loads,
    a third of this command's budget). Anything else returns None: argparse then reads it,
    with its help and its errors."""
    from types import SimpleNamespace

    args = SimpleNamespace(json=False, debug=False, workspace=None)
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
        else:
            return None
        index += 1
    return args


def run(args: argparse.Namespace) -> int:
    from tau_engine.status.snapshot import find_workspace, read_snapshot

    snapshot = read_snapshot(find_workspace(getattr(args, "workspace", None)))
    data = snapshot.to_json()
    if args.json:
        import json

        sys.stdout.write(json.dumps(data, ensure_ascii=True, sort_keys=True) + "\n")
    else:
        from tau_tui.plain.markers import marker_lines

        sys.stdout.write("\n".join(marker_lines(data)) + "\n")
    return EXIT_HEALTHY if snapshot.healthy else EXIT_ATTENTION
