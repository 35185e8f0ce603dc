"""Textual's Linux driver, made to survive the terminal going away.

When the terminal closes, the kernel sends SIGHUP, and at the same moment every
read and write on it starts failing with EIO. Textual's driver does not expect
that: its output thread dies on the first failed write (the app then blocks
forever on a full output queue) and its input thread makes the app panic. Both
can happen before the SIGHUP handler runs, so the partial answer would not be
saved and tau would hang or exit 1.

This driver turns a failed terminal read or write into a hang-up: output is
dropped from then on, and the app is told once, on its event loop, to stop as
for SIGHUP (``on_hangup``). It relies on two internals of Textual's
``LinuxDriver`` (its ``_file`` and ``run_input_thread``); Textual is pinned to an
exact version, and ``tests/tui/test_terminal_driver.py`` checks both.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from typing import IO, Any

from textual.drivers.linux_driver import LinuxDriver

HangupCallback = Callable[[], None]


def _is_hangup(exc: OSError) -> bool:
    return exc.errno in (errno.EIO, errno.ENXIO, errno.EBADF) or isinstance(exc, BrokenPipeError)


class HangupSafeOutput:
    """A text stream over the terminal that drops output once the terminal is gone."""

    def __init__(self, stream: IO[str], on_hangup: HangupCallback) -> None:
        self._stream = stream
        self._on_hangup = on_hangup
        self._lock = threading.Lock()
        self.hung_up = False

    def _lost(self) -> None:
        with self._lock:
            first, self.hung_up = not self.hung_up, True
        if first:
            self._on_hangup()

    def write(self, text: str) -> int:
        if self.hung_up:
            return len(text)
        try:
            return self._stream.write(text)
        except OSError as exc:
            if not _is_hangup(exc):
                raise
            self._lost()
            return len(text)

    def flush(self) -> None:
        if self.hung_up:
            return
        try:
            self._stream.flush()
        except OSError as exc:
            if not _is_hangup(exc):
                raise
            self._lost()

    def __getattr__(self, name: str) -> Any:
        # fileno, isatty, encoding...: whatever else the driver asks of the stream.
        return getattr(self._stream, name)


class HangupSafeDriver(LinuxDriver):
    """``LinuxDriver`` whose output and input threads treat EIO as a hang-up."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._hangup_reported = False
        self._hangup_lock = threading.Lock()
        if self._file is not None:
            self._file = HangupSafeOutput(  # type: ignore[assignment]
                self._file, self._report_hangup
            )

    def _report_hangup(self) -> None:
        with self._hangup_lock:
            if self._hangup_reported:
                return
            self._hangup_reported = True
        on_hangup = getattr(self._app, "on_terminal_hangup", None)
        if on_hangup is not None:
            # Usually from the driver's threads: the app acts on its own event loop.
            self._loop.call_soon_threadsafe(on_hangup)

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        except OSError as exc:
            if not _is_hangup(exc):
                raise
            self._report_hangup()
