"""What the safety subcommands share: their options and the safety layer they read.

``tau policy``, ``tau permissions`` and ``tau doctor sandbox`` load the workspace's settings the
way a headless run does (the workspace's own files count only when it is trusted, or with
``--trust``), so what they print is what a run would do.
"""

from __future__ import annotations

import argparse
from typing import Any

APPROVAL_CHOICES = ["read-only", "ask", "auto-edit", "full-auto"]


def add_safety_options(parser: argparse.ArgumentParser) -> None:
    """``--workspace``, ``--profile``, ``--safety``, ``--approval``, ``--trust`` and
    ``--debug``."""
    parser.add_argument(
        "--workspace",
        "-w",
        metavar="DIR",
        help="workspace root (default: nearest folder with .tau/ or .git)",
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help="as with this profile (tau profile list; default: the active one)",
    )
    parser.add_argument(
        "--safety",
        metavar="PROFILE",
        help="safety profile to show (default: the one a run would use)",
    )
    parser.add_argument(
        "--approval",
        choices=APPROVAL_CHOICES,
        help="approval mode to judge with (default: the configured one, else ask)",
    )
    parser.add_argument(
        "--trust", action="store_true", help="as if the workspace were trusted (see tau trust)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def load_layer(args: argparse.Namespace) -> tuple[Any, Any]:
    """The run settings and a safety layer for them (no audit log: nothing runs)."""
    import os

    from tau_engine.errors import UsageError
    from tau_engine.paths import WorkspacePaths
    from tau_engine.resources.trust import load_run_settings
    from tau_engine.safety.layer import SafetyLayer
    from tau_engine.safety.policy import ApprovalMode

    paths = WorkspacePaths.locate(getattr(args, "workspace", None))
    cli = {
        "profile": getattr(args, "profile", None),
        "safety": getattr(args, "safety", None),
        "approval": getattr(args, "approval", None),
    }
    # They need no model: a machine with nothing set up still has a policy to show.
    settings = load_run_settings(
        paths, cli, default_approval="ask", grant=getattr(args, "trust", False), require_setup=False
    )
    try:
        mode = ApprovalMode(settings.approval or "ask")
    except ValueError:
        raise UsageError(f"unknown approval mode '{settings.approval}'") from None
    layer = SafetyLayer.for_settings(
        paths, settings, mode=mode, environ=dict(os.environ), audit=False
    )
    return settings, layer
