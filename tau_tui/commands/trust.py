"""``tau trust [--revoke] [DIR]``: record whether tau may load a workspace's own settings.

A workspace's ``.tau/config.toml`` and ``.env`` can hold settings that decide
where API keys are sent, which secret is read, or how much tau may do unasked.
tau ignores those until the user trusts the workspace; this command records
that decision in the user config dir (the app asks once instead).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "trust",
        help="let tau load a workspace's own settings files (or --revoke it)",
        description="Trust the workspace around DIR (default: the current folder): tau then "
        "loads the settings of its .tau/config.toml and .env that could redirect your API "
        "keys or widen what tau may do. The decision is kept in the user config dir.",
    )
    parser.add_argument(
        "dir",
        nargs="?",
        metavar="DIR",
        help="a folder in the workspace (default: the current folder)",
    )
    parser.add_argument(
        "--revoke", action="store_true", help="no longer trust it: ignore those settings again"
    )
    parser.add_argument("--list", action="store_true", help="list the workspaces you decided about")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def run(args: argparse.Namespace) -> int:
    from tau_engine.errors import UsageError
    from tau_engine.resources.trust import TrustStore

    store = TrustStore()
    if args.list:
        if args.dir or args.revoke:
            raise UsageError("tau trust --list takes no DIR and no --revoke")
        decisions = store.decisions()
        if not decisions:
            sys.stdout.write("no workspace decided yet (tau trust DIR trusts one)\n")
        for path, trusted in sorted(decisions.items()):
            sys.stdout.write(f"{'trusted' if trusted else 'not trusted':<12} {path}\n")
        return 0
    root = _workspace_root(args.dir, getattr(args, "workspace", None))
    lines = _what_trust_enables(root)
    store.decide(root, not args.revoke)
    if args.revoke:
        sys.stdout.write(f"no longer trusted: {root}\n")
        if lines:
            sys.stdout.write("tau ignores from its files:\n" + "".join(lines))
        return 0
    sys.stdout.write(f"trusted: {root}\n")
    if lines:
        sys.stdout.write("tau now loads from its files:\n" + "".join(lines))
    else:
        sys.stdout.write(
            "nothing in its files needs trust today; settings added there later will load too\n"
        )
    return 0


def _workspace_root(folder: str | None, workspace: str | None = None) -> Path:
    """The workspace ``tau`` would use when run in ``folder``, or the one a global
    ``-w DIR`` names (``tau -w DIR trust``): never the current folder's instead."""
    from tau_engine.errors import UsageError
    from tau_engine.paths import WorkspacePaths, find_workspace

    start = Path(folder).expanduser() if folder else Path.cwd()
    if folder and not start.is_dir():
        raise UsageError(f"not a directory: {folder}")
    if workspace is None:
        return find_workspace(start)
    named = WorkspacePaths.locate(workspace).root
    if folder and find_workspace(start) != named:
        raise UsageError(f"{folder} is not in the workspace -w names ({named}); give one")
    return named


def _what_trust_enables(root: Path) -> list[str]:
    from tau_engine.config import load_settings
    from tau_engine.paths import WorkspacePaths
    from tau_engine.resources.trust import workspace_withheld

    paths = WorkspacePaths(root)
    items = workspace_withheld(paths, load_settings(paths, trusted=False))
    return [
        f"  {item.key} = {item.shown_value()}  ({item.source}: {item.reason})\n" for item in items
    ]
