"""Running a command the way every ``tau`` command runs: tau's errors become one line on
stderr and an exit code, and a reader that went away ends the command quietly.

Standard library only: ``tau --version`` loads this module too.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # ``typing`` costs more than a millisecond at start-up
if TYPE_CHECKING:
    from collections.abc import Callable

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
        sys.stderr.write(f"tau: internal error: {type(exc).__name__}: {exc} "
                         "(run with --debug for the traceback)\n")
        return EXIT_FAILED


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
