"""``MissionController``: runs the app's ``/mission`` and keeps its card live.

``/mission`` is the engine's command (``tau_engine.missions.conversation``): this
only shows it. The card is added to the transcript and focused at once; the
command runs in the screen's ``mission`` worker (its blocking parts are the
engine's threads and subprocesses, so the event loop stays free); the engine's
``mission_phase`` events update the card as they come; the command's result
settles it. Stopping cancels the worker: the runner stops in its phase, its state
saved, and ``tau mission resume ID`` continues it. One mission runs at a time.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from tau_tui.widgets import mission_entry as me
from tau_tui.widgets.mission_entry import MissionEntry

if TYPE_CHECKING:
    from textual.worker import Worker

    from tau_engine.events import MissionPhaseEvent
    from tau_tui.screens.command_host import CommandHost


class MissionController:
    """The running mission of one agent screen, and its card."""

    def __init__(self, screen: CommandHost) -> None:
        self.screen = screen
        self.entry: MissionEntry | None = None  # the running mission's (None: none runs)
        self.worker: Worker[Any] | None = None

    @property
    def running(self) -> bool:
        return self.entry is not None and self.entry.running

    def start(self, text: str) -> None:
        """Start ``/mission TEXT``: a card now, the mission in a worker."""
        from tau_engine.errors import TauError
        from tau_engine.missions.conversation import parse_mission_args

        screen = self.screen
        if self.running:
            screen.controller.notice(
                "a mission is already running: x or Esc on its card stops it",
                level="warning",
                kind="command",
            )
            return
        try:
            args = parse_mission_args(text)  # to title the card; the engine reads it again
        except TauError as exc:
            screen.controller.notice(str(exc), level="error", kind="command")
            return
        entry = MissionEntry(task=args.task or "", started_at=screen.wall_clock())
        self.entry = entry
        screen.transcript.add(entry)
        widget = screen.transcript.widget_of(entry)
        if widget is not None:
            widget.call_after_refresh(widget.focus)
        self.worker = screen.run_worker(
            self._run(entry, text), group="mission", exit_on_error=False
        )

    async def _run(self, entry: MissionEntry, text: str) -> None:
        from tau_engine.errors import TauError

        screen = self.screen
        try:
            result = await screen.commands.run_named("mission", text)
        except asyncio.CancelledError:
            me.stop(entry, screen.wall_clock())
            screen.transcript.refresh_entry(entry)
            raise
        except TauError as exc:
            me.fail(entry, str(exc), screen.wall_clock())
        else:
            me.settle(entry, result, screen.wall_clock())
        finally:
            if self.entry is entry:
                self.entry = None
        screen.transcript.refresh_entry(entry)

    def phase(self, event: MissionPhaseEvent) -> None:
        """A ``mission_phase`` event: the running mission's card shows it."""
        entry = self.entry
        if entry is None or entry.mission_id not in (None, event.mission_id):
            return  # not this screen's mission (one run by another front end's engine)
        me.apply_phase_event(entry, event)
        self.screen.transcript.refresh_entry(entry)

    def stop(self) -> bool:
        """Stop the running mission; False when none runs."""
        if not self.running or self.worker is None:
            return False
        self.worker.cancel()
        return True
