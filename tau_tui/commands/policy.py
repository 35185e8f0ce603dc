"""``tau policy show [--json]``: the effective safety policy, with the source of every line.

It prints the active profile and where it was chosen (a flag, ``TAU_SAFETY``, a config file and
line, or the default), the approval mode, what the bash sandbox does on this machine, every value
of the profile with the file and line that set it, the safety settings of the config, and the
saved permission rules with where each is written and whether it applies.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tau_tui.commands.safety_options import add_safety_options, load_layer


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "policy",
        help="show the effective safety policy and where each line comes from",
        description="Show the safety policy a run in this workspace would apply: the profile "
        "(and what chose it), the approval mode, the sandbox, every profile value with its "
        "file and line, and the saved permission rules.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="print the effective policy")
    show.add_argument("--json", action="store_true", help="one JSON object")
    add_safety_options(show)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from tau_engine.safety.explain import effective_policy
    from tau_engine.text.terminal import strip_terminal_controls as plain

    settings, layer = load_layer(args)
    sandbox = asyncio.run(layer.sandbox_status())
    data = effective_policy(
        layer,
        sandbox=sandbox,
        settings={"protected_paths": settings.protected_paths, "http_allow": settings.http_allow},
    )
    if args.json:
        sys.stdout.write(json.dumps(data, indent=1, default=str) + "\n")
        return 0
    out: list[str] = [
        f"profile: {data['profile']} (from {data['profile_source']})"
        + ("" if data["builtin"] else " · your own profile"),
        f"  {data['description']}" if data["description"] else "",
        f"approval mode: {data['mode']}",
        f"sandbox: {data['sandbox']}"
        + (f" · {data['sandbox_diagnostic']}" if data["sandbox_diagnostic"] else ""),
        f"workspace: {data['workspace']} "
        f"({'trusted' if data['workspace_trusted'] else 'not trusted'})",
        "",
        f"[profile {data['profile']}]",
    ]
    width = max(len(_value_line(line)) for line in data["lines"])
    out += [f"{_value_line(line):<{width}}  # {line['source']}" for line in data["lines"]]
    out += ["", "[settings]"]
    out += [f"{key} = {value!r}" for key, value in data["settings"].items()]
    out += ["", "[rules]"]
    if not data["rules"]:
        out.append(
            f"none saved (user: {data['rule_files']['user']}; workspace: "
            f"{data['rule_files']['workspace']})"
        )
    for rule in data["rules"]:
        state = "" if rule["active"] else f"  (inactive: {rule['why_inactive']})"
        out.append(
            f"{rule['action']:<5} {rule['rule']:<40} # {rule['scope']} {rule['source']}{state}"
        )
    sys.stdout.write("".join(plain(line) + "\n" for line in out if line is not None))
    return 0


def _value_line(line: dict[str, Any]) -> str:
    return f"{line['key']} = {line['value']!r}"
