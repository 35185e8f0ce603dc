"""Appends one session's events to the event log in cheap batches (both backends).

``write`` is a plain synchronous call meant to sit first among the event bus's
sinks: it only buffers. Buffered events are written in one transaction when a
non-delta event arrives (a tool call, a usage report, the end of a turn: the
moments a reader must see), when deltas have waited ``FLUSH_INTERVAL_S`` and on
``close``. The flush itself is synchronous: a batch of 100 delta rows commits
in well under 2 ms in WAL mode with ``synchronous=NORMAL`` (see
``bench/bench_store.py``), less than handing it to a thread would cost.

Each writer has its own connection, so a UI reading history through the
store never waits behind a flush. A backend subclasses ``BufferedEventWriter`` with its
connection, its insert and its ``max(seq)`` read.
"""

from __future__ import annotations

import asyncio
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType

from tau_engine.errors import StoreError
from tau_engine.events import BaseEvent
from tau_engine.store.api import DELTA_FLUSH_INTERVAL_S

DELTA_TYPES = frozenset({"text_delta", "thinking_delta", "tool_output_delta"})

EventRow = tuple[str, int, str, float, str]
INSERT_EVENTS = "INSERT INTO events (session_id, seq, type, ts, json) VALUES (?, ?, ?, ?, ?)"


class BatchRejected(StoreError):
    """The database refused a batch for good (a duplicate ``seq``); it was dropped."""


def rejected(rows: list[EventRow], session_id: str, exc: BaseException) -> BatchRejected:
    """Why a batch whose ``seq`` clashed was dropped: a clash will not heal by retrying,
    so the batch is dropped rather than failing every later flush."""
    return BatchRejected(
        f"events {rows[0][1]}..{rows[-1][1]} of session {session_id} were not logged: {exc}"
    )


class BufferedEventWriter(ABC):
    """A buffered appender of one session's events.

    Events the bus has already stamped keep their ``seq``; an event with
    ``seq == 0`` is given the next free one (and ``ts`` and ``session_id`` if
    unset), so the writer also works without an ``EventBus``.
    """

    FLUSH_INTERVAL_S = DELTA_FLUSH_INTERVAL_S

    def __init__(self, session_id: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.session_id = session_id
        self._clock = clock
        self._rows: list[EventRow] = []
        self._deltas_since: float | None = None
        self._last_seq: int | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deferred: StoreError | None = None
        self._closed = False
        self._lock = threading.RLock()

    @property
    def pending(self) -> int:
        """Events buffered and not yet written."""
        return len(self._rows)

    def write(self, event: BaseEvent) -> None:
        """Buffer ``event``; flush when the batching policy says so.

        Called once per streamed token, so it does as little as it can: it is
        meant to be called from one thread (the event loop's), and only the
        flush takes the lock that guards against ``close`` from elsewhere.
        """
        if self._closed:
            raise StoreError(f"event writer of session {self.session_id} is closed")
        if self._deferred is not None:
            self._raise_deferred()
        seq = event.seq
        if seq <= 0 or (event.session_id and event.session_id != self.session_id):
            seq = self._stamp(event)
        elif self._last_seq is None or seq > self._last_seq:
            self._last_seq = seq
        # The model's own serializer, called directly: same JSON as
        # ``model_dump_json()`` without its per-call Python overhead.
        body = type(event).__pydantic_serializer__.to_json(event).decode()
        self._rows.append((self.session_id, seq, event.type, event.ts, body))
        if event.type not in DELTA_TYPES:
            self.flush()
            return
        now = self._clock()
        if self._deltas_since is None:
            self._deltas_since = now
            self._arm_timer()
        elif now - self._deltas_since >= self.FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        """Write every buffered event in one transaction."""
        with self._lock:
            self._disarm_timer()
            self._deltas_since = None
            if not self._rows:
                return
            rows, self._rows = self._rows, []
            try:
                self._insert(rows)
            except BatchRejected:
                raise
            except BaseException:
                # A busy or failing disk may recover: keep the batch for the next flush.
                self._rows[:0] = rows
                raise

    # -- what a backend provides ---------------------------------------------------
    @abstractmethod
    def _insert(self, rows: list[EventRow]) -> None:
        """Write ``rows`` in one transaction (``BatchRejected`` for a duplicate seq)."""

    @abstractmethod
    def _max_seq(self) -> int:
        """The highest logged ``seq`` of the session, 0 if none."""

    @abstractmethod
    def _disconnect(self) -> None:
        """Close the writer's connection, if it has one."""

    def close(self) -> None:
        """Flush what is buffered and release the connection. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            try:
                self.flush()
                self._raise_deferred()
            finally:
                self._closed = True
                self._disconnect()

    def __enter__(self) -> BufferedEventWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _stamp(self, event: BaseEvent) -> int:
        """Number an unstamped event; refuse one of another session. Returns its seq."""
        if event.seq > 0:
            raise StoreError(
                f"event of session {event.session_id} written to the log of {self.session_id}"
            )
        event.seq = self._known_last_seq() + 1
        if event.ts == 0.0:
            event.ts = time.time()
        if not event.session_id:
            event.session_id = self.session_id
        self._last_seq = event.seq
        return event.seq

    def _known_last_seq(self) -> int:
        if self._last_seq is None:
            buffered = max((r[1] for r in self._rows), default=0)
            self._last_seq = max(self._max_seq(), buffered)
        return self._last_seq

    def _arm_timer(self) -> None:
        # Inside an event loop, make sure a stalled stream's last deltas still
        # reach the log (and live-watch) within the interval.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(self.FLUSH_INTERVAL_S, self._flush_from_timer)

    def _disarm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _flush_from_timer(self) -> None:
        self._timer = None
        try:
            self.flush()
        except StoreError as exc:
            # Nobody awaits a timer; report it on the next write or close.
            self._deferred = exc

    def _raise_deferred(self) -> None:
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
