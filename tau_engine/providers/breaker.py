"""The circuit breaker of the providers' router, one circuit per route (a model id).

Closed -> open after ``failure_threshold`` consecutive failures -> half-open after
``cooldown_s`` (one trial call) -> closed on success, open again on failure. The router
(``providers.router``) asks ``allow`` before a call and reports the verdict after it.

The state lives in the routing process's memory; every change of state (open, half-open,
closed) is also handed to an optional ``journal`` (``providers.breaker_journal``), so
that ``tau status``, the operator shell and ``tau watch`` in other processes can show an
open breaker. A journal that cannot write never affects routing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

CircuitState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class BreakerChange:
    """One change of a route's circuit, as the journal records it.

    ``since`` and ``until`` are wall-clock times (``time.time``): another process reads
    them. ``until`` is when an open circuit lets a trial call through (None unless open);
    ``reason`` is the failure that opened it (an error kind and HTTP status)."""

    route: str
    state: CircuitState
    since: float
    until: float | None
    reason: str | None
    failures: int


class BreakerJournalSink(Protocol):
    """Where a breaker reports its changes of state (must not raise)."""

    def record(self, change: BreakerChange) -> None: ...


@dataclass(slots=True)
class _Circuit:
    state: CircuitState = "closed"
    failures: int = 0
    opened_at: float = 0.0
    trial_in_flight: bool = False


class CircuitBreaker:
    """Per-route circuit state. Routes are named by model id; ``clock`` (monotonic, for
    the cool-down) and ``wall_clock`` (for the journal) are injectable."""

    def __init__(
        self,
        failure_threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        journal: BreakerJournalSink | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.journal = journal
        self._clock = clock
        self._wall_clock = wall_clock
        self._circuits: dict[str, _Circuit] = {}

    def _circuit(self, route: str) -> _Circuit:
        return self._circuits.setdefault(route, _Circuit())

    def _cooled(self, circuit: _Circuit) -> bool:
        return self._clock() - circuit.opened_at >= self.cooldown_s

    def _note(self, route: str, circuit: _Circuit, reason: str | None = None) -> None:
        if self.journal is None:
            return
        since = self._wall_clock()
        until = since + self.retry_in(route) if circuit.state == "open" else None
        self.journal.record(
            BreakerChange(route, circuit.state, since, until, reason, circuit.failures)
        )

    def state(self, route: str) -> CircuitState:
        """The route's state now (an open circuit past its cool-down reads half-open)."""
        circuit = self._circuit(route)
        if circuit.state == "open" and self._cooled(circuit):
            return "half_open"
        return circuit.state

    def retry_in(self, route: str) -> float:
        """Seconds until an open route lets a trial call through (0 when not open)."""
        circuit = self._circuit(route)
        if circuit.state != "open":
            return 0.0
        return max(0.0, circuit.opened_at + self.cooldown_s - self._clock())

    def allow(self, route: str) -> bool:
        """Whether a call may go to ``route`` now; a half-open route admits one trial."""
        circuit = self._circuit(route)
        if circuit.state == "open" and self._cooled(circuit):
            circuit.state = "half_open"
            self._note(route, circuit)
        if circuit.state == "closed":
            return True
        if circuit.state == "half_open" and not circuit.trial_in_flight:
            circuit.trial_in_flight = True
            return True
        return False

    def record_success(self, route: str) -> None:
        circuit = self._circuit(route)
        was = circuit.state
        circuit.state, circuit.failures, circuit.trial_in_flight = "closed", 0, False
        if was != "closed":
            self._note(route, circuit)

    def record_failure(self, route: str, reason: str | None = None) -> None:
        """A failure of the route itself; ``reason`` says which (for the journal)."""
        circuit = self._circuit(route)
        circuit.failures += 1
        circuit.trial_in_flight = False
        if circuit.state != "closed" or circuit.failures >= self.failure_threshold:
            circuit.state, circuit.opened_at = "open", self._clock()
            self._note(route, circuit, reason)

    def release(self, route: str) -> None:
        """A call ended without a verdict (cancelled): let the next call be the trial."""
        self._circuit(route).trial_in_flight = False
