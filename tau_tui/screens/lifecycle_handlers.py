"""The agent screen's handlers of the bridge's lifecycle and mission messages, and of
the mission card's requests (a mixin of ``AgentScreen``, which stays one job long).

Each lifecycle event of the stream is handled deliberately: what the app already
shows another way is consumed (said here), what only the event knows is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tau_tui.bridge import EngineBridge
from tau_tui.widgets.entries import UserEntry
from tau_tui.widgets.mission_card import MissionCard

if TYPE_CHECKING:
    from tau_tui.screens.mission_controller import MissionController
    from tau_tui.screens.turn_controller import TurnController
    from tau_tui.widgets.transcript import Transcript


class LifecycleHandlers:
    """``on_…`` handlers found by name through the MRO of ``AgentScreen``."""

    controller: TurnController
    missions: MissionController
    transcript: Transcript
    app: Any

    def refresh_status(self) -> None: ...  # AgentScreen's

    # -- the bridge's lifecycle messages ----------------------------------------------
    def on_engine_bridge_session_began(self, message: EngineBridge.SessionBegan) -> None:
        # The resumed session's notice and totals come from attach_engine and the
        # session commands' results; the status bar is redrawn for its model.
        message.stop()
        self.refresh_status()

    def on_engine_bridge_session_ended(self, message: EngineBridge.SessionEnded) -> None:
        # Consumed: the command that switched session (/new, /clear, /resume, /fork)
        # already said so and reset the bar's totals (``session_changed``); "closed"
        # comes as the app quits, which prints how to resume the session.
        message.stop()

    def on_engine_bridge_run_began(self, message: EngineBridge.RunBegan) -> None:
        # Consumed: the prompt is already shown and the bar busy (``_run_prompt``), and
        # the bar's model is the engine's (a fallback says so in its own notice).
        message.stop()

    def on_engine_bridge_prompt_sent(self, message: EngineBridge.PromptSent) -> None:
        # The prompt is shown as typed when it is sent, its attachments from
        # ``expand_mentions``; the engine's list is the one the model got, so it fills
        # an entry that has none (a prompt the app did not expand itself).
        message.stop()
        event = message.event
        user = next(
            (e for e in reversed(self.transcript.entries) if isinstance(e, UserEntry)), None
        )
        if user is not None and event.attachments and not user.attachments:
            user.attachments = list(event.attachments)
            self.transcript.refresh_entry(user)

    def on_engine_bridge_mission_phase_changed(
        self, message: EngineBridge.MissionPhaseChanged
    ) -> None:
        message.stop()
        self.missions.phase(message.event)

    # -- the mission card's requests ---------------------------------------------------
    def on_mission_card_stop_requested(self, message: MissionCard.StopRequested) -> None:
        message.stop()
        if self.missions.stop():
            self.controller.notice(
                "stopping the mission: it keeps its state, `tau mission resume` continues it",
                level="warning",
                kind="mission",
            )

    def on_mission_card_left(self, message: MissionCard.Left) -> None:
        from tau_tui.widgets.prompt import PromptInput

        message.stop()
        screen: Any = self  # the AgentScreen this is mixed into
        prompt = screen.query_one(PromptInput)
        prompt.focus()
        if message.character:
            prompt.insert(message.character)

    def on_mission_card_report_wanted(self, message: MissionCard.ReportWanted) -> None:
        message.stop()
        folder = message.entry.evidence_dir
        if folder is not None:
            self.app.run_worker(self._show_report(folder), group="evidence", exit_on_error=False)

    async def _show_report(self, folder: Any) -> None:
        import asyncio

        from tau_tui.screens.evidence_viewer import EvidenceViewer, read_evidence

        name, text = await asyncio.to_thread(read_evidence, folder)
        await self.app.push_screen(EvidenceViewer(f"{name or 'evidence'} · {folder}", text))
