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

from tau_tui.themes import DEFAULT_THEME, load_themes, variable_defaults

if TYPE_CHECKING:
    from tau_engine.engine import Engine
    from tau_engine.errors import TauError
    from tau_engine.paths import WorkspacePaths
    from tau_engine.resources.trust import AskTrust, TrustQuestion
    from tau_engine.safety.policy import Approver
    from tau_tui.screens.agent import AgentScreen

EngineFactory = Callable[["Approver"], Awaitable["Engine"]]
QUIT_CONFIRM_SECONDS = 2.0


def warm_up_renderers() -> None:
    """Import and prime the Markdown parser and code highlighter (blocking: a thread),
    so the first streamed answer does not pause on imports."""
    from tau_tui.widgets.markdown_render import render_markdown

    render_markdown("# warm\n\n- *up* `x`\n\n```python\nx = 1\n```\n\n| a |\n|---|\n| 1 |", 40)


def _tau_commands() -> type[Any]:
    from tau_tui.screens.palette import TauCommands

    return TauCommands


class TauApp(App[int]):
    """tau's interactive agent. Renders the engine's event stream; holds no business logic."""

    CSS_PATH = "app.tcss"
    TITLE = "tau"
    COMMANDS = App.COMMANDS | {_tau_commands}

    BINDINGS = [
        Binding("ctrl+c", "ctrl_c", "Quit", show=False, priority=True, id="app.ctrl_c",
                tooltip="Copy the selection; pressed twice, quit"),
    ]

    def __init__(self, engine_factory: EngineFactory, *, workspace_label: str,
                 history_path: Path | None = None, theme: str = DEFAULT_THEME,
                 theme_folders: list[Path] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time,
                 cursor_blink: bool = True) -> None:
        super().__init__()
        self.cursor_blink = cursor_blink
        self.engine_factory = engine_factory
        self.workspace_label = workspace_label
        self.history_path = history_path
        self.clock = clock
        self.wall_clock = wall_clock
        self.startup_error: TauError | None = None
        self._last_ctrl_c = float("-inf")
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

        return AgentScreen(workspace_label=self.workspace_label,
                           history=PromptHistory(self.history_path), clock=self.clock,
                           wall_clock=self.wall_clock)

    @property
    def agent(self) -> AgentScreen:
        """The agent screen (the bottom of the screen stack)."""
        from tau_tui.screens.agent import AgentScreen

        screen = self.screen_stack[0]
        assert isinstance(screen, AgentScreen)
        return screen

    def on_mount(self) -> None:
        # Build the engine only once the first frame is on screen.
        self.call_after_refresh(self._start_engine)

    def _start_engine(self) -> None:
        self.run_worker(self._open_engine(), group="engine-open", exit_on_error=False)

    async def _open_engine(self) -> None:
        from tau_engine.errors import TauError

        screen = self.agent
        for problem in self.theme_problems:
            screen.controller.notice(problem, level="warning", kind="theme")
        try:
            engine = await self.engine_factory(screen.bridge.approve)
        except TauError as exc:
            self.startup_error = exc
            self.exit(exc.exit_code, return_code=exc.exit_code)
            return
        await asyncio.to_thread(warm_up_renderers)
        # Everything loaded so far lives as long as the app: exclude it from the
        # cyclic GC, whose full collections otherwise stall the UI ~100 ms each.
        gc.freeze()
        await screen.attach_engine(engine)

    async def on_unmount(self) -> None:
        screen = self.screen_stack[0] if self.screen_stack else None
        engine = getattr(screen, "engine", None)
        if engine is not None:
            screen.bridge.close()  # type: ignore[union-attr]
            await engine.close()

    async def ask_trust(self, question: TrustQuestion) -> bool:
        """Ask once whether to trust the workspace's settings files (from a worker)."""
        from tau_tui.screens.trust import TrustModal

        return bool(await self.push_screen_wait(
            TrustModal(self.workspace_label, question.items)))

    def action_ctrl_c(self) -> None:
        """Copy selected prompt text; otherwise the second press within 2 s quits."""
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
        self.notify("Press Ctrl+C again to quit", timeout=QUIT_CONFIRM_SECONDS)


def _workspace_label(root: Path) -> str:
    home = Path.home()
    try:
        return "~/" + root.relative_to(home).as_posix()
    except ValueError:
        return str(root)


def workspace_engine_factory(paths: WorkspacePaths, cli_settings: dict[str, Any], *,
                             ask_trust: AskTrust, trust: bool = False,
                             resume: str | None = None, continue_latest: bool = False,
                             script: Path | None = None) -> EngineFactory:
    """The app's engine factory for a workspace: settings (asking about trust once, when
    the workspace has settings that need it), then the engine."""

    async def open_engine(approver: Approver) -> Engine:
        from tau_engine.engine import Engine
        from tau_engine.resources.trust import load_settings_asking

        settings = await load_settings_asking(paths, cli_settings, default_approval="ask",
                                              ask=ask_trust, grant=trust)
        return await Engine.open(workspace=paths, settings=settings, approver=approver,
                                 resume=resume, continue_latest=continue_latest,
                                 default_approval="ask", script_path=script)

    return open_engine


def run_app(*, workspace: str | None, cli_settings: dict[str, Any], resume: str | None,
            continue_latest: bool, script_path: str | None, trust: bool = False) -> int:
    """Open the app on the agent screen; returns the exit code. Raises ``TauError``."""
    from tau_engine.paths import WorkspacePaths
    from tau_tui.themes import configured_theme_name

    paths = WorkspacePaths.locate(workspace)
    open_engine = workspace_engine_factory(
        paths, cli_settings, ask_trust=lambda question: app.ask_trust(question), trust=trust,
        resume=resume, continue_latest=continue_latest,
        script=Path(script_path) if script_path else None)
    app = TauApp(open_engine, workspace_label=_workspace_label(paths.root),
                 history_path=paths.history_path,
                 theme=configured_theme_name(paths.root, cli_settings.get("theme")))
    code = app.run()
    if app.startup_error is not None:
        raise app.startup_error
    return code if isinstance(code, int) else (app.return_code or 0)
