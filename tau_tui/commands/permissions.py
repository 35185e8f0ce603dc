"""``tau permissions list|allow|deny|revoke|check``: the saved permission rules, and a dry run.

Rules are ``TOOL`` or ``TOOL(PATTERN)``: ``bash(npm test *)``, ``write(src/**)``,
``http(https://api.github.com/**)``. ``allow``, ``deny`` and ``revoke`` edit the workspace's
``.tau/permissions.toml`` (``--user``: your own file in the user config dir); an untrusted
workspace's allow rules are kept but apply only once you trust it. ``check TOOL ARGS`` shows
the decision a call would get, with the full trace, without running anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Literal

from tau_tui.commands.safety_options import add_safety_options, load_layer


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "permissions",
        help="list, allow, deny, revoke or check permission rules",
        description="Saved permission rules (.tau/permissions.toml, or yours with --user) and "
        "a dry run of the decision on one call.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every saved rule, where it is, if it applies")
    listing.add_argument("--json", action="store_true", help="one JSON array")
    add_safety_options(listing)
    for action, text in (
        ("allow", "save a rule that allows calls it matches"),
        ("deny", "save a rule that refuses calls it matches"),
        ("revoke", "remove a saved rule"),
    ):
        edit = actions.add_parser(action, help=text)
        edit.add_argument(
            "rule", metavar="RULE", help="TOOL or TOOL(PATTERN), e.g. 'bash(npm test *)'"
        )
        edit.add_argument(
            "--user",
            action="store_true",
            help="your own rules file (every workspace), not the workspace's",
        )
        if action != "revoke":
            edit.add_argument("--note", help="why, kept with the rule")
        add_safety_options(edit)
    check = actions.add_parser("check", help="the decision on one call, with its trace")
    check.add_argument("tool", metavar="TOOL", help="bash, read, write, edit, http, ...")
    check.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        metavar="ARGS",
        help="the command (bash), the paths (file tools) or the URL (http)",
    )
    check.add_argument("--method", default="GET", help="the http method (default GET)")
    check.add_argument("--json", action="store_true", help="the trace as JSON")
    add_safety_options(check)


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list(args)
    if args.action == "check":
        return _check(args)
    return _edit(args)


def _list(args: argparse.Namespace) -> int:
    from tau_engine.safety.explain import listed_rules
    from tau_engine.text.terminal import strip_terminal_controls as plain

    _, layer = load_layer(args)
    rules = listed_rules(layer)
    if args.json:
        sys.stdout.write(json.dumps([r.to_dict() for r in rules], indent=1) + "\n")
        return 0
    if not rules:
        files = layer.rule_files()
        sys.stdout.write(
            f"no saved rules (user: {files['user']}; workspace: {files['workspace']})\n"
        )
    for item in rules:
        rule = item.rule
        state = "" if item.active else f"  (inactive: {item.note})"
        by = f" by {rule.by}" if rule.by else ""
        when = f" {rule.when}" if rule.when else ""
        sys.stdout.write(
            plain(
                f"{rule.action:<5} {rule.text:<40} {rule.scope:<9} {rule.source}{by}{when}{state}"
            )
            + "\n"
        )
    return 0


def _edit(args: argparse.Namespace) -> int:
    from tau_engine.errors import UsageError
    from tau_engine.safety.permission_store import revoke_rule, save_rule
    from tau_engine.safety.rules import RuleSyntaxError, parse_rule_text

    _, layer = load_layer(args)
    scope: Literal["user", "workspace"] = "user" if args.user else "workspace"
    path = layer.rule_files()[scope]
    try:
        parse_rule_text(args.rule)
    except RuleSyntaxError as exc:
        raise UsageError(str(exc)) from None
    if args.action == "revoke":
        if not revoke_rule(path, scope, args.rule):
            raise UsageError(f"no rule {args.rule} in {path}")
        sys.stdout.write(f"revoked {args.rule} from {path}\n")
        return 0
    saved = save_rule(path, scope, args.rule, args.action, by="tau permissions", note=args.note)
    sys.stdout.write(f"saved: {saved.action} {saved.text} in {saved.source}\n")
    if scope == "workspace" and args.action == "allow" and not layer.workspace_trusted:
        sys.stdout.write(
            "note: this workspace is not trusted, so its allow rules apply only "
            "once you trust it (tau trust); deny rules apply now\n"
        )
    return 0


def _check(args: argparse.Namespace) -> int:
    import asyncio

    from tau_engine.safety.explain import check_call, describe_decision
    from tau_engine.text.terminal import strip_terminal_controls as plain

    _, layer = load_layer(args)
    sandbox = asyncio.run(layer.sandbox_status()) if args.tool == "bash" else None
    decision = check_call(layer, args.tool, list(args.args), method=args.method, sandbox=sandbox)
    if args.json:
        sys.stdout.write(json.dumps(decision.to_dict(), indent=1) + "\n")
    else:
        sys.stdout.write("".join(plain(line) + "\n" for line in describe_decision(decision)))
    return 0
