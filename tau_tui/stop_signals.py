"""SIGINT, SIGTERM and SIGHUP as "stop", the same way in every front end.

A closed terminal (SIGHUP) or a ``kill`` (SIGTERM) behaves like Ctrl+C: the
running turn is cancelled through the engine, which saves the partial answer
and kills the tools' process groups, and tau then exits ``128 + signal``
(130, 143, 129). A second SIGINT or SIGTERM ends the process at once.

After SIGHUP the terminal is gone and writing to it fails, so the standard
streams that were a terminal are pointed at ``/dev/null`` first: saving the
partial answer must not trip over a notice that cannot be shown.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
from collections.abc import Callable, Iterable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def exit_code_for(signum: int) -> int:
    """The shell's convention: 128 + the signal's number."""
    return 128 + int(signum)


def detach_from_terminal() -> None:
    """Point stdin, stdout and stderr at /dev/null where they were a terminal."""
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    try:
        for fd in (0, 1, 2):
            try:
                # fstat still works on a hung-up terminal, where isatty() says False.
                if stat.S_ISCHR(os.fstat(fd).st_mode):
                    os.dup2(devnull, fd)
            except OSError:
                continue
    finally:
        os.close(devnull)


class StopSignals:
    """Turns stop signals into one ``on_stop(signum)`` call; a repeat exits at once.

    ``signum`` is the first signal received (None until then) and ``exit_code``
    the code the process should end with.
    """

    def __init__(self, on_stop: Callable[[int], None]) -> None:
        self.on_stop = on_stop
        self.signum: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._installed: list[int] = []

    @property
    def exit_code(self) -> int | None:
        return exit_code_for(self.signum) if self.signum is not None else None

    def install(
        self, loop: asyncio.AbstractEventLoop, signals: Iterable[int] = STOP_SIGNALS
    ) -> StopSignals:
        """Handle ``signals`` on ``loop`` (silently skipped where the loop cannot)."""
        self._loop = loop
        for signum in signals:
            try:
                loop.add_signal_handler(signum, self.received, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                continue
            self._installed.append(signum)
        return self

    def uninstall(self) -> None:
        """Give the signals back to their default handlers."""
        if self._loop is not None:
            for signum in self._installed:
                try:
                    self._loop.remove_signal_handler(signum)
                except (RuntimeError, ValueError):
                    pass
        self._installed = []

    def received(self, signum: int) -> None:
        """One stop signal arrived (the loop calls this; tests may too)."""
        if signum == signal.SIGHUP:
            detach_from_terminal()
        if self.signum is not None:
            if signum == signal.SIGHUP:
                return  # a terminal closes once; a repeat (or our own report) is no news
            # Asked twice: stop waiting for the turn to settle.
            raise SystemExit(exit_code_for(self.signum))
        self.signum = signum
        self.on_stop(signum)
