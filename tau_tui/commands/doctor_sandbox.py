"""``tau doctor sandbox``: what bubblewrap can do here, and the specific remedy for what not.

A section of ``tau doctor`` (``doctor.py``). It runs the same probe tau runs before the first
``bash`` call (user namespaces, a private ``/proc``, a network namespace with loopback, a
sandboxed command), prints one line per check with the remedy for each failure, then what the
active safety profile will do with that: run commands sandboxed, run them unsandboxed with a
notice (``best-effort``), or refuse them (``required``). Exit code 0 when bash runs sandboxed,
1 when it does not.
"""

from __future__ import annotations

import argparse
import json
import sys

from tau_tui.commands.safety_options import load_layer


def run(args: argparse.Namespace) -> int:
    from tau_engine.safety.sandbox import probe_sandbox

    _, layer = load_layer(args)
    probe = probe_sandbox()
    status = layer.sandbox.status_of(probe)
    profile = layer.profile
    policy = profile.document.sandbox.policy
    if status.active:
        verdict = f"bash runs sandboxed ({status.label()})"
    elif status.refuses:
        verdict = f"bash commands are refused: {status.refusal()}"
    else:
        verdict = "bash runs unsandboxed, with a notice"
    if getattr(args, "json", False):
        sys.stdout.write(
            json.dumps(
                {
                    "bwrap": probe.bwrap,
                    "usable": probe.usable,
                    "proc": probe.proc,
                    "network_isolation": probe.network_isolation,
                    "checks": [
                        {"name": c.name, "ok": c.ok, "detail": c.detail, "remedy": c.remedy}
                        for c in probe.checks
                    ],
                    "profile": profile.name,
                    "policy": policy,
                    "active": status.active,
                    "network": status.network,
                    "verdict": verdict,
                },
                indent=1,
            )
            + "\n"
        )
        return 0 if status.active else 1
    width = max(len(c.name) for c in probe.checks)
    for check in probe.checks:
        mark = "ok  " if check.ok else "FAIL"
        sys.stdout.write(f"{mark} {check.name:<{width}}  {check.detail}\n")
        if not check.ok and check.remedy:
            sys.stdout.write(f"     {'':<{width}}  remedy: {check.remedy}\n")
    sys.stdout.write(
        f"profile {profile.name} (sandbox.policy = {policy}, network "
        f"{'on' if profile.document.sandbox.network else 'off'}): {verdict}\n"
    )
    return 0 if status.active else 1
