"""``AgentScreen``: the transcript, the prompt and the status bar, driving one engine.

The screen composes widgets and routes messages: prompts go to the engine (or
to the ``CommandRunner`` for slash commands), the ``EngineBridge``'s messages go
to the ``TurnController`` (transcript) and the status bar. Engine calls run in
workers; the engine itself is opened by the app after the first frame.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from tau_engine.protocol.approval import cycle_description, next_mode
from tau_tui.bridge import EngineBridge
from tau_tui.screens.command_runner import CommandRunner
from tau_tui.screens.lifecycle_handlers import LifecycleHandlers
from tau_tui.screens.mission_controller import MissionController
from tau_tui.screens.turn_controller import TurnController
from tau_tui.widgets.completion import CompletionMenu
from tau_tui.widgets.prompt import PromptInput
from tau_tui.widgets.prompt_history import PromptHistory
from tau_tui.widgets.status_bar import StatusBar, StatusInfo
from tau_tui.widgets.tool_card import ToolCard
from tau_tui.widgets.transcript import Transcript
from tau_tui.widgets.worker_failures import ReportsWorkerFailures

if TYPE_CHECKING:
    from tau_engine.engine import Engine


def read_git_branch(root: Path) -> str:
    """The checked-out branch (or short commit) of the repository at ``root``; blocking."""
    git = root / ".git"
    try:
        if git.is_file():  # a worktree: ".git" names the real git dir
            pointer = git.read_text(encoding="utf-8").strip()
            if pointer.startswith("gitdir:"):
                git = (root / pointer[7:].strip()).resolve()
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    if head.startswith("ref: refs/heads/"):
        return head[16:]
    return head[:8]


class AgentScreen(LifecycleHandlers, ReportsWorkerFailures, Screen[None]):
    """The interactive agent: one conversation with the engine."""

    BINDINGS = [
        Binding(
            "escape",
            "interrupt",
            "Interrupt",
            id="agent.interrupt",
            tooltip="Stop the running turn (the partial answer is kept), else the running mission",
        ),
        Binding(
            "ctrl+o",
            "toggle_last_tool",
            "Expand tool",
            id="agent.toggle_tool",
            tooltip="Show or hide the last tool call's arguments and output",
        ),
        Binding(
            "shift+tab",
            "cycle_approval",
            "Approval mode",
            id="agent.cycle_approval",
            tooltip=f"Switch to the next approval mode: {cycle_description()}",
        ),
        # Priority: the prompt's own PageUp/PageDown would otherwise take the keys.
        Binding(
            "pageup",
            "scroll_transcript(-1)",
            "Page up",
            show=False,
            priority=True,
            id="agent.page_up",
            tooltip="Scroll the transcript up",
        ),
        Binding(
            "pagedown",
            "scroll_transcript(1)",
            "Page down",
            show=False,
            priority=True,
            id="agent.page_down",
            tooltip="Scroll the transcript down",
        ),
        Binding(
            "ctrl+home",
            "jump_start",
            "First message",
            show=False,
            id="agent.first",
            tooltip="Show the start of the session",
        ),
        Binding(
            "ctrl+end",
            "jump_end",
            "Last message",
            show=False,
            id="agent.last",
            tooltip="Show the latest messages and follow new output",
        ),
        Binding(
            "f2",
            "operator_shell",
            "Operator",
            id="agent.operator_shell",
            tooltip="The operator shell: sessions, jobs, missions, memory, audit",
        ),
    ]

    def __init__(
        self,
        *,
        workspace_label: str,
        history: PromptHistory,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(id="agent")
        self.workspace_label = workspace_label
        self.history = history
        self.clock = clock
        self.wall_clock = wall_clock
        self.bridge = EngineBridge(self)
        self.engine: Engine | None = None
        self.engine_ready = asyncio.Event()
        self.pending: list[str] = []
        self.running = False
        self.status = StatusInfo(workspace=workspace_label, activity="starting")
        self.transcript = Transcript(id="transcript")
        self.status_bar = StatusBar(clock=clock, id="status")
        self.controller = TurnController(self.transcript)
        self.commands = CommandRunner(self)
        self.missions = MissionController(self)

    def compose(self) -> ComposeResult:
        yield self.transcript
        yield CompletionMenu(id="completion")
        yield PromptInput(history=self.history, id="prompt")
        yield self.status_bar

    def on_mount(self) -> None:
        prompt = self.query_one(PromptInput)
        prompt.menu = self.query_one(CompletionMenu)
        prompt.cursor_blink = bool(getattr(self.app, "cursor_blink", True))
        prompt.focus()
        self.refresh_status()

    # -- the engine --------------------------------------------------------------------
    async def attach_engine(self, engine: Engine) -> None:
        """Start driving ``engine``: show its notices and the resumed transcript."""
        self.engine = engine
        # The notices of opening are shown below, in order with the transcript.
        engine.bus.subscribe(self.bridge.sink)
        self.status = self.status.with_(activity="")
        if engine.session is not None:
            # Loaded first: loading replaces the transcript, notices included.
            await self.reload_transcript()
        for notice in engine.startup_notices:
            self.controller.engine_notice(notice)
        if engine.session is not None:
            title = engine.session.title or "(untitled)"
            self.controller.notice(f"resumed session {engine.session.id[:8]} · {title}")
            usage, cost = engine.usage_totals()
            self.status = self.status.with_(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost_usd=cost,
                estimated=usage.estimated,
            )
        self.engine_ready.set()
        self.refresh_status()
        self.load_branch()
        self.load_history()

    async def wait_for_engine(self) -> Engine:
        await self.engine_ready.wait()
        assert self.engine is not None
        return self.engine

    async def reload_transcript(self) -> None:
        """Re-render the transcript from the store (resume, undo, redo, session switch)."""
        from tau_tui.widgets.entries import entries_from_history

        engine = self.engine
        if engine is None:
            return
        await self.transcript.load(entries_from_history(await engine.history()))

    def refresh_status(self) -> None:
        engine = self.engine
        if engine is not None:
            state, safety = engine.state(), engine.safety_state()
            self.status = self.status.with_(
                model=state.model_id,
                approval=state.approval.value,
                profile=safety.profile,
                risk=safety.raised_risk,
                context_window=state.context_window or self.status.context_window,
            )
        # Not "if is_mounted": that is still False in on_mount, which left the bar
        # blank ("starting" never showed) until the engine was attached.
        self.status_bar.info = self.status

    def session_changed(self) -> None:
        """Another session (or none yet) is current: show its totals, not the last one's."""
        engine = self.engine
        if engine is not None:
            usage, cost = engine.usage_totals()
            self.status = self.status.with_(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost_usd=cost,
                context_tokens=0,
            )
        self.refresh_status()

    @work(thread=True, group="git-branch", exclusive=True, exit_on_error=False)
    def load_branch(self) -> None:
        if self.engine is None:
            return
        branch = read_git_branch(self.engine.state().workspace)
        self.app.call_from_thread(self._set_branch, branch)

    def _set_branch(self, branch: str) -> None:
        self.status = self.status.with_(branch=branch)
        self.refresh_status()

    @work(thread=True, group="prompt-history", exclusive=True, exit_on_error=False)
    def load_history(self) -> None:
        self.history.load()

    @work(thread=True, group="prompt-history", exit_on_error=False)
    def save_history(self) -> None:
        self.history.save()

    # -- prompts -----------------------------------------------------------------------
    @on(PromptInput.Submitted)
    def _submitted(self, event: PromptInput.Submitted) -> None:
        self.save_history()
        text = event.text
        if text.lstrip().startswith("/") and not text.lstrip().startswith("//"):
            self.run_command_line(text.strip())
            return
        self.pending.append(text)
        if self.running:
            self.controller.notice("queued: it runs when the current turn ends")
        else:
            self._start_next()

    def run_command_line(self, line: str) -> None:
        """Run a slash command as if typed (the command palette uses this)."""
        self.run_worker(self.commands.run(line), group="command", exit_on_error=False)

    def _start_next(self) -> None:
        if self.pending and not self.running:
            self.running = True
            self.run_worker(self._run_prompt(self.pending.pop(0)), group="run", exit_on_error=False)

    async def _run_prompt(self, text: str) -> None:
        from tau_engine.errors import TauError

        user = self.controller.prompt_sent(text)
        try:
            engine = await self.wait_for_engine()
            prompt, meta = await engine.expand_mentions(text)
            if meta is not None:
                user.attachments = meta["attachments"]
                self.transcript.refresh_entry(user)
            self._set_busy(True, "thinking")
            await engine.run(prompt, meta=meta or {})
        except TauError as exc:
            self.controller.notice(str(exc), level="error", kind="run")
        finally:
            self.bridge.flush()
            self._set_busy(False)
            self.running = False
            self.load_branch()
            self._start_next()

    def _set_busy(self, busy: bool, activity: str = "") -> None:
        self.status = self.status.with_(activity=activity)
        self.status_bar.busy = busy
        self.status_bar.info = self.status

    @on(CompletionMenu.OptionSelected, "#completion")
    def _completion_clicked(self, event: CompletionMenu.OptionSelected) -> None:
        prompt = self.query_one(PromptInput)
        menu = self.query_one(CompletionMenu)
        if 0 <= event.option_index < len(menu.suggestions):
            prompt.accept(menu.suggestions[event.option_index])
        prompt.focus()

    @on(PromptInput.FilesWanted)
    def _files_wanted(self, event: PromptInput.FilesWanted) -> None:
        self.load_files()

    @work(thread=True, group="workspace-files", exclusive=True, exit_on_error=False)
    def load_files(self) -> None:
        from tau_engine.mentions import list_workspace_files
        from tau_engine.paths import WorkspacePaths

        root = self.engine.state().workspace if self.engine else WorkspacePaths.locate().root
        files = list_workspace_files(root)
        self.app.call_from_thread(self._files_loaded, files)

    def _files_loaded(self, files: list[str]) -> None:
        prompt = self.query_one(PromptInput)
        prompt.files = files
        prompt.refresh_completion()

    # -- engine events ---------------------------------------------------------------------
    @on(EngineBridge.TextStreamed)
    def _text(self, message: EngineBridge.TextStreamed) -> None:
        self.controller.text(message.text, message.thinking)
        activity = "thinking" if message.thinking else "writing"
        if self.status.activity != activity:
            self._set_busy(True, activity)

    @on(EngineBridge.TurnBegan)
    def _turn_began(self, message: EngineBridge.TurnBegan) -> None:
        self.controller.turn_started()
        self._set_busy(True, "waiting for the model")

    @on(EngineBridge.ToolCalled)
    def _tool_called(self, message: EngineBridge.ToolCalled) -> None:
        self.controller.tool_called(message.event)
        self._set_busy(True, f"running {message.event.name}")

    @on(EngineBridge.ApprovalAnnounced)
    def _approval_announced(self, message: EngineBridge.ApprovalAnnounced) -> None:
        self.controller.approval_needed(message.event)
        self._set_busy(True, f"waiting for approval of {message.event.name}")

    @on(EngineBridge.ToolOutputStreamed)
    def _tool_output(self, message: EngineBridge.ToolOutputStreamed) -> None:
        self.controller.tool_output(message.event)

    @on(EngineBridge.ToolFinished)
    def _tool_finished(self, message: EngineBridge.ToolFinished) -> None:
        self.controller.tool_finished(message.event)

    @on(EngineBridge.UsageUpdated)
    def _usage(self, message: EngineBridge.UsageUpdated) -> None:
        event = message.event
        self.status = self.status.with_(
            input_tokens=event.total_usage.input_tokens,
            output_tokens=event.total_usage.output_tokens,
            cost_usd=event.total_cost_usd,
            estimated=event.total_usage.estimated,
            context_tokens=event.context_tokens,
            context_window=event.context_window or self.status.context_window,
        )
        self.refresh_status()

    @on(EngineBridge.TurnEnded)
    def _turn_ended(self, message: EngineBridge.TurnEnded) -> None:
        self.controller.finish_answer()

    @on(EngineBridge.NoticePosted)
    def _notice(self, message: EngineBridge.NoticePosted) -> None:
        self.controller.engine_notice(message.event)
        if message.event.kind == "injection":
            self.refresh_status()  # the raised risk shows in the bar

    @on(EngineBridge.ErrorPosted)
    def _error(self, message: EngineBridge.ErrorPosted) -> None:
        self.controller.error(message.event)

    @on(EngineBridge.RunFinished)
    def _run_finished(self, message: EngineBridge.RunFinished) -> None:
        self.controller.run_finished(message.event)

    @on(EngineBridge.ApprovalRequested)
    def _approval_requested(self, message: EngineBridge.ApprovalRequested) -> None:
        from tau_tui.screens.approval import ApprovalModal

        future = message.future
        modal = ApprovalModal(message.request)

        def decided(decision: object) -> None:
            if not future.done():
                future.set_result(decision)  # type: ignore[arg-type]

        def withdrawn(done: asyncio.Future[Any]) -> None:
            # The run was interrupted while the modal was open: close it.
            if done.cancelled() and modal.is_attached and modal.is_active:
                modal.dismiss(None)

        future.add_done_callback(withdrawn)
        self.app.push_screen(modal, callback=decided)

    # -- actions ---------------------------------------------------------------------------
    def action_interrupt(self) -> None:
        menu = self.query_one(CompletionMenu)
        if menu.is_open:
            menu.close()
        elif not self.interrupt_turn() and self.missions.stop():
            self.controller.notice(
                "stopping the mission: it keeps its state, `tau mission resume` continues it",
                level="warning",
                kind="mission",
            )

    def interrupt_turn(self) -> bool:
        """Stop the running turn and drop queued prompts; False if nothing was running."""
        if self.engine is None or not self.running:
            return False
        self.engine.cancel()
        self.pending.clear()
        return True

    def action_cycle_approval(self) -> None:
        engine = self.engine
        if engine is None:
            self.app.notify("tau is still starting", severity="warning")
            return
        following = next_mode(engine.state().approval)
        engine.set_approval(following)
        self.refresh_status()
        self.app.notify(
            f"approval mode: {following} ({following.help})", title="Shift+Tab", timeout=3
        )

    @on(PromptInput.EndOfInput)
    def _end_of_input(self, event: PromptInput.EndOfInput) -> None:
        self.app.exit(0)

    def action_operator_shell(self) -> None:
        """Open the operator shell over this workspace (Esc or q comes back)."""
        from tau_engine.paths import WorkspacePaths
        from tau_tui.screens.operator import OperatorScreen

        root = self.engine.paths.root if self.engine else WorkspacePaths.locate().root
        self.app.push_screen(OperatorScreen(root))

    def action_toggle_last_tool(self) -> None:
        cards = self.transcript.query(ToolCard)
        if cards:
            cards.last().action_toggle_details()

    def action_scroll_transcript(self, direction: int) -> None:
        if direction < 0:
            self.transcript.scroll_page_up()
        else:
            self.transcript.scroll_page_down()

    async def action_jump_start(self) -> None:
        await self.transcript.jump_to_start()

    async def action_jump_end(self) -> None:
        await self.transcript.jump_to_end()
