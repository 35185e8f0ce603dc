"""What every headless renderer shares: where it writes, and a reader that went away.

A renderer is an event sink (``__call__``) plus ``finish``, called once when the
run is over. Writing is guarded here: when the reader of stdout goes away (``tau
-p ... | head``) or the terminal does (a write fails with EIO, as after SIGHUP),
the renderer stops writing, sets ``broken`` (and ``hung_up``) and calls
``on_broken``, so the runner stops the turn instead of working for nobody.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tau_engine.events import Event

_ANSI = {
    "ok": "\x1b[32m",
    "fail": "\x1b[31m",
    "dim": "\x1b[2m",
    "warn": "\x1b[33m",
    "reset": "\x1b[0m",
}


class HeadlessRenderer:
    """The base of the three output formats: guarded writing, colour, ``finish``."""

    def __init__(self, out: IO[str], err: IO[str], *, color: bool) -> None:
        self.out = out
        self.err = err
        self.color = color
        # Each event reaches a terminal at once; a file or pipe is written in blocks.
        self.flush_each = out.isatty()
        self.broken = False
        self.hung_up = False
        self.on_broken: Callable[[], None] | None = None

    def __call__(self, event: Event) -> None:
        if self.broken:
            return
        try:
            self.render(event)
        except OSError as exc:
            self.output_lost(exc)

    def render(self, event: Event) -> None:
        """Write what ``event`` means in this format."""
        raise NotImplementedError

    def finish(self, result: Any, exit_code: int | None = None) -> None:
        """Write what ends the output (with the process's ``exit_code`` when the caller
        knows it) and flush."""
        if self.broken:
            return
        try:
            self.write_end(result, exit_code)
            self.out.flush()
        except OSError as exc:
            self.output_lost(exc)

    def write_end(self, result: Any, exit_code: int | None) -> None:
        """The format's last words (nothing by default)."""

    def paint(self, text: str, style: str) -> str:
        return f"{_ANSI[style]}{text}{_ANSI['reset']}" if self.color else text

    def output_lost(self, exc: OSError) -> None:
        if not isinstance(exc, BrokenPipeError) and exc.errno != errno.EIO:
            raise exc
        self.broken = True
        self.hung_up = exc.errno == errno.EIO
        if self.on_broken is not None:
            self.on_broken()
