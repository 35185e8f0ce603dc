"""``CommandHost``: what a slash command may use of the screen it runs on.

``CommandRunner`` is written against this protocol rather than ``AgentScreen``, so
the screen imports the runner and the runner never imports the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from textual.app import App
    from textual.worker import Worker

    from tau_engine.engine import Engine
    from tau_tui.screens.turn_controller import TurnController
    from tau_tui.widgets.transcript import Transcript


class NamedCommands(Protocol):
    """What runs a command of the table by name (``CommandRunner``)."""

    async def run_named(self, name: str, text: str = "") -> Any:
        """Run the table's command ``name`` with ``text``; its result."""
        ...


class Missions(Protocol):
    """What starts ``/mission`` on the screen (``MissionController``)."""

    def start(self, text: str) -> None:
        """Start ``/mission TEXT``."""
        ...


class CommandHost(Protocol):
    """The agent screen as its commands see it (``AgentScreen`` implements it)."""

    controller: TurnController
    transcript: Transcript
    wall_clock: Callable[[], float]

    @property
    def commands(self) -> NamedCommands:
        """The screen's command runner (``/mission`` runs its command through it)."""
        ...

    @property
    def missions(self) -> Missions:
        """The screen's missions (``/mission`` starts one)."""
        ...

    @property
    def app(self) -> App[Any]:
        """The running app: pushes pickers, switches themes, exits."""
        ...

    def run_worker(self, work: Any, *, group: str, exit_on_error: bool) -> Worker[Any]:
        """Run ``work`` in a worker of the screen (``/mission`` runs in one)."""
        ...

    async def wait_for_engine(self) -> Engine:
        """The engine, once the start-up worker has built it."""
        ...

    async def reload_transcript(self) -> None:
        """Re-render the transcript from the session's stored history."""
        ...

    def refresh_status(self) -> None:
        """Redraw the status bar from the engine's state."""
        ...

    def session_changed(self) -> None:
        """The engine switched session: reset what belonged to the old one."""
        ...
