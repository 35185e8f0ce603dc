"""A running tool's output: what the model gets back, and what front ends see live.

``OutputCapture`` keeps the head and tail of a stream within a character cap:
it is the tool result a command produces, whether it finished or was stopped.

``LiveOutput`` is what a tool writes its output to while it runs (through
``ToolContext.on_output``). It keeps an ``OutputCapture`` of everything (so an
interrupted call's result still says what was printed) and announces the text
as ``tool_output_delta`` events, coalesced so that a chatty command cannot
flood the event bus or the event log: at most one delta per ``interval_s``
with at most ``max_chunk`` characters, the newest kept when more arrived (the
delta's ``skipped`` says how many were left out). Once a call has streamed
``fast_budget`` characters, it slows to ``slow_interval_s`` and
``slow_max_chunk``: a long build stays visible without filling the log.

A delta ends at a line break (``\n`` or ``\r``) where it can: the partial
last line is held back until its line ends, for at most ``hold_s`` (or until
it fills a chunk), so a value printed on one line, such as a key the
redactor must recognise, is not cut across two deltas. A prompt or a
progress bar that never ends its line still shows after ``hold_s``.
"""

from __future__ import annotations

import asyncio
import codecs
import time
from collections.abc import Callable

DeltaSink = Callable[[str, int], None]
"""Receives (text, characters skipped before it)."""


class OutputCapture:
    """The head and tail of a stream's text, within ``max_chars`` characters."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._head_limit = max_chars // 2
        self._tail_limit = max_chars - self._head_limit
        self._head: list[str] = []
        self._head_len = 0
        self._tail = ""
        self.total_chars = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> str:
        """Add raw bytes (UTF-8, split anywhere); returns the text they completed."""
        text = self._decoder.decode(data)
        self.add(text)
        return text

    def add(self, text: str) -> None:
        """Add decoded text."""
        self.total_chars += len(text)
        if self._head_len < self._head_limit:
            taken = text[: self._head_limit - self._head_len]
            self._head.append(taken)
            self._head_len += len(taken)
            text = text[len(taken) :]
        if text:
            self._tail += text
            if len(self._tail) > 2 * self._tail_limit:
                self._tail = self._tail[-self._tail_limit :]

    def text(self) -> str:
        """Everything, or head + ``[... N characters truncated ...]`` + tail."""
        self.add(self._decoder.decode(b"", final=True))
        head = "".join(self._head)
        if self.total_chars <= self.max_chars:
            return head + self._tail
        tail = self._tail[-self._tail_limit :] if self._tail_limit else ""
        dropped = self.total_chars - len(head) - len(tail)
        return f"{head}\n[... {dropped} characters truncated ...]\n{tail}"


class LiveOutput:
    """One tool call's output as it is produced: kept whole-ish, announced coalesced."""

    def __init__(
        self,
        sink: DeltaSink,
        *,
        max_chars: int,
        interval_s: float = 0.1,
        max_chunk: int = 4096,
        fast_budget: int = 65536,
        slow_interval_s: float = 1.0,
        slow_max_chunk: int = 1024,
        hold_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.capture = OutputCapture(max_chars)
        self.interval_s = interval_s
        self.max_chunk = max_chunk
        self.fast_budget = fast_budget
        self.slow_interval_s = slow_interval_s
        self.slow_max_chunk = slow_max_chunk
        self.hold_s = hold_s
        self._clock = clock
        self._partial_since: float | None = None
        self._pending: list[str] = []
        self._pending_len = 0
        self._skipped = 0
        self._streamed = 0
        self._last_emit: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def text(self) -> str:
        """What was produced so far, capped as a tool result is."""
        return self.capture.text()

    def _limits(self) -> tuple[float, int]:
        if self._streamed < self.fast_budget:
            return self.interval_s, self.max_chunk
        return self.slow_interval_s, self.slow_max_chunk

    def write(self, text: str) -> None:
        """Take the next piece of output (any size, as often as it comes)."""
        if not text or self._closed:
            return
        self.capture.add(text)
        self._pending.append(text)
        self._pending_len += len(text)
        interval, chunk = self._limits()
        if self._pending_len > 2 * chunk:
            # Keep only what the next delta can carry: memory stays bounded.
            joined = "".join(self._pending)
            self._skipped += len(joined) - chunk
            self._pending = [joined[-chunk:]]
            self._pending_len = chunk
        now = self._clock()
        if self._last_emit is None or now - self._last_emit >= interval:
            self.flush()
        elif self._timer is None:
            self._arm(interval - (now - self._last_emit))

    def _arm(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous caller): the next write or close flushes
        self._timer = loop.call_later(max(delay, 0.0), self.flush)

    def flush(self, *, final: bool = False) -> None:
        """Announce what is pending now, within the current chunk limit.

        Unless ``final``, a partial last line is kept back (see the module docstring).
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        interval, chunk = self._limits()
        text = "".join(self._pending)
        held = ""
        now = self._clock()
        if not final:
            cut = max(text.rfind("\n"), text.rfind("\r")) + 1
            rest = text[cut:]
            if cut:  # whatever is held now is a line that started in this text
                self._partial_since = None
            if rest and len(rest) < chunk:
                if self._partial_since is None:
                    self._partial_since = now
                if now - self._partial_since < self.hold_s:
                    text, held = text[:cut], rest
        if not held:
            self._partial_since = None
        self._pending = [held] if held else []
        self._pending_len = len(held)
        if text:
            skipped = self._skipped
            if len(text) > chunk:
                skipped += len(text) - chunk
                text = text[-chunk:]
            self._skipped = 0
            self._streamed += len(text)
            self._last_emit = now
            self.sink(text, skipped)
        if held:
            assert self._partial_since is not None
            self._arm(min(interval, self._partial_since + self.hold_s - now))

    def close(self) -> None:
        """The call is over: announce the rest and stop."""
        if self._closed:
            return
        self.flush(final=True)
        self._closed = True
