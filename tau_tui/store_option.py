"""``--store URL``: which store a command that opens one uses, chosen once, the same way
for every command.

``--store`` beats ``TAU_STORE_URL``, which beats a trusted workspace's ``.env`` and
``.tau/config.toml``, which beat ``[store] url`` in the user's ``config.toml``; with none,
the workspace's SQLite file. A workspace file's store is ignored until the workspace is
trusted, and then said in the one-line trust notice every run prints. The URL is never
printed: it may carry a password.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # start-up time: ``typing`` is not needed at run time
if TYPE_CHECKING:
    import argparse

    from tau_engine.paths import WorkspacePaths

STORE_KEYS = ("store.url", "TAU_STORE_URL")
"""The names of a withheld store setting: in ``.tau/config.toml`` and in ``.env``."""


def add_store_option(parser: argparse.ArgumentParser) -> None:
    """``--store URL`` on ``parser`` (the run's and every store command's)."""
    parser.add_argument(
        "--store",
        metavar="URL",
        help="where tau keeps its state: 'sqlite' (the workspace's .tau/tau.db, the "
        "default) or postgresql://... (also TAU_STORE_URL, or [store] url in your config.toml)",
    )


def store_settings(flag: str | None) -> dict[str, object]:
    """The command-line layer of the settings for ``--store`` (empty without it)."""
    return {"store": {"url": flag}} if flag else {}


def selected_store_url(paths: WorkspacePaths, args: argparse.Namespace) -> str | None:
    """The URL of the store this command opens (None: the workspace's SQLite file); a
    workspace store setting ignored for want of trust is said in one line on stderr."""
    from tau_engine.resources.trust import (
        load_run_settings,
        withheld_notice,
        workspace_withheld,
    )

    settings = load_run_settings(
        paths,
        store_settings(getattr(args, "store", None)),
        default_approval="auto-edit",
        require_setup=False,
    )
    ignored = [item for item in workspace_withheld(paths, settings) if item.key in STORE_KEYS]
    if ignored:
        sys.stderr.write(f"tau: trust: {withheld_notice(ignored)}\n")
    return settings.store.url
