"""The ``tau`` command line.

``tau`` opens the Textual app (``tau "fix the tests"`` opens it with that first
message); ``tau -p PROMPT`` runs headless; ``echo ... | tau`` runs a scripted
session, one prompt per line; subcommands (``tau sessions``, ``tau models``)
manage state. This module imports only the standard library, and only what a
command needs: ``tau --version`` is answered before argparse loads, and
Textual, httpx and pydantic load only for a command that uses them.

Exit codes: 0 done, 1 the run failed, 2 bad usage or input, 130 interrupted,
141 the reader of stdout went away.
"""

from __future__ import annotations

import os
import sys

from tau_engine import __version__
from tau_tui.guard import (
    EXIT_BROKEN_PIPE,
    EXIT_OK,
    EXIT_USAGE,
    run_guarded,
    silence_stdout,
    stdio_is_terminal,
    tau_parser_class,
)

# ``typing`` alone costs more than a millisecond: the type-only names below are read by
# type checkers only (mypy treats a module-level ``TYPE_CHECKING`` like typing's).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

OUTPUT_FORMATS = ["text", "json", "stream-json"]

# Subcommand modules, imported only when named on the command line.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "sessions": (
        "tau_tui.commands.sessions",
        "list, show, export, import, undo, fork, delete or recover sessions",
    ),
    "models": ("tau_tui.commands.models", "list the model catalog"),
    "trust": ("tau_tui.commands.trust", "let tau load a workspace's own settings files"),
    "mission": (
        "tau_tui.commands.mission",
        "run a coding mission: task + verifier -> verified commit with evidence",
    ),
    "memory": ("tau_tui.commands.memory", "search, add, correct or retire learned memory"),
    "jobs": (
        "tau_tui.commands.jobs",
        "durable background jobs: submit, run, list, show, recover, replay, block, cancel, prune",
    ),
    "onboard": ("tau_tui.commands.onboard", "set up a provider, model and workspace (wizard)"),
    "profile": ("tau_tui.commands.profile", "list, show or choose your profiles"),
    "auth": ("tau_tui.commands.auth", "show where each provider's key comes from"),
    "doctor": (
        "tau_tui.commands.doctor",
        "check the setup: config, key, model, sandbox (doctor sandbox: the bash sandbox in detail)",
    ),
    "policy": ("tau_tui.commands.policy", "show the effective safety policy and its sources"),
    "permissions": (
        "tau_tui.commands.permissions",
        "list, allow, deny, revoke or check permission rules",
    ),
    "status": (
        "tau_tui.commands.status",
        "what tau is doing here: grep-safe markers or --json (exit 1: needs attention)",
    ),
    "shell": ("tau_tui.commands.shell", "the operator screen (--no-color: plain panels)"),
    "watch": (
        "tau_tui.commands.watch",
        "live operator panels as .tau/ changes (--json: a kubectl-style event stream)",
    ),
    "store": ("tau_tui.commands.store", "copy the workspace's store: migrate --to postgresql://…"),
}
# Options of the top-level parser that every subcommand honours when given before its
# name (``tau -w DIR sessions delete ID``), whether or not it declares them itself.
GLOBAL_OPTIONS = ("workspace", "store", "debug", "no_color")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by the app and headless runs."""
    # Imported here, not at the top: ``tau --version`` is answered before any of this.
    from tau_engine.protocol.approval import APPROVAL_MODES
    from tau_tui.store_option import add_store_option

    parser.add_argument(
        "--model",
        "-m",
        metavar="PROVIDER/MODEL",
        help="model to use, e.g. anthropic/claude-sonnet-4-5 or offline/echo",
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help="use this profile (tau profile list; default: the active one)",
    )
    parser.add_argument("--base-url", metavar="URL", help="override the provider's API base URL")
    parser.add_argument(
        "--workspace",
        "-w",
        metavar="DIR",
        help="workspace root (default: nearest folder with .tau/ or .git)",
    )
    add_store_option(parser)
    parser.add_argument(
        "--approval",
        choices=APPROVAL_MODES,
        help="approval mode (headless default auto-edit, app default ask)",
    )
    parser.add_argument(
        "--safety",
        metavar="PROFILE",
        help="safety profile: permissive, balanced (default), strict, "
        "hardened, or one of yours (see tau policy show)",
    )
    parser.add_argument(
        "--max-turns", type=int, metavar="N", help="stop after N model turns (default 25)"
    )
    parser.add_argument(
        "--max-cost", type=float, metavar="USD", help="stop cleanly once the run has cost this much"
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        metavar="N",
        help="stop cleanly once the run has used this many tokens",
    )
    parser.add_argument(
        "--continue",
        "-c",
        dest="continue_latest",
        action="store_true",
        help="continue the latest session of this workspace",
    )
    parser.add_argument("--resume", "-r", metavar="ID", help="resume a session by id or prefix")
    parser.add_argument(
        "--script", metavar="FILE", help="assistant turns for the offline/replay model"
    )
    parser.add_argument(
        "--trust",
        action="store_true",
        help="trust this workspace's own settings files for this run (see tau trust)",
    )
    parser.add_argument(
        "--record", metavar="FILE", help="record every model exchange as an offline/replay script"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def build_parser(subcommand: str | None = None) -> argparse.ArgumentParser:
    """The parser of a run (an optional positional PROMPT) or, with ``subcommand``, of
    that subcommand, whose module declares its own arguments."""
    import argparse

    commands = "\n".join(f"  {name:<10} {text}" for name, (_, text) in SUBCOMMANDS.items())
    parser = tau_parser_class()(
        prog="tau",
        usage="tau [options] [PROMPT]\n       tau [options] COMMAND ...",
        description="tau: a terminal-first AI coding agent. Run it in a repository.",
        epilog=f"commands (tau COMMAND --help):\n{commands}\n\n"
        "Run 'tau' to open the app, 'tau PROMPT' to open it with a first message,\n"
        "'tau -p PROMPT' to run headless, 'echo PROMPT | tau' for a scripted session.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", "-V", action="version", version=f"tau {__version__}")
    parser.add_argument(
        "--prompt",
        "-p",
        metavar="PROMPT",
        nargs="?",
        const="-",
        help="run headless with this prompt (without one, or with '-', the "
        "prompt is read from stdin)",
    )
    parser.add_argument(
        "--output-format",
        choices=OUTPUT_FORMATS,
        default="text",
        help="headless output: text (default), json or stream-json",
    )
    parser.add_argument(
        "--no-color",
        action="store_true",
        help="plain output, no colours (also when NO_COLOR is set)",
    )
    parser.add_argument(
        "--line", action="store_true", help="line-mode REPL instead of the full-screen app"
    )
    add_run_options(parser)
    if subcommand is None:
        # No subparsers here: argparse would hand a PROMPT to them as a command name.
        parser.add_argument(
            "text", nargs="?", metavar="PROMPT", help="open the app with this first message"
        )
    else:
        # prog="tau": a subcommand's usage reads "tau mission run ...", not the run's usage.
        sub = parser.add_subparsers(
            dest="command", metavar="COMMAND", prog="tau", parser_class=type(parser)
        )
        _load(SUBCOMMANDS[subcommand][0]).add_parser(sub)
    return parser


def _load(module: str) -> Any:
    import importlib

    return importlib.import_module(module)


def first_positional(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int | None:
    """The index in ``argv`` of the first argument that is neither an option nor an
    option's value (a subcommand's name or the PROMPT), or None; read the way argparse
    reads them. After ``--`` the next argument is positional (``tau -- models`` is a
    prompt)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return i + 1 if i + 1 < len(argv) else None
        if not arg.startswith("-") or arg == "-":
            return i
        action = _option_action(parser, arg)
        attached = "=" in arg if arg.startswith("--") else len(arg) > 2  # --w=D, -wD
        if action is not None and action.nargs != 0 and not attached and i + 1 < len(argv):
            value = argv[i + 1]
            if action.nargs != "?" or not value.startswith("-") or value == "-":
                i += 1
        i += 1
    return None


def _option_action(parser: argparse.ArgumentParser, arg: str) -> argparse.Action | None:
    """The action an option string names: exact, ``-xVALUE``, or a unique abbreviation
    of a long option (argparse accepts ``--work`` for ``--workspace``)."""
    key = arg.split("=", 1)[0] if arg.startswith("--") else arg[:2]
    exact = [action for action in parser._actions if key in action.option_strings]
    if exact or not key.startswith("--"):
        return exact[0] if exact else None
    prefixed = [
        action
        for action in parser._actions
        if any(o.startswith(key) for o in action.option_strings if o[:2] == "--")
    ]
    return prefixed[0] if len(prefixed) == 1 else None


def parse_command_line(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv``: a subcommand with the global options merged in, or a run."""
    argv = list(argv)
    plain = build_parser()
    index = first_positional(plain, argv)
    name = argv[index] if index is not None else None
    after_dashes = index is not None and index > 0 and argv[index - 1] == "--"
    if name not in SUBCOMMANDS or after_dashes:
        if name is not None and not after_dashes:
            _refuse_misspelt_command(plain, name)
        args = plain.parse_args(argv)
        args.command = None
        return args
    assert index is not None and name is not None
    parser = build_parser(name)
    args = parser.parse_args(argv)
    # argparse lets a subcommand's defaults overwrite the options given before its
    # name: read those on their own, and let them fill what the subcommand left unset.
    head = plain.parse_args(argv[:index])
    for option in GLOBAL_OPTIONS:
        given, own = getattr(head, option), getattr(args, option, None)
        if given in (None, False):
            continue
        if own not in (None, False) and own != given:
            parser.error(
                f"--{option} is given twice with different values "
                f"({given} before '{name}', {own} after it)"
            )
        setattr(args, option, given)
    return args


def _refuse_misspelt_command(parser: argparse.ArgumentParser, text: str) -> None:
    """``tau sesions`` is a typo, not a one-word first message for the model."""
    if " " in text.strip():
        return
    import difflib

    close = difflib.get_close_matches(text, list(SUBCOMMANDS), n=1, cutoff=0.75)
    if close:
        parser.error(
            f"unknown command '{text}' (did you mean '{close[0]}'? To send it as a "
            f"prompt: tau -- {text})"
        )


def _read_stdin_if_piped() -> str | None:
    """stdin's content when it is a pipe or a file, else None (never blocks on a TTY)."""
    import stat

    try:
        if sys.stdin is None or sys.stdin.isatty():
            return None
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):
        return None
    if not (stat.S_ISFIFO(mode) or stat.S_ISREG(mode)):
        return None
    return sys.stdin.read()


def _read_stdin_prompt() -> str | None:
    """stdin's content for ``-p`` without a prompt: whatever stdin is, unless a terminal."""
    try:
        if sys.stdin is None or sys.stdin.isatty():
            return None
    except ValueError:
        return None
    return sys.stdin.read()


def _cli_settings(args: argparse.Namespace) -> dict[str, Any]:
    from tau_tui.store_option import store_settings

    return {
        **store_settings(args.store),
        "profile": args.profile,
        "model": args.model,
        "base_url": args.base_url,
        "approval": args.approval,
        "safety": args.safety,
        "max_turns": args.max_turns,
        "max_cost": args.max_cost,
        "max_tokens": args.max_tokens,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tau`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments in (["--version"], ["-V"]):
        # The most common command answers before argparse (and what it imports) loads.
        return _exit(_print_version())
    if arguments[:1] == ["status"]:
        # Scripts poll ``tau status`` in a loop: its plain arguments skip argparse.
        from tau_tui.commands import status

        quick = status.quick_args(arguments[1:])
        if quick is not None:
            return _exit(run_guarded(lambda: status.run(quick), quick.debug))
    try:
        args = parse_command_line(arguments)
    except BrokenPipeError:  # tau --help | head -1
        silence_stdout()
        return EXIT_BROKEN_PIPE
    except SystemExit as done:  # --help, --version with more, or a usage error
        return _exit(done.code if isinstance(done.code, int) else EXIT_USAGE)
    if os.environ.get("NO_COLOR"):
        args.no_color = True
    if args.command:
        module = _load(SUBCOMMANDS[args.command][0])
        code = run_guarded(lambda: int(module.run(args)), getattr(args, "debug", False))
        return _exit(code)
    return _exit(_run(args))


def _print_version() -> int:
    try:
        sys.stdout.write(f"tau {__version__}\n")
    except BrokenPipeError:
        silence_stdout()
        return EXIT_BROKEN_PIPE
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    """A run: the app, the line REPL, a headless prompt or a scripted session."""
    if args.max_turns is not None and args.max_turns < 1:
        return _usage("--max-turns must be at least 1")
    if args.resume and args.continue_latest:
        return _usage("--resume and --continue cannot be used together")
    if args.prompt is not None and args.text is not None:
        if args.prompt != "-":
            return _usage("give the prompt once: as PROMPT or with -p, not both")
        args.prompt = args.text  # tau "fix the tests" -p, as claude -p "..."
    if args.prompt is None and args.text is not None and not args.line and not stdio_is_terminal():
        # Not interactive: tau PROMPT is tau -p PROMPT (piped stdin is attached to it).
        args.prompt = args.text
    if args.prompt is not None:
        from tau_tui.headless.run import run_headless

        read = _read_stdin_prompt if args.prompt == "-" else _read_stdin_if_piped
        return run_guarded(lambda: run_headless(args, _cli_settings(args), read), args.debug)
    if args.line:
        from tau_tui.repl import run_repl

        return run_guarded(
            lambda: run_repl(
                workspace=args.workspace,
                cli_settings=_cli_settings(args),
                resume=args.resume,
                continue_latest=args.continue_latest,
                script_path=args.script,
                trust=args.trust,
                first_prompt=args.text,
            ),
            args.debug,
        )
    if not stdio_is_terminal():
        # A full-screen app would draw into a pipe: read prompts from stdin instead.
        from tau_tui.scripted import run_scripted

        return run_guarded(lambda: run_scripted(args, _cli_settings(args)), args.debug)
    from tau_tui.app import run_app

    return run_guarded(
        lambda: run_app(
            workspace=args.workspace,
            cli_settings=_cli_settings(args),
            resume=args.resume,
            continue_latest=args.continue_latest,
            script_path=args.script,
            trust=args.trust,
            first_prompt=args.text,
            offer_setup=stdio_is_terminal(),
        ),
        args.debug,
    )


def _usage(message: str) -> int:
    sys.stderr.write(f"tau: error: {message} (see tau --help)\n")
    return EXIT_USAGE


def _exit(code: int) -> int:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        # The reader went away (tau -p ... | head): not an error worth a traceback.
        silence_stdout()
        return EXIT_BROKEN_PIPE if code == EXIT_OK else code
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
