"""``tau onboard``: set tau up, in the wizard or (``--non-interactive``) from flags.

The wizard is a screen of the Textual app (``tau_tui/screens/onboarding/``);
``--non-interactive`` makes the same setup with no prompts, for scripts and CI.
Both are front ends over ``tau_engine.onboarding.plan``: every choice is
validated first, then everything is written, or nothing.

A key is never taken on the command line (it would sit in the shell history
and in ``ps``): ``--api-key-env VAR`` names the variable that holds it, and
``--api-key-stdin`` reads it from stdin into the credentials file.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

REFUSED_KEY = (
    "a key on the command line is refused: it would sit in your shell history "
    "and in ps. Use --api-key-env VAR (the variable that holds it) or pipe it in "
    "with --api-key-stdin"
)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "onboard",
        help="set up a provider, model, workspace and profile (the wizard)",
        description="Open the setup wizard (on a terminal), or with --non-interactive make "
        "the same setup from flags: .tau/ and its identity files in the workspace, and a "
        "profile (plus a typed key in credentials.toml, mode 0600) in the user config dir. "
        "Everything is validated first; then all of it is written, or nothing.",
    )
    parser.add_argument(
        "--non-interactive",
        action="store_true",
        help="no prompts: take every choice from the flags below",
    )
    parser.add_argument("--provider", metavar="P", help="provider (tau models lists them)")
    parser.add_argument(
        "--model",
        "-m",
        metavar="M",
        help="a model id within --provider (gpt-4.1-mini) or provider/model",
    )
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="read the key from this environment variable (nothing on disk)",
    )
    keys.add_argument(
        "--api-key-stdin",
        action="store_true",
        help="read the key from stdin and keep it in credentials.toml (0600)",
    )
    # Declared only to refuse it with a reason instead of "unrecognized argument".
    keys.add_argument("--api-key", metavar="KEY", help=argparse.SUPPRESS)
    parser.add_argument(
        "--workspace",
        "-w",
        metavar="DIR",
        help="workspace root (default: nearest folder with .tau/ or .git)",
    )
    parser.add_argument(
        "--safety",
        metavar="PROFILE",
        help="safety profile: permissive, balanced (default), strict, hardened",
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help="name of the profile to write and make active (default: default)",
    )
    parser.add_argument(
        "--verifier",
        metavar="CMD",
        help="record this test command in .tau/AGENTS.md ('auto' detects one)",
    )
    parser.add_argument(
        "--probe",
        action="store_true",
        help="probe the model (list models, one tool call) before writing; "
        "a failure writes nothing",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def run(args: argparse.Namespace) -> int:
    from tau_engine.errors import UsageError

    if args.api_key is not None:
        raise UsageError(REFUSED_KEY)
    if not args.non_interactive:
        return _run_wizard(args)
    return run_non_interactive(args)


def _read_key() -> str:
    """The key from stdin: a masked prompt on a terminal, else everything piped in."""
    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("API key (not echoed): ")
    return sys.stdin.read()


def run_non_interactive(args: argparse.Namespace) -> int:
    from tau_engine.config.profiles import DEFAULT_PROFILE_NAME, DEFAULT_SAFETY
    from tau_engine.errors import UsageError
    from tau_engine.onboarding.plan import KeyChoice, OnboardingPlan, planned_writes, write_plan
    from tau_engine.paths import WorkspacePaths
    from tau_engine.resources.project_verifier import detect_verifier

    if not args.provider:
        raise UsageError(
            "tau onboard --non-interactive needs --provider (tau models lists the providers)"
        )
    if not args.model:
        raise UsageError(
            f"tau onboard --non-interactive needs --model (tau models "
            f"--provider {args.provider} lists its models)"
        )
    provider = args.provider.strip().lower()
    if args.api_key_env is not None:
        key = KeyChoice("env", args.api_key_env)
    elif args.api_key_stdin:
        key = KeyChoice("typed", secret=_read_key())
    else:
        key = _implicit_key(provider)
    root = WorkspacePaths.locate(args.workspace).root
    verifier = args.verifier
    if verifier is not None and verifier.strip().lower() == "auto":
        verifier = detect_verifier(root)
        if verifier is None:
            sys.stderr.write(
                "tau: notice: no verifier detected (no pytest, npm test, go test "
                "...); none recorded\n"
            )
    plan = OnboardingPlan(
        workspace=root,
        provider=provider,
        model=args.model,
        key=key,
        safety=args.safety or DEFAULT_SAFETY,
        profile=args.profile or DEFAULT_PROFILE_NAME,
        verifier=verifier,
    )
    planned_writes(plan)  # every choice validated before anything else happens
    if args.probe and not _probe_passes(plan):
        return 1
    writes = write_plan(plan)
    print_summary(plan, writes, sys.stdout)
    return 0


def _implicit_key(provider: str) -> Any:
    """No key flag: the key already in the credentials file, or none for a provider that
    needs none (anything else is refused by the plan's validation)."""
    from tau_engine.config.credentials import CredentialsFile
    from tau_engine.onboarding.plan import KeyChoice
    from tau_engine.providers.specs import PROVIDERS

    spec = PROVIDERS.get(provider)
    if spec is not None and spec.needs_key and CredentialsFile().get(provider):
        return KeyChoice("stored")
    return KeyChoice("none")


def _probe_passes(plan: Any) -> bool:
    import asyncio
    import os

    from tau_engine.config import Settings
    from tau_engine.onboarding.plan import full_model_id, key_value
    from tau_engine.onboarding.probe import probe_model, resolve_choice

    settings = Settings()
    value, where = key_value(plan.key, plan.provider, os.environ)
    resolved = resolve_choice(
        plan.provider,
        full_model_id(plan.provider, plan.model),
        value,
        where,
        settings,
        os.environ,
        plan.workspace,
    )
    result = asyncio.run(probe_model(resolved, settings))
    for step in result.steps:
        line = f"probe: {step.name}: {step.status}: {step.message}"
        sys.stderr.write(f"tau: {line}{'; fix: ' + step.remedy if step.remedy else ''}\n")
    if not result.ok:
        sys.stderr.write("tau: error: the model probe failed; nothing was written\n")
    return result.ok


def print_summary(plan: Any, writes: list[Any], out: Any) -> None:
    """What was written, path by path with its mode, and the command that repeats it."""
    import os

    from tau_engine.onboarding.plan import equivalent_command

    for write in writes:
        path = f"{write.path}{'/' if write.is_dir else ''}"
        out.write(f"{write.action:<8} {write.mode_text():<5} {path}  ({write.what})\n")
    out.write(
        f"profile '{plan.profile}' is active; tau auth status shows the key, tau doctor "
        "checks the setup\n"
    )
    if plan.key.kind == "env" and not os.environ.get(plan.key.variable or ""):
        out.write(
            f"note: {plan.key.variable} is not set in this environment: set it before running tau\n"
        )
    out.write(f"to repeat this setup: {equivalent_command(plan)}\n")
    if plan.replace:
        out.write(
            f"(that command keeps existing identity files; replacing "
            f"{', '.join(sorted(plan.replace))} took the wizard's confirmed diff)\n"
        )


def _run_wizard(args: argparse.Namespace) -> int:
    from tau_engine.errors import UsageError

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "the setup wizard needs a terminal; in scripts use tau onboard "
            "--non-interactive --provider P --model M --api-key-env VAR"
        )
    from tau_tui.screens.onboarding.app import CANCELLED, EXIT_CANCELLED, run_onboarding_app
    from tau_tui.workspace_label import workspace_label

    outcome = run_onboarding_app(
        workspace=args.workspace, profile=args.profile, workspace_label=workspace_label
    )
    if outcome is None:
        sys.stderr.write(f"tau: {CANCELLED}\n")
        return EXIT_CANCELLED
    print_summary(outcome.plan, outcome.writes, sys.stdout)
    return 0
