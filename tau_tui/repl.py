"""``tau --line``: the line-mode REPL, a third renderer of the engine's event stream.

For terminals where a full-screen app is unwelcome (a narrow pane, a screen
reader, a dumb terminal, a recorded demo): prompt-toolkit reads each prompt
with history, the answer streams as plain text, each tool call is one line,
and approvals are a one-key question. Ctrl+C interrupts the running turn;
Ctrl+D (or ``/quit``) leaves. SIGTERM and SIGHUP (a closed terminal) interrupt
the turn as Ctrl+C does, then leave with 143 / 129.

It holds no business logic: slash commands are the engine's command table
(``tau_engine.commands``), their results printed as ``tau_tui.command_output`` words them.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import IO, Any

from tau_engine.commands import COMMANDS, CommandContext, CommandTable
from tau_engine.commands.results import HelpShown, QuitRequested
from tau_engine.text.terminal import strip_terminal_controls as plain
from tau_tui.command_output import help_text, result_lines
from tau_tui.headless.text import TextRenderer

HELP_FOOTER = "Ctrl+C interrupts a running turn; Ctrl+D leaves."

Ask = Callable[[str], Awaitable[str]]


class LineApprover:
    """The REPL's ``Approver``: shows what the tool wants and asks for one key."""

    def __init__(self, ask: Ask, out: IO[str]) -> None:
        self.ask = ask
        self.out = out

    async def __call__(self, request: Any) -> Any:
        from tau_engine.safety.policy import ApprovalDecision

        self.out.write(plain(f"\n{request.tool} wants to run ({request.reason}):") + "\n")
        for line in plain(request.preview or "").splitlines()[:40]:
            self.out.write(f"  {line}\n")
        if request.risk:
            self.out.write(plain(f"  raised risk: {request.risk}") + "\n")
        rule = request.rule
        if rule is not None:
            self.out.write(
                plain(f"  [a] allows {rule} for the rest of this session ({request.breadth})")
                + "\n"
            )
            self.out.write(
                plain(f"  [A] saves {rule} in {request.save_to}: always allowed here") + "\n"
            )
        else:
            self.out.write(plain(f"  no rule can allow it: {request.no_rule_reason}") + "\n")
        self.out.flush()
        question = (
            "allow? [y]es once / [a] this session / [A]lways / [n]o: "
            if rule is not None
            else "allow? [y]es once / [n]o: "
        )
        while True:
            answer = await self.ask(question)
            choice = answer.strip()[:1]
            if choice in ("y", "Y"):
                return ApprovalDecision.ALLOW_ONCE
            if choice == "a" and rule is not None:
                return ApprovalDecision.ALLOW_SESSION
            if choice == "A" and rule is not None:
                return ApprovalDecision.ALLOW_ALWAYS
            if choice in ("n", "N", ""):
                return ApprovalDecision.DENY


class LineRepl:
    """One REPL session over an engine. ``ask`` reads a line (prompt-toolkit in real use)."""

    def __init__(
        self, engine: Any, ask: Ask, out: IO[str], err: IO[str], table: CommandTable = COMMANDS
    ) -> None:
        self.engine = engine
        self.table = table
        self.ask = ask
        self.out = out
        self.err = err
        self.printer = TextRenderer(out, err, color=False)
        self.printer.on_broken = self._output_lost
        engine.subscribe(self.printer)  # the notices of opening first
        from tau_tui.commands.mission_output import PhaseLines

        self.missions = PhaseLines(err)  # /mission's progress, one line per phase
        engine.subscribe(self.missions)
        self._command: asyncio.Future[Any] | None = None  # a running command (/mission)
        self.exit_code: int | None = None  # set by ``stop``
        self._prompting: asyncio.Task[Any] | None = None  # the loop, while it reads a line

    def stop(self, signum: int) -> None:
        """SIGTERM or SIGHUP: interrupt the running turn (its partial answer is saved) or
        the prompt, and leave with 128 + ``signum``."""
        from tau_tui.stop_signals import exit_code_for

        self.exit_code = exit_code_for(signum)
        self.engine.cancel()
        self.cancel_command()
        if self._prompting is not None:
            self._prompting.cancel()

    def _output_lost(self) -> None:
        if self.printer.hung_up and self.exit_code is None:
            import signal

            from tau_tui.stop_signals import detach_from_terminal

            # The terminal went away mid-answer, maybe before SIGHUP is handled.
            detach_from_terminal()
            self.stop(signal.SIGHUP)

    async def loop(self, first_prompt: str | None = None) -> int:
        """Ask for prompts until Ctrl+D or /quit; ``first_prompt`` runs first."""
        state = self.engine.state()
        self.out.write(
            f"tau {state.model_id} in {state.workspace} (/help for commands, Ctrl+D to leave)\n"
        )
        if first_prompt and first_prompt.strip():
            await self.turn(first_prompt)
        while self.exit_code is None:
            # Read in this task, not a new one: prompt-toolkit's Ctrl+C is a
            # KeyboardInterrupt, which a separate task would let out of the event loop.
            self._prompting = asyncio.current_task()
            try:
                line = await self.ask("tau> ")
            except EOFError:
                return 0
            except KeyboardInterrupt:
                continue
            except asyncio.CancelledError:
                if self.exit_code is None or self._prompting is None:
                    raise
                self._prompting.uncancel()
                break
            finally:
                self._prompting = None
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                if await self.command(line) == "quit":
                    return 0
                continue
            await self.turn(line)
        return self.exit_code

    async def turn(self, prompt: str) -> Any:
        """Run one prompt, printing the answer; the ``RunResult``, or None when the
        engine refused it (the error is printed)."""
        from tau_engine.errors import TauError

        try:
            result = await self.run_turn(prompt)
        except TauError as exc:
            self.err.write(plain(f"tau: error: {exc}") + "\n")
            return None
        if result.stop_reason == "interrupted":
            self.err.write("tau: interrupted; the partial answer is kept\n")
        return result

    async def run_turn(self, prompt: str) -> Any:
        """Run one prompt and end its output; raises ``TauError`` if the engine refuses."""
        task = asyncio.ensure_future(self.engine.run(prompt))
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            # Ctrl+C: asyncio.run cancelled this task; stop the turn, not the REPL.
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            self.engine.cancel()
            result = await task
        self.printer.finish(result)
        return result

    async def command(self, line: str) -> str | None:
        """Run a slash command, printing its error if it fails; "quit" to leave."""
        from tau_engine.errors import TauError

        try:
            return await self.execute(line)
        except TauError as exc:
            self.err.write(plain(f"tau: error: {exc}") + "\n")
        return None

    def cancel_command(self) -> None:
        """Stop the running command (a mission stops in its phase, resumable)."""
        if self._command is not None:
            self._command.cancel()

    async def execute(self, line: str) -> str | None:
        """Run a slash command of the engine's table and print its result; "quit" to
        leave. Raises ``TauError`` (``UsageError`` for an unknown command). Ctrl+C (or
        ``cancel_command``) stops a long command such as ``/mission``, not the REPL."""
        command, given = self.table.lookup(line)
        task = asyncio.ensure_future(
            self.table.run(CommandContext.of(self.engine, self.table), command, given)
        )
        self._command = task
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                current.uncancel()  # Ctrl+C: asyncio.run cancelled this task
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            what = self.missions.stopped_line() if command.name == "mission" else "stopped"
            self.err.write(plain(f"tau: /{command.name} interrupted: {what}") + "\n")
            return None
        finally:
            self._command = None
        if isinstance(result, QuitRequested):
            return "quit"
        self.show(result)
        return None

    def show(self, result: Any) -> None:
        """Print a command's result: its lines on stdout, warnings and errors on stderr."""
        if isinstance(result, HelpShown):
            self.out.write(help_text(result.commands) + "\n" + HELP_FOOTER + "\n")
            return
        for line in result_lines(result):
            if line.level == "info":
                self.out.write(line.text + "\n")
            else:
                self.err.write(f"tau: {line.level}: {line.text}\n")


def shared_history(path: Path) -> Any:
    """prompt-toolkit's history over the workspace's ``PromptHistory`` file: the app and
    ``tau --line`` share one format, and each keeps the other's prompts."""
    from prompt_toolkit.history import History, ThreadedHistory

    from tau_tui.widgets.prompt_history import PromptHistory

    class SharedHistory(History):
        def __init__(self) -> None:
            super().__init__()
            self.prompts = PromptHistory(path)

        def load_history_strings(self) -> Iterable[str]:
            return list(reversed(self.prompts.load()))  # prompt-toolkit wants newest first

        def store_string(self, string: str) -> None:
            self.prompts.add(string)
            self.prompts.save()

    return ThreadedHistory(SharedHistory())


async def open_offering_fork(
    open_engine: Callable[..., Awaitable[Any]], ask: Ask, err: IO[str]
) -> Any:
    """Open the engine; if another tau process is running the session to resume, offer
    to fork it or start a new session (anything else re-raises the refusal)."""
    from tau_engine.errors import SessionLockedError

    try:
        return await open_engine()
    except SessionLockedError as busy:
        err.write(f"tau: {busy.message.split(';')[0]}\n")
        try:
            answer = await ask("[f]ork it, start a [n]ew session, or [q]uit? ")
        except (EOFError, KeyboardInterrupt):
            raise busy from None
        choice = {"f": "fork", "n": "new"}.get(answer.strip().lower()[:1])
        if choice is None:
            raise
        return await open_engine(if_busy=choice)


def run_repl(
    *,
    workspace: str | None,
    cli_settings: dict[str, Any],
    resume: str | None,
    continue_latest: bool,
    script_path: str | None,
    trust: bool = False,
    first_prompt: str | None = None,
) -> int:
    """Entry point of ``tau --line``; ``first_prompt`` is sent before the first question.
    It does not ask about trust: the workspace's own settings that need it load when the
    user trusted it (``tau trust``) or ``trust``."""
    from prompt_toolkit import PromptSession

    from tau_engine.engine import Engine
    from tau_engine.paths import WorkspacePaths
    from tau_engine.resources.trust import load_run_settings

    paths = WorkspacePaths.locate(workspace)
    settings = load_run_settings(paths, cli_settings, default_approval="ask", grant=trust)
    paths.ensure()
    session: PromptSession[str] = PromptSession(history=shared_history(paths.history_path))
    # Approval answers (y/a/n) are not prompts: they stay out of the shared history.
    answers: PromptSession[str] = PromptSession()

    async def ask(message: str) -> str:
        return await session.prompt_async(message)

    async def answer(message: str) -> str:
        return await answers.prompt_async(message)

    if first_prompt and first_prompt.strip():
        session.history.append_string(first_prompt)  # recalled with ↑, as in the app

    async def main() -> int:
        approver = LineApprover(answer, sys.stdout)

        async def open_engine(**options: Any) -> Any:
            return await Engine.open(
                workspace=paths,
                settings=settings,
                approver=approver,
                resume=resume,
                continue_latest=continue_latest,
                default_approval="ask",
                script_path=Path(script_path) if script_path else None,
                **options,
            )

        import signal

        from tau_tui.stop_signals import StopSignals

        repl: LineRepl | None = None
        early: list[int] = []

        def stop(signum: int) -> None:
            if repl is not None:
                repl.stop(signum)
            else:
                early.append(signum)

        # Ctrl+C stays asyncio's and prompt-toolkit's: it interrupts a turn, not the REPL.
        signals = StopSignals(stop).install(
            asyncio.get_running_loop(), (signal.SIGTERM, signal.SIGHUP)
        )
        try:
            engine = await open_offering_fork(open_engine, ask, sys.stderr)
            try:
                repl = LineRepl(engine, ask, sys.stdout, sys.stderr)
                for signum in early:
                    repl.stop(signum)
                return await repl.loop(first_prompt)
            finally:
                await engine.close()
        finally:
            signals.uninstall()

    return asyncio.run(main())
