"""``CommandRunner``: what each slash command does, through the engine.

The agent screen hands it a command line; each handler calls the engine (in
the screen's workers, never blocking the event loop), then reports with a
notice in the transcript or opens a picker. Engine errors (``TauError``) become
one-line error notices.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tau_engine.protocol.approval import APPROVAL_SCOPE, ApprovalMode
from tau_tui.screens.pickers import Choice, ChoicePicker, SessionPicker
from tau_tui.screens.slash_commands import COMMANDS, parse_command

if TYPE_CHECKING:
    from tau_engine.engine import Engine
    from tau_tui.screens.agent import AgentScreen

KEYS_HELP = (
    "keys: enter send · shift+enter/ctrl+j newline · ↑/↓ history · tab complete · "
    "esc or ctrl+c interrupt · shift+tab next approval mode · ctrl+o expand last tool "
    "call · ctrl+p command palette · pgup/pgdn scroll · ctrl+home/ctrl+end first/last "
    "message · ctrl+c twice or ctrl+d on an empty prompt quit"
)


class CommandRunner:
    """Runs slash commands for one agent screen."""

    def __init__(self, screen: AgentScreen) -> None:
        self.screen = screen
        self.handlers: dict[str, Callable[[str], Awaitable[None]]] = {
            "help": self.help, "model": self.model, "session": self.session,
            "sessions": self.sessions, "new": self.new, "fork": self.fork, "undo": self.undo,
            "redo": self.redo, "compact": self.compact, "cost": self.cost,
            "approval": self.approval, "memory": self.memory, "theme": self.theme,
            "clear": self.clear, "clear-risk": self.clear_risk, "export": self.export,
            "quit": self.quit, "exit": self.quit,
            "resume": self.resume,
        }

    # -- plumbing ------------------------------------------------------------------
    async def run(self, line: str) -> None:
        """Run one ``/command args`` line; unknown commands get a hint."""
        from tau_engine.errors import TauError

        command, name, args = parse_command(line)
        if command is None:
            self.note(f"unknown command /{name}; type /help for the list", "error")
            return
        try:
            await self.handlers[command.name](args)
        except TauError as exc:
            self.note(str(exc), "error")

    def note(self, message: str, level: str = "info") -> None:
        self.screen.controller.notice(message, level=level, kind="command")

    async def _engine(self) -> Engine:
        return await self.screen.wait_for_engine()

    # -- commands ------------------------------------------------------------------
    async def help(self, args: str) -> None:
        width = max(len(c.usage) for c in COMMANDS)
        lines = [f"{c.usage.ljust(width)}  {c.help}" for c in COMMANDS]
        self.note("commands:\n" + "\n".join(lines) + "\n" + KEYS_HELP)

    async def model(self, args: str) -> None:
        engine = await self._engine()
        if args:
            self._set_model(engine, args)
            return
        from tau_engine.providers.catalog import load_catalog

        catalog = await asyncio.to_thread(load_catalog)
        choices = []
        for info in catalog.list():
            window = f"{info.context_window // 1000}k ctx" if info.context_window else ""
            choices.append(Choice(info.model_id, info.model_id, window))
        picked = await self.screen.app.push_screen_wait(
            ChoicePicker("Model", choices, current=engine.model_id))
        if picked:
            self._set_model(engine, picked)

    def _set_model(self, engine: Engine, model_id: str) -> None:
        engine.set_model(model_id)
        for notice in engine.notices[-1:]:
            if model_id in notice or "key" in notice:
                self.note(notice, "warning")
        self.note(f"model: {engine.model_id}")
        self.screen.refresh_status()

    async def session(self, args: str) -> None:
        engine = await self._engine()
        info = engine.session
        if info is None:
            self.note("no session yet: it starts with the first prompt")
            return
        cost = f"${info.cost_usd:.4f}" if info.cost_usd is not None else "unknown"
        self.note(f"session {info.id} · {info.title or '(untitled)'} · model {info.model} · "
                  f"{info.message_count} messages · cost {cost}")

    async def sessions(self, args: str) -> None:
        engine = await self._engine()
        found = await engine.list_sessions(50)
        current = engine.session.id if engine.session else None
        choice = await self.screen.app.push_screen_wait(
            SessionPicker(found, current_id=current, now=self.screen.wall_clock()))
        if choice is None:
            return
        action, session_id = choice
        session = await engine.resume(session_id)
        if action == "fork":
            session = await engine.fork()
            await self.screen.reload_transcript()
            self.note(f"forked {session_id[:8]} into new session {session.id[:8]}")
        else:
            await self.screen.reload_transcript()
            self.note(f"resumed session {session.id[:8]} · {session.title or '(untitled)'}")
        self.screen.session_changed()

    async def resume(self, args: str) -> None:
        if not args:
            await self.sessions(args)
            return
        engine = await self._engine()
        session = await engine.resume(args)
        await self.screen.reload_transcript()
        self.note(f"resumed session {session.id[:8]} · {session.title or '(untitled)'}")
        self.screen.session_changed()

    async def new(self, args: str) -> None:
        engine = await self._engine()
        await engine.new_session()
        await self.screen.transcript.clear()
        self.note("new session: it starts with your next prompt")
        self.screen.session_changed()

    async def fork(self, args: str) -> None:
        engine = await self._engine()
        before = engine.session.id if engine.session else ""
        session = await engine.fork(args or None)
        self.note(f"forked {before[:8]} into new session {session.id[:8]}; "
                  "the original session is unchanged")
        self.screen.refresh_status()

    async def undo(self, args: str) -> None:
        engine = await self._engine()
        report = await engine.undo()
        await self._after_undo(report, "undid")

    async def redo(self, args: str) -> None:
        engine = await self._engine()
        report = await engine.redo()
        await self._after_undo(report, "redid")

    async def _after_undo(self, report: object, verb: str) -> None:
        from tau_engine.store import UndoReport

        assert isinstance(report, UndoReport)
        await self.screen.reload_transcript()
        if not report.messages:
            self.note(f"nothing to {report.action}")
            return
        text = f"{verb} {report.messages} message(s)"
        if report.restored:
            text += "; restored " + ", ".join(report.restored)
        self.note(text)
        for failure in report.failed:
            self.note(f"could not restore {failure.path}: {failure.reason}", "error")
        if report.note:
            self.note(report.note, "warning")

    async def compact(self, args: str) -> None:
        engine = await self._engine()
        self.note(await engine.compact())
        self.screen.refresh_status()

    async def cost(self, args: str) -> None:
        engine = await self._engine()
        usage, cost = engine.usage_totals()
        about = "~" if usage.estimated else ""
        money = f"{about}${cost:.4f}" if cost is not None else \
            "unknown (no prices for this model)"
        why = " (estimated: the server reported no usage)" if usage.estimated else ""
        self.note(f"tokens: {about}{usage.input_tokens:,} in ({usage.cached_input_tokens:,} "
                  f"cached), {about}{usage.output_tokens:,} out · cost {money}{why}")

    async def approval(self, args: str) -> None:
        engine = await self._engine()
        mode = args
        if not mode:
            choices = [Choice(mode.value, mode.value, mode.help) for mode in ApprovalMode]
            picked = await self.screen.app.push_screen_wait(
                ChoicePicker("Approval mode", choices, current=engine.policy.mode.value,
                             filterable=False, note=APPROVAL_SCOPE))
            if not picked:
                return
            mode = picked
        engine.set_approval(mode)
        self.note(f"approval mode: {engine.policy.mode.value} "
                  f"({engine.policy.mode.help})")
        self.screen.refresh_status()

    async def memory(self, args: str) -> None:
        """``/memory``: the overview; ``/memory approve ID`` lets a quarantined entry in."""
        from tau_engine.errors import UsageError
        from tau_tui.screens.memory import MemoryScreen

        engine = await self._engine()
        action, _, rest = args.partition(" ")
        if action == "approve":
            if engine.memory is None:
                raise UsageError("learned memory is off (memory = false in config.toml)")
            outcome = await engine.memory.service.approve(rest.strip())
            self.note(f"approved memory #{outcome.entry.id}: it is offered from now on")
            return
        if action:
            raise UsageError(f"unknown /memory action '{action}'; use /memory or "
                             "/memory approve ID")
        await self.screen.app.push_screen_wait(MemoryScreen(await engine.memory_overview()))

    async def clear_risk(self, args: str) -> None:
        engine = await self._engine()
        state = engine.safety_state()
        if not engine.clear_risk():
            self.note("the risk is not raised: no tool result was flagged in this session")
            return
        self.note(f"risk cleared ({state.risk}); calls follow the rules of profile "
                  f"{state.profile} and mode {state.mode} again")
        self.screen.refresh_status()

    async def theme(self, args: str) -> None:
        app = self.screen.app
        name = args
        if not name:
            ours = list(getattr(app, "tau_themes", []))
            choices = [Choice(n, n, "tau") for n in ours]
            choices += [Choice(n, n, "textual") for n in sorted(app.available_themes)
                        if n not in ours]
            picked = await app.push_screen_wait(
                ChoicePicker("Theme", choices, current=app.theme))
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

    async def clear(self, args: str) -> None:
        """A fresh context, as in Claude Code and aider: the model forgets the
        conversation; the old session stays in the store for /resume."""
        engine = await self._engine()
        previous = engine.session
        await engine.new_session()
        await self.screen.transcript.clear()
        if previous is None:
            self.note("context cleared: your next prompt starts a new session")
        else:
            self.note(f"context cleared: your next prompt starts a new session; "
                      f"/resume {previous.id[:8]} returns to the previous one")
        self.screen.session_changed()

    async def export(self, args: str) -> None:
        engine = await self._engine()
        if engine.session is None:
            self.note("nothing to export: no session yet", "error")
            return
        session_id = engine.session.id
        default = engine.paths.root / f"tau-{session_id[:8]}.jsonl"
        dest = Path(args).expanduser() if args else default
        if not dest.is_absolute():
            dest = engine.paths.root / dest
        count = await engine.store.export_jsonl(session_id, dest,
                                                redact=engine.redaction.redact_data)
        self.note(f"exported {count} records to {dest}")

    async def quit(self, args: str) -> None:
        self.screen.app.exit()


def wall_clock() -> float:
    """Seconds since the epoch (sessions' ages in the picker)."""
    return time.time()
