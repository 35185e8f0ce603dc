"""``tau store migrate --to postgresql://…``: copy a workspace's SQLite store into a
PostgreSQL database (``tau_engine.store.migration``).

The URL may carry a password: it is never printed. Output names the database by name,
host and port.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "store",
        help="move a workspace's store: migrate --to postgresql://…",
        description="Work on the workspace's whole store (sessions, events, missions, "
        "memory, jobs).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    migrate = actions.add_parser(
        "migrate",
        help="copy the workspace's SQLite store (.tau/tau.db) into a PostgreSQL database",
        description="Copy the workspace's SQLite store (.tau/tau.db: sessions with their "
        "events and checkpoints, missions, memory, jobs) into a PostgreSQL database, in "
        "one transaction, with the same ids. Stop tau in the workspace first. A database "
        "that already holds this workspace's records is refused and nothing is copied. "
        "The workspace's own store is left as it was.",
    )
    migrate.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="the target database: postgresql://USER@HOST:PORT/DBNAME (never printed)",
    )
    migrate.add_argument("--workspace", "-w", metavar="DIR", help="workspace root")
    migrate.add_argument("--json", action="store_true", help="print one JSON document")
    migrate.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def run(args: argparse.Namespace) -> int:
    from tau_engine.paths import WorkspacePaths
    from tau_engine.store.migration import migrate_store

    paths = WorkspacePaths.locate(args.workspace)
    report = migrate_store(paths, args.to)
    if args.json:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
    else:
        sys.stdout.write(report.summary() + "\n")
    return 0
