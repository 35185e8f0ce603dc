"""``tau shell``: the operator screen; ``--no-color`` prints its panels once as plain text.

The screen (Textual) shows the snapshot's panels with a detail pane, drill-down and job
actions; ``--readonly`` hides the actions. ``tau shell --no-color --width N`` (or any run
whose stdout is not a terminal) prints the same panels once, no line wider than N columns,
and exits 0: for scripts, logs and screen readers.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

SNAPSHOT_ROWS = 20
"""Rows per panel (each recent list of the snapshot)."""


def add_width_options(parser: Any) -> None:
    parser.add_argument(
        "--no-color", action="store_true", help="print plain panels instead of opening the screen"
    )
    parser.add_argument(
        "--width",
        type=int,
        metavar="N",
        help="plain output: at most N columns a line (default: the terminal's, else 100)",
    )
    parser.add_argument(
        "--workspace",
        "-w",
        metavar="DIR",
        help="workspace root (default: nearest folder with .tau/ or .git)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    from tau_tui.store_option import add_store_option

    add_store_option(parser)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "shell",
        help="the operator screen: sessions, jobs, missions, memory, providers, audit",
        description="Open the operator screen of this workspace. With --no-color (or when "
        "stdout is not a terminal) print its panels once as plain text and exit 0.",
    )
    add_width_options(parser)
    parser.add_argument(
        "--readonly",
        action="store_true",
        help="hide the job actions (recover, replay, block, cancel)",
    )


def plain_width(args: argparse.Namespace) -> int:
    """The width asked for, else the terminal's, else 100; below the minimum is bad usage."""
    from tau_engine.errors import UsageError
    from tau_tui.plain.panels import MIN_WIDTH

    width = args.width
    if width is None:
        import shutil

        width = shutil.get_terminal_size((100, 24)).columns
    if width < MIN_WIDTH:
        raise UsageError(f"--width must be at least {MIN_WIDTH}")
    return int(width)


def wants_plain(args: argparse.Namespace) -> bool:
    """Plain text: asked for (``--no-color``, ``--width``, NO_COLOR) or no terminal."""
    from tau_tui.guard import stdio_is_terminal

    return bool(args.no_color) or args.width is not None or not stdio_is_terminal()


def run(args: argparse.Namespace) -> int:
    from tau_engine.status.snapshot import locate_workspace
    from tau_engine.status.store_choice import read_store_snapshot
    from tau_tui.commands.status import chosen_store_url

    root = locate_workspace(getattr(args, "workspace", None))
    url = chosen_store_url(str(root), args)
    if wants_plain(args):
        from tau_tui.plain.panels import render_plain

        width = plain_width(args)
        data = read_store_snapshot(root, url, limit=SNAPSHOT_ROWS).to_json()
        sys.stdout.write("\n".join(render_plain(data, width)) + "\n")
        return 0
    from tau_tui.operator_app import run_operator_app

    return run_operator_app(root, mode="shell", readonly=args.readonly, store_url=url)
