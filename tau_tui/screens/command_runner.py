"""``CommandRunner``: the app's renderer of the engine's command table.

The agent screen hands it a command line. The engine's table parses and runs it
(in the screen's workers, never blocking the event loop); a command with choices
and no argument (``/model``, ``/approval``) first opens a picker. Its result
(``tau_engine.commands.results``) is shown here: the plain-text lines every front
end shares become notices, and the app adds what only it can do (the session
picker, the memory screen, reloading the transcript). ``/theme`` is the app's own
command. Engine errors (``TauError``) become one-line error notices.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from tau_engine.commands import Command, CommandContext, CommandInput
from tau_engine.commands import results as r
from tau_tui.command_output import help_text, result_lines
from tau_tui.screens.pickers import Choice, ChoicePicker, SessionPicker
from tau_tui.slash_commands import APP_COMMANDS

if TYPE_CHECKING:
    from tau_tui.screens.command_host import CommandHost

KEYS_HELP = (
    "keys: enter send · shift+enter/ctrl+j newline · ↑/↓ history · tab complete · "
    "esc or ctrl+c interrupt · shift+tab next approval mode · ctrl+o expand last tool "
    "call · ctrl+p command palette · pgup/pgdn scroll · ctrl+home/ctrl+end first/last "
    "message · ctrl+c twice or ctrl+d on an empty prompt quit"
)


class CommandRunner:
    """Runs slash commands for one agent screen."""

    def __init__(self, screen: CommandHost) -> None:
        self.screen = screen
        self.table = APP_COMMANDS

    # -- plumbing ------------------------------------------------------------------
    async def run(self, line: str) -> None:
        """Run one ``/command args`` line; unknown commands get a hint."""
        from tau_engine.errors import TauError

        try:
            command, given = self.table.lookup(line)
            if command.name == "theme":
                await self.theme(given.text)
                return
            if command.name == "mission":
                # The card shows it, live; the mission runs in its own worker.
                self.screen.missions.start(given.text)
                return
            result = await self._run(command, given)
            if result is not None:
                await self.show(result)
        except TauError as exc:
            self.note(str(exc), "error")

    async def _run(self, command: Command, given: CommandInput) -> Any:
        """Run ``command`` through the engine; None when a picker was closed unpicked."""
        engine = await self.screen.wait_for_engine()
        ctx = CommandContext.of(engine, self.table)
        if not given.text and command.choices is not None:
            offered = await command.choices(ctx)
            picked = await self.screen.app.push_screen_wait(
                ChoicePicker(
                    offered.title,
                    offered.choices,
                    current=offered.current,
                    filterable=offered.filterable,
                    note=offered.note,
                )
            )
            if not picked:
                return None
            given = CommandInput(picked)
        return await self.table.run(ctx, command, given)

    async def run_named(self, name: str, text: str = "") -> Any:
        """Run the table's command ``name`` with ``text`` and return its result."""
        command = self.table.get(name)
        assert command is not None, name
        return await self._run(command, CommandInput(text))

    def note(self, message: str, level: str = "info") -> None:
        self.screen.controller.notice(message, level=level, kind="command")

    # -- results -------------------------------------------------------------------
    async def show(self, result: Any) -> None:
        """Render one command result: the screens only the app has, what the change
        means for the transcript and the status bar, then the shared lines."""
        screen = self.screen
        match result:
            case r.HelpShown(commands=commands):
                self.note(help_text(commands) + "\n" + KEYS_HELP)
                return
            case r.SessionsListed():
                await self._pick_session(result)
                return
            case r.MemoryShown(overview=overview):
                from tau_tui.screens.memory import MemoryScreen

                await screen.app.push_screen_wait(MemoryScreen(overview))
                return
            case r.QuitRequested():
                screen.app.exit()
                return
            case r.SessionResumed() | r.SessionForked(switched=True):
                await screen.reload_transcript()
                screen.session_changed()
            case r.NewSession():
                await screen.transcript.clear()
                screen.session_changed()
            case r.TurnsUndone():
                await screen.reload_transcript()
                screen.refresh_status()
            case r.ModelChanged() | r.ApprovalShown() | r.CompactionDone() | r.RiskCleared():
                screen.refresh_status()
        for line in result_lines(result):
            self.note(line.text, line.level)

    async def _pick_session(self, listed: r.SessionsListed) -> None:
        choice = await self.screen.app.push_screen_wait(
            SessionPicker(
                listed.sessions, current_id=listed.current_id, now=self.screen.wall_clock()
            )
        )
        if choice is None:
            return
        action, session_id = choice
        resumed = await self.run_named("resume", session_id)
        await self.show(await self.run_named("fork") if action == "fork" else resumed)

    # -- the app's own -------------------------------------------------------------
    async def theme(self, name: str) -> None:
        app = self.screen.app
        if not name:
            ours = list(getattr(app, "tau_themes", []))
            choices = [Choice(n, n, "tau") for n in ours]
            choices += [
                Choice(n, n, "textual") for n in sorted(app.available_themes) if n not in ours
            ]
            picked = await app.push_screen_wait(ChoicePicker("Theme", choices, current=app.theme))
            if not picked:
                return
            name = picked
        if name not in app.available_themes:
            from tau_engine.errors import UsageError

            known = ", ".join(sorted(app.available_themes))
            raise UsageError(f"unknown theme '{name}'; known: {known}")
        app.theme = name
        from tau_engine.config import save_setting
        from tau_engine.paths import user_config_dir

        await asyncio.to_thread(save_setting, user_config_dir() / "config.toml", "theme", name)
        self.note(f"theme: {name} (remembered)")
