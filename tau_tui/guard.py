"""Running a command the way every ``tau`` command runs: tau's errors become one line on
stderr and an exit code, and a reader that went away ends the command quietly.

Standard library only: ``tau --version`` loads this module too.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # ``typing`` costs more than a millisecond at start-up
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141


def run_guarded(func: Callable[[], int], debug: bool) -> int:
    """Run a command, turning tau's errors into one line and an exit code."""
    from tau_engine.errors import TauError

    try:
        return func()
    except BrokenPipeError:
        # The reader went away (tau sessions list | head): end quietly, as git does.
        silence_stdout()
        return EXIT_BROKEN_PIPE
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
        sys.stderr.write(
            f"tau: internal error: {type(exc).__name__}: {exc} "
            "(run with --debug for the traceback)\n"
        )
        return EXIT_FAILED


def tau_parser_class() -> type[argparse.ArgumentParser]:
    """argparse's parser with tau's one-line errors and exit code 2 (argparse is imported
    here, on first use: ``tau --version`` never needs it)."""
    import argparse

    class TauParser(argparse.ArgumentParser):
        """argparse with tau's one-line error format and exit code 2."""

        def error(self, message: str) -> Any:
            self.exit(EXIT_USAGE, f"tau: error: {message} (see {self.prog} --help)\n")

        def print_help(self, file: Any = None) -> None:
            # argparse swallows write errors here; a reader that went away must show
            # (tau --help | head -1 exits 141).
            (file or sys.stdout).write(self.format_help())

    return TauParser


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    import argparse

    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number above 0."""
    import argparse

    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def stdio_is_terminal() -> bool:
    """Whether stdin and stdout are both terminals: only then can a full-screen app run."""
    try:
        return sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
