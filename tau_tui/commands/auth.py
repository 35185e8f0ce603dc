"""``tau auth status``: each provider's key, where it comes from, and which one wins.

Sources, winner first: your environment, your credentials file, the workspace
``.env``. Keys are masked (``…wXyZ``). Exit 1 when nothing usable is found.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("auth", help="show where each provider's key comes from")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser(
        "status",
        help="each provider's key, its source and which one wins",
        description="For each provider: the keys found (environment, credentials file, "
        "workspace .env), masked, the one used first. Exit 1 when nothing usable is found.",
    )
    p.add_argument("--workspace", "-w", metavar="DIR", help="workspace root")
    p.add_argument("--profile", metavar="NAME", help="read the keys as this profile would")
    p.add_argument("--json", action="store_true", help="one JSON line")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def run(args: argparse.Namespace) -> int:
    from tau_engine.config import load_settings
    from tau_engine.onboarding.key_report import key_report
    from tau_engine.paths import WorkspacePaths
    from tau_engine.resources.trust import TrustStore

    paths = WorkspacePaths.locate(args.workspace)
    trusted = TrustStore().decision(paths.root) is True
    settings = load_settings(paths, {"profile": args.profile}, trusted=trusted)
    report = key_report(paths, settings)
    if args.json:
        sys.stdout.write(json.dumps(_as_json(report)) + "\n")
    else:
        _print(report)
    return 0 if report.usable else 1


def _as_json(report: Any) -> dict[str, Any]:
    return {
        "usable": report.usable,
        "model": report.model,
        "providers": [
            {
                "provider": p.provider,
                "needs_key": p.needs_key,
                "usable": p.usable,
                "keys": [
                    {"source": c.source, "name": c.name, "masked": c.masked, "used": i == 0}
                    for i, c in enumerate(p.candidates)
                ],
            }
            for p in report.providers
        ],
    }


def _print(report: Any) -> None:
    out = sys.stdout
    out.write(
        "sources, first wins: environment > credentials file > workspace .env "
        "(no key flag; no OS keyring)\n"
    )
    for entry in report.providers:
        if not entry.candidates:
            out.write(f"{entry.provider:<11} {'-':<6} {entry.hint}\n")
            continue
        found = "; ".join(
            f"{c.label} {c.masked} ({'used' if i == 0 else 'not used'})"
            for i, c in enumerate(entry.candidates)
        )
        out.write(f"{entry.provider:<11} {entry.winner.masked:<6} {found}\n")
    if report.model:
        used = next(
            (
                p.winner
                for p in report.providers
                if p.provider == report.model_provider and p.winner
            ),
            None,
        )
        out.write(f"model: {report.model}{f' (key from {used.label})' if used else ''}\n")
    if not report.usable:
        sys.stderr.write(
            "tau: no usable key: run tau onboard, or set a provider's key "
            "(ANTHROPIC_API_KEY, OPENAI_API_KEY, ...)\n"
        )
