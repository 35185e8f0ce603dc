"""A session's place in the event log: its writer, and when it started and ended.

The engine binds one ``SessionLog`` to its bus. When a run needs the session, the log
binds the store's writer for it (first among the bus's sinks, so an event is stored
before any renderer sees it); the first run announces ``session_started``, and leaving
the session (closing, switching) announces ``session_finished`` with the runs it held.
Notices about the session that arrive before it started (skipped guidance files) wait
here and are emitted after ``session_started``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

from tau_engine.conversation import Usage
from tau_engine.errors import StoreError
from tau_engine.events import EventBus, Notice, SessionFinished, SessionStarted
from tau_engine.store import SessionStore
from tau_engine.store.api import EventAppender


class SessionLog:
    """The event log's writer for the current session, and its start and end events."""

    def __init__(self, bus: EventBus, store: SessionStore) -> None:
        self.bus = bus
        self.store = store
        self.runs: int | None = None  # runs since session_started; None: not started
        self.pending: list[Notice] = []  # emitted once the session has started
        self._writer: EventAppender | None = None

    def bind(self, session_id: str, last_seq: int) -> None:
        """Write the bus's events to ``session_id``'s log, after its event ``last_seq``."""
        if self._writer is not None:
            self.bus.unsubscribe(self._writer.write)
            self._writer.close()
        self.bus.rebind(session_id, last_seq)
        self._writer = self.store.event_writer(session_id)
        # The writer comes first so an event is stored before any renderer sees it.
        self.bus.subscribe(self._writer.write, first=True)

    def start_run(self, started: SessionStarted) -> None:
        """Count a run; the session's first announces ``started``, then the notices that
        waited for it."""
        if self.runs is None:
            self.bus.emit(started)
            self.runs = 0
        for notice in self.pending:
            self.bus.emit(notice)
        self.pending = []
        self.runs += 1

    async def flush(self) -> None:
        """Write what the writer buffered (streamed deltas), off the event loop."""
        if self._writer is not None:
            await asyncio.to_thread(self._writer.flush)

    def end(
        self, reason: Literal["closed", "switched"], usage: Usage, cost_usd: float | None
    ) -> None:
        """``session_finished`` if the session started, then unbind the event log.

        A store that refuses that last event (damaged, full disk) does not stop the
        session from ending: the event is lost, as it is when the process is killed,
        and the runs' own events were written when they ended."""
        unlogged = False
        if self.runs is not None:
            runs, self.runs = self.runs, None
            try:
                self.bus.emit(
                    SessionFinished(reason=reason, runs=runs, usage=usage, cost_usd=cost_usd)
                )
            except StoreError:
                unlogged = True
        if self._writer is not None:
            writer, self._writer = self._writer, None
            self.bus.unsubscribe(writer.write)
            if unlogged:
                # Its buffer holds the refused event: closing retries it and fails again.
                with contextlib.suppress(StoreError):
                    writer.close()
            else:
                writer.close()
        self.bus.rebind("", 0)
