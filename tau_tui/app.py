"""``TauApp``: the Textual application, and ``run_app`` which the ``tau`` CLI calls.

Start-up time is a feature: this module and what it imports before the first
frame load only Textual and the standard library. The engine (httpx,
pydantic, SQLite) is built by the injected ``engine_factory`` in a worker
after the first frame; until it is ready the screen is usable and a prompt
sent early simply waits for it.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from tau_tui.stop_signals import StopSignals
from tau_tui.themes import DEFAULT_THEME, load_themes, variable_defaults
from tau_tui.workspace_label import workspace_label

if TYPE_CHECKING:
    from textual.driver import Driver

    from tau_engine.config import Settings
    from tau_engine.engine import Engine
    from tau_engine.errors import SessionLockedError
    from tau_engine.paths import WorkspacePaths
    from tau_engine.resources.trust import AskTrust, TrustQuestion
    from tau_engine.safety.policy import Approver
    from tau_tui.screens.agent import AgentScreen

EngineFactory = Callable[..., Awaitable["Engine"]]
"""``factory(approver, **options)``: opens the engine; options go to ``Engine.open``
(``if_busy`` when the session to resume is running in another process)."""
# Opens the setup wizard; True once it wrote a setup, False when it was cancelled.
AskOnboarding = Callable[["WorkspacePaths", "Settings"], Awaitable[bool]]
QUIT_CONFIRM_SECONDS = 2.0
STARTUP_GROUP = "engine-open"
STOP_SETTLE_SECONDS = 10.0  # how long a stop signal waits for the turn to save its answer
EXIT_FAILED = 1


def one_line(error: BaseException) -> str:
    """An exception as one line: its type (unless it is one of tau's own) and the
    first line of its message."""
    text = str(error).strip().splitlines()
    message = text[0] if text else ""
    if type(error).__module__.startswith("tau_engine"):
        return message or type(error).__name__
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def warm_up_renderers() -> None:
    """Import and prime the Markdown parser and code highlighter (blocking: a thread),
    so the first streamed answer does not pause on imports."""
    from tau_tui.widgets.markdown_render import render_markdown

    render_markdown("# warm\n\n- *up* `x`\n\n```python\nx = 1\n```\n\n| a |\n|---|\n| 1 |", 40)


def busy_session_picker(busy: SessionLockedError) -> Screen[str | None]:
    """What to do with a session another tau process is running: fork it, start a new
    session, or quit (the choice's value, or None)."""
    from tau_tui.screens.pickers import Choice, ChoicePicker

    holder = f"pid {busy.pid}" if busy.pid is not None else "another process"
    return ChoicePicker(
        f"Session {busy.session_id[:8]} is in use by another tau process ({holder})",
        [
            Choice("fork", "Fork it", "continue in a copy; the other process keeps the original"),
            Choice("new", "Start a new session"),
            Choice("quit", "Quit"),
        ],
        filterable=False,
    )


def _tau_commands() -> type[Any]:
    from tau_tui.screens.palette import TauCommands

    return TauCommands


class TauApp(App[int]):
    """tau's interactive agent. Renders the engine's event stream; holds no business logic."""

    CSS_PATH = "app.tcss"
    TITLE = "tau"
    # Only tau's commands: Textual's built-ins (Theme, Screenshot, Keys, Quit...)
    # would bypass tau (a theme that is not remembered, a screenshot that fails).
    COMMANDS = {_tau_commands}

    BINDINGS = [
        Binding(
            "ctrl+c",
            "ctrl_c",
            "Quit",
            show=False,
            priority=True,
            id="app.ctrl_c",
            tooltip="Copy the selection; pressed twice, quit",
        ),
    ]

    def __init__(
        self,
        engine_factory: EngineFactory,
        *,
        workspace_label: str,
        history_path: Path | None = None,
        theme: str = DEFAULT_THEME,
        theme_folders: list[Path] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        cursor_blink: bool = True,
        first_prompt: str | None = None,
    ) -> None:
        super().__init__()
        self.cursor_blink = cursor_blink
        # Sent as if typed once the engine is open (tau "fix the tests").
        self.first_prompt = first_prompt
        self.engine_factory = engine_factory
        self.workspace_label = workspace_label
        self.history_path = history_path
        self.clock = clock
        self.wall_clock = wall_clock
        self.startup_error: BaseException | None = None
        self.session_id: str | None = None  # the session open when the app ended
        self._agent: AgentScreen | None = None
        self._last_ctrl_c = float("-inf")
        self._stop_signals = StopSignals(self.stop_for_signal)
        catalog = load_themes(theme_folders)
        self.theme_problems = list(catalog.problems)
        self.tau_themes = [loaded.name for loaded in catalog.themes]
        for loaded in catalog.themes:
            self.register_theme(loaded)
        if theme in self.available_themes:
            self.theme = theme
        else:
            self.theme_problems.append(f"unknown theme '{theme}'; using {DEFAULT_THEME}")
            self.theme = DEFAULT_THEME

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return variable_defaults(self.current_theme)

    def get_default_screen(self) -> Screen[Any]:
        from tau_tui.screens.agent import AgentScreen
        from tau_tui.widgets.prompt_history import PromptHistory

        self._agent = AgentScreen(
            workspace_label=self.workspace_label,
            history=PromptHistory(self.history_path),
            clock=self.clock,
            wall_clock=self.wall_clock,
        )
        return self._agent

    @property
    def agent(self) -> AgentScreen:
        """The agent screen (the bottom of the screen stack)."""
        assert self._agent is not None, "the app has not started"
        return self._agent

    def on_mount(self) -> None:
        import signal

        # SIGTERM and SIGHUP (a closed terminal) stop the app as a quit would, after
        # the running turn is interrupted and its partial answer saved. Ctrl+C is a key
        # here: the terminal is in raw mode.
        self._stop_signals.install(asyncio.get_running_loop(), (signal.SIGTERM, signal.SIGHUP))
        # Build the engine only once the first frame is on screen.
        self.call_after_refresh(self._start_engine)

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        from textual.drivers.linux_driver import LinuxDriver

        if driver is LinuxDriver:
            from tau_tui.terminal_driver import HangupSafeDriver

            return HangupSafeDriver
        return driver

    def on_terminal_hangup(self) -> None:
        """The driver found the terminal gone (a read or write failed): as SIGHUP."""
        import signal

        self._stop_signals.received(signal.SIGHUP)

    def stop_for_signal(self, signum: int) -> None:
        """Interrupt the running turn (its partial answer is saved, its tools' process
        groups killed), then exit with 128 + ``signum``."""
        from tau_tui.stop_signals import exit_code_for

        screen = self._agent
        if screen is None:
            self.exit(exit_code_for(signum), return_code=exit_code_for(signum))
            return
        screen.pending.clear()
        if screen.engine is not None:
            screen.engine.cancel()
        self.run_worker(
            self._exit_when_settled(exit_code_for(signum)),
            group="stop",
            exclusive=True,
            exit_on_error=False,
        )

    async def _exit_when_settled(self, code: int) -> None:
        deadline = time.monotonic() + STOP_SETTLE_SECONDS
        while self.agent.running and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self.exit(code, return_code=code)

    def _start_engine(self) -> None:
        self.run_worker(self._open_engine(), group=STARTUP_GROUP, exit_on_error=False)

    async def _open_engine(self) -> None:
        """Open the engine and show its session. Any failure here ends the app through
        ``worker_failed`` (this runs in the ``engine-open`` worker group)."""
        from tau_engine.errors import SessionLockedError

        screen = self.agent
        for problem in self.theme_problems:
            screen.controller.notice(problem, level="warning", kind="theme")
        try:
            engine = await self.engine_factory(screen.bridge.approve)
        except SessionLockedError as busy:
            choice = await self.push_screen_wait(busy_session_picker(busy))
            if choice not in ("fork", "new"):
                raise
            engine = await self.engine_factory(screen.bridge.approve, if_busy=choice)
        try:
            await asyncio.to_thread(warm_up_renderers)
            # Everything loaded so far lives as long as the app: exclude it from the
            # cyclic GC, whose full collections otherwise stall the UI ~100 ms each.
            gc.freeze()
            await screen.attach_engine(engine)
        except BaseException:
            if screen.engine is not engine:  # attached engines are closed on unmount
                await engine.close()
            raise
        if self.first_prompt and self.first_prompt.strip():
            self._send_first_prompt(self.first_prompt)

    def _send_first_prompt(self, text: str) -> None:
        """Submit the command line's PROMPT as if typed: in the history, then sent."""
        from tau_tui.widgets.prompt import PromptInput

        prompt = self.agent.query_one(PromptInput)
        prompt.prompt_history.add(text)
        self.agent.post_message(PromptInput.Submitted(prompt, text))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.worker_failed(event.worker)

    def worker_failed(self, worker: Worker[Any]) -> None:
        """The one place a failed worker is handled (screens forward theirs here).

        A failure while the engine opens or loads the session ends the app with
        that error (``run_app`` prints it as one line and exits non-zero): an app
        with no engine could only sit there. Any other failure becomes an error
        notice in the transcript, and the app goes on.
        """
        error = worker.error
        if error is None:
            return
        if worker.group == STARTUP_GROUP:
            self.startup_error = error
            code = getattr(error, "exit_code", EXIT_FAILED)
            self.exit(code, return_code=code)
            return
        if self._agent is not None and self._agent.is_attached:
            self._agent.controller.notice(
                f"internal error: {one_line(error)}", level="error", kind="internal"
            )

    async def on_unmount(self) -> None:
        self._stop_signals.uninstall()
        # Textual has already closed the screens: use the reference, not the stack.
        screen = self._agent
        engine = screen.engine if screen is not None else None
        if screen is not None and engine is not None:
            if engine.session is not None:
                self.session_id = engine.session.id
            # The screen is gone: what the engine reports while it stops (an
            # interrupted run's last events) has nowhere to be shown.
            engine.bus.unsubscribe(screen.bridge.sink)
            screen.bridge.close()
            await engine.close()

    async def ask_onboarding(self, paths: WorkspacePaths, settings: Settings) -> bool:
        """Open the setup wizard (from a worker); True once it wrote a setup."""
        from tau_tui.screens.onboarding.context import build_context
        from tau_tui.screens.onboarding.wizard import OnboardingWizard

        context = await asyncio.to_thread(
            build_context, paths, settings, workspace_label=self.workspace_label
        )
        outcome = await self.push_screen_wait(OnboardingWizard(context))
        if outcome is None:
            return False
        self.notify(
            f"Set up: profile '{outcome.plan.profile}' ({outcome.plan.model}) is "
            "active. tau doctor checks it.",
            timeout=6,
        )
        return True

    async def ask_trust(self, question: TrustQuestion) -> bool:
        """Ask once whether to trust the workspace's settings files (from a worker)."""
        from tau_tui.screens.trust import TrustModal

        trusted: bool = await self.push_screen_wait(
            TrustModal(self.workspace_label, question.items)
        )
        return trusted

    def action_ctrl_c(self) -> None:
        """Copy selected prompt text; otherwise interrupt the running turn, and quit on
        a second press within 2 s."""
        from textual.widgets import TextArea

        focused = self.focused
        if isinstance(focused, TextArea) and focused.selected_text:
            self.copy_to_clipboard(focused.selected_text)
            return
        now = self.clock()
        if now - self._last_ctrl_c <= QUIT_CONFIRM_SECONDS:
            self.exit(0)
            return
        self._last_ctrl_c = now
        if self._agent is not None and self._agent.interrupt_turn():
            self.notify("Interrupted. Press Ctrl+C again to quit", timeout=QUIT_CONFIRM_SECONDS)
        else:
            self.notify("Press Ctrl+C again to quit", timeout=QUIT_CONFIRM_SECONDS)


def workspace_engine_factory(
    paths: WorkspacePaths,
    cli_settings: dict[str, Any],
    *,
    ask_trust: AskTrust,
    trust: bool = False,
    resume: str | None = None,
    continue_latest: bool = False,
    script: Path | None = None,
    ask_onboarding: AskOnboarding | None = None,
) -> EngineFactory:
    """The app's engine factory for a workspace: settings (asking about trust once, when
    the workspace has settings that need it), the setup wizard when nothing at all is set
    up (``ask_onboarding``; cancelling it ends the app, nothing written), then the
    engine. Without ``ask_onboarding`` (no terminal to ask on), nothing set up is a
    ``SetupNeededError`` naming ``tau onboard``."""

    async def open_engine(approver: Approver, **options: Any) -> Engine:
        from tau_engine.engine import Engine
        from tau_engine.resources.setup_state import (
            NOT_SET_UP,
            SetupNeededError,
            nothing_configured,
        )
        from tau_engine.resources.trust import load_settings_asking

        settings = await load_settings_asking(
            paths, cli_settings, default_approval="ask", ask=ask_trust, grant=trust
        )
        if await asyncio.to_thread(nothing_configured, paths, settings):
            if ask_onboarding is None:
                raise SetupNeededError(NOT_SET_UP)
            if not await ask_onboarding(paths, settings):
                from tau_tui.screens.onboarding.app import SetupCancelledError

                raise SetupCancelledError()
            settings = await load_settings_asking(
                paths, cli_settings, default_approval="ask", ask=ask_trust, grant=trust
            )
        return await Engine.open(
            workspace=paths,
            settings=settings,
            approver=approver,
            resume=resume,
            continue_latest=continue_latest,
            default_approval="ask",
            script_path=script,
            **options,
        )

    return open_engine


def run_app(
    *,
    workspace: str | None,
    cli_settings: dict[str, Any],
    resume: str | None,
    continue_latest: bool,
    script_path: str | None,
    trust: bool = False,
    first_prompt: str | None = None,
    offer_setup: bool = False,
) -> int:
    """Open the app on the agent screen (sending ``first_prompt`` once the engine is
    open); returns the exit code. Raises ``TauError``. ``offer_setup``: the caller knows
    someone at a terminal can answer the setup wizard (the CLI asks; this module does
    not import the CLI)."""
    from tau_engine.paths import WorkspacePaths
    from tau_tui.themes import configured_theme_name

    paths = WorkspacePaths.locate(workspace)
    open_engine = workspace_engine_factory(
        paths,
        cli_settings,
        ask_trust=lambda question: app.ask_trust(question),
        trust=trust,
        resume=resume,
        continue_latest=continue_latest,
        script=Path(script_path) if script_path else None,
        # The wizard only where someone can answer it: never into a pipe.
        ask_onboarding=(lambda where, settings: app.ask_onboarding(where, settings))
        if offer_setup
        else None,
    )
    app = TauApp(
        open_engine,
        workspace_label=workspace_label(paths.root),
        history_path=paths.history_path,
        theme=configured_theme_name(paths.root, cli_settings.get("theme")),
        first_prompt=first_prompt,
    )
    code = app.run()
    error = app.startup_error
    if error is not None:
        from tau_engine.errors import TauError

        if isinstance(error, TauError):
            raise error
        raise TauError(
            f"the app could not start: {one_line(error)} (run with --debug for the traceback)"
        ) from error
    if app.session_id is not None:
        print(resume_hint(app.session_id, paths.root if workspace else None))
    return code if isinstance(code, int) else (app.return_code or 0)


def resume_hint(session_id: str, workspace: Path | None) -> str:
    """The line printed when the app ends, to come back to the same session."""
    import shlex

    where = f"-w {shlex.quote(str(workspace))} " if workspace is not None else ""
    return f"resume with: tau {where}--resume {session_id}"
