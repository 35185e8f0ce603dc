"""The ``tau`` command line.

``tau`` opens the Textual app; ``tau -p PROMPT`` runs headless; subcommands
(``tau sessions``, ``tau models``) manage state. This module imports only the
standard library at the top: ``tau --version`` and ``tau --help`` are the
commands people run most, so Textual, httpx and pydantic load only when a
command needs them.

Exit codes: 0 done, 1 the run failed, 2 bad usage or input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tau_engine import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
APPROVAL_CHOICES = ["read-only", "ask", "auto-edit", "full-auto"]
OUTPUT_FORMATS = ["text", "json", "stream-json"]

# Subcommand modules, imported only when named on the command line.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "sessions": ("tau_tui.commands.sessions",
                 "list, show, export, import, undo, fork, delete or recover sessions"),
    "models": ("tau_tui.commands.models", "list the model catalog"),
    "trust": ("tau_tui.commands.trust", "let tau load a workspace's own settings files"),
    "mission": ("tau_tui.commands.mission", "run a coding mission: task + verifier -> verified "
                "commit with evidence"),
    "memory": ("tau_tui.commands.memory", "search, add, correct or retire learned memory"),
}


class _Parser(argparse.ArgumentParser):
    """argparse with tau's one-line error format and exit code 2."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"tau: error: {message} (see tau --help)\n")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by the app and headless runs."""
    parser.add_argument("--model", "-m", metavar="PROVIDER/MODEL",
                        help="model to use, e.g. anthropic/claude-sonnet-4-5 or offline/echo")
    parser.add_argument("--base-url", metavar="URL", help="override the provider's API base URL")
    parser.add_argument("--workspace", "-w", metavar="DIR",
                        help="workspace root (default: nearest folder with .tau/ or .git)")
    parser.add_argument("--approval", choices=APPROVAL_CHOICES,
                        help="approval mode (headless default auto-edit, app default ask)")
    parser.add_argument("--max-turns", type=int, metavar="N",
                        help="stop after N model turns (default 25)")
    parser.add_argument("--max-cost", type=float, metavar="USD",
                        help="stop cleanly once the run has cost this much")
    parser.add_argument("--max-tokens", type=int, metavar="N",
                        help="stop cleanly once the run has used this many tokens")
    parser.add_argument("--continue", "-c", dest="continue_latest", action="store_true",
                        help="continue the latest session of this workspace")
    parser.add_argument("--resume", "-r", metavar="ID", help="resume a session by id or prefix")
    parser.add_argument("--script", metavar="FILE",
                        help="assistant turns for the offline/replay model")
    parser.add_argument("--trust", action="store_true",
                        help="trust this workspace's own settings files for this run "
                        "(see tau trust)")
    parser.add_argument("--record", metavar="FILE",
                        help="record every model exchange as an offline/replay script")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tau",
        description="tau: a terminal-first AI coding agent. Run it in a repository.",
        epilog="Run 'tau' to open the app, 'tau -p PROMPT' to run headless.",
    )
    parser.add_argument("--version", "-V", action="version", version=f"tau {__version__}")
    parser.add_argument("--prompt", "-p", metavar="PROMPT",
                        help="run headless with this prompt ('-' reads it from stdin)")
    parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="text",
                        help="headless output: text (default), json or stream-json")
    parser.add_argument("--no-color", action="store_true", help="plain output, no colours")
    parser.add_argument("--line", action="store_true",
                        help="line-mode REPL instead of the full-screen app")
    add_run_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    argv = sys.argv[1:]
    for name, (module, help_text) in SUBCOMMANDS.items():
        if name in argv:
            _load(module).add_parser(sub)
        else:
            # A cheap placeholder keeps --help complete without importing the module.
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _load(module: str) -> Any:
    import importlib

    return importlib.import_module(module)


def _read_stdin_if_piped() -> str | None:
    """stdin's content when it is a pipe or a file, else None (never blocks on a TTY)."""
    try:
        if sys.stdin is None or sys.stdin.isatty():
            return None
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):
        return None
    if not (stat.S_ISFIFO(mode) or stat.S_ISREG(mode)):
        return None
    return sys.stdin.read()


def _cli_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {"model": args.model, "base_url": args.base_url, "approval": args.approval,
            "max_turns": args.max_turns, "max_cost": args.max_cost,
            "max_tokens": args.max_tokens}


def run_guarded(func: Callable[[], int], debug: bool) -> int:
    """Run a command, turning tau's errors into one line and an exit code."""
    from tau_engine.errors import TauError

    try:
        return func()
    except TauError as exc:
        if debug:
            raise
        sys.stderr.write(f"tau: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("tau: interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debug:
            raise
        sys.stderr.write(f"tau: internal error: {type(exc).__name__}: {exc} "
                         "(run with --debug for the traceback)\n")
        return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tau`` console script."""
    if argv is not None:
        sys.argv = ["tau", *argv]
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:])
    if args.command:
        module = _load(SUBCOMMANDS[args.command][0])
        code = run_guarded(lambda: int(module.run(args)), getattr(args, "debug", False))
        return _exit(code)
    if args.max_turns is not None and args.max_turns < 1:
        parser.error("--max-turns must be at least 1")
    if args.resume and args.continue_latest:
        parser.error("--resume and --continue cannot be used together")
    if args.prompt is not None:
        from tau_tui.headless_run import run_headless

        return _exit(run_guarded(lambda: run_headless(args, _cli_settings(args),
                                                      _read_stdin_if_piped), args.debug))
    if args.line:
        from tau_tui.repl import run_repl

        return _exit(run_guarded(lambda: run_repl(
            workspace=args.workspace, cli_settings=_cli_settings(args), resume=args.resume,
            continue_latest=args.continue_latest, script_path=args.script,
            trust=args.trust), args.debug))
    from tau_tui.app import run_app

    return _exit(run_guarded(lambda: run_app(
        workspace=args.workspace, cli_settings=_cli_settings(args), resume=args.resume,
        continue_latest=args.continue_latest, script_path=args.script,
        trust=args.trust), args.debug))


def _exit(code: int) -> int:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        # The reader went away (tau -p ... | head): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
