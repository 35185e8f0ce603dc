"""``tau doctor [sandbox]``: check the setup, one line per check with what to do; exit 1 if
any check fails.

``tau doctor`` checks the settings files, the credentials, the model (a probe: list models and
one tool call), the sandbox (bwrap, weighed by the safety profile), git, and the workspace's
``.tau/`` (writable, store healthy). ``tau doctor sandbox`` is the sandbox section in detail
(``doctor_sandbox.py``): every probe of what bubblewrap can do on this machine with the remedy
for each failure, and what the active safety profile does with that.

The section is a positional choice, not an argparse subcommand, so the options before and
after it are one set (argparse lets a subcommand's defaults overwrite the options given before
its name).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

SECTIONS = ("sandbox",)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "doctor",
        help="check the setup: config, key, model, sandbox, git, .tau/",
        description="One line per check, with what to do when it fails. Exit 1 when any "
        "check fails (a warning does not). 'tau doctor sandbox': what the bash sandbox can "
        "do on this machine, each probe with its remedy (exit 1 when bash would not run "
        "sandboxed).",
    )
    parser.add_argument(
        "section",
        nargs="?",
        choices=SECTIONS,
        metavar="sandbox",
        help="only this section, in detail",
    )
    parser.add_argument("--workspace", "-w", metavar="DIR", help="workspace root")
    parser.add_argument("--profile", metavar="NAME", help="check this profile's setup")
    parser.add_argument("--model", "-m", metavar="PROVIDER/MODEL", help="check this model")
    parser.add_argument(
        "--safety",
        metavar="PROFILE",
        help="safety profile to check the sandbox for (default: the one a run would use)",
    )
    parser.add_argument(
        "--no-probe", action="store_true", help="do not contact the provider (no model check)"
    )
    parser.add_argument(
        "--no-tool-call", action="store_true", help="probe the model list only, not one tool call"
    )
    parser.add_argument(
        "--trust",
        action="store_true",
        help="check as if the workspace were trusted (see tau trust)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON line")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def run(args: argparse.Namespace) -> int:
    if args.section == "sandbox":
        from tau_tui.commands import doctor_sandbox

        return doctor_sandbox.run(args)
    import asyncio

    from tau_engine.onboarding.doctor import run_doctor
    from tau_engine.paths import WorkspacePaths
    from tau_engine.resources.trust import TrustStore

    paths = WorkspacePaths.locate(args.workspace)
    trusted = args.trust or TrustStore().decision(paths.root) is True
    cli: dict[str, Any] = {"profile": args.profile, "model": args.model, "safety": args.safety}
    checks = asyncio.run(
        run_doctor(
            paths, cli, probe=not args.no_probe, tool_call=not args.no_tool_call, trusted=trusted
        )
    )
    failed = any(check.status == "fail" for check in checks)
    if args.json:
        sys.stdout.write(
            json.dumps(
                {
                    "ok": not failed,
                    "checks": [
                        {
                            "name": c.name,
                            "status": c.status,
                            "message": c.message,
                            "remedy": c.remedy,
                        }
                        for c in checks
                    ],
                }
            )
            + "\n"
        )
    else:
        for check in checks:
            sys.stdout.write(check.line() + "\n")
    return 1 if failed else 0
