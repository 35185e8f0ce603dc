"""``echo PROMPT | tau``: a scripted session, for when stdin or stdout is not a terminal.

A full-screen app cannot run into a pipe, so tau reads its input instead: one
prompt per line (a line ending in ``\\`` continues on the next one; blank lines
are skipped), slash commands included (``/cost``, ``/model ID``, ``/undo``:
the line REPL's own), all in one session. Output is plain: the headless
printer's text (the answer on stdout, one line per tool call on stderr), and
the headless exit codes. The first prompt or command that fails stops the
session with its code and one line on stderr naming the input line: 1 for a
failed run, 2 for bad input (an unknown command, a bad model), 130 when
interrupted, 141 when the reader of stdout went away.

As with ``tau -p``, nobody is asked for approvals: what the mode does not allow
(default ``auto-edit``) is denied and the model is told.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTINUATION = "\\"


@dataclass(frozen=True)
class ScriptLine:
    """One prompt or command of the input, with the number of the line it starts on."""

    number: int
    text: str


class ScriptReader:
    """Reads ``ScriptLine``s from a file descriptor as they arrive.

    A daemon thread does the blocking reads (stdin may be a terminal that a user
    types into, or a pipe whose writer pauses), so an interrupt never waits for
    input and the process can end while the thread is still blocked. It reads the
    raw descriptor with ``os.read``: a thread blocked inside ``sys.stdin``'s buffered
    reader would hold its lock, and the interpreter aborts when it finds that lock
    taken at exit."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._queue: asyncio.Queue[bytes | None] | None = None
        self._number = 0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._queue = queue

        def put(item: bytes | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop has already closed
                pass

        def pump() -> None:
            pending: list[bytes] = []  # the pieces of a line still without its newline
            try:
                while chunk := os.read(self.fd, 65536):
                    *ends, rest = chunk.split(b"\n")
                    for end in ends:
                        put(b"".join([*pending, end, b"\n"]))
                        pending = []
                    if rest:
                        pending.append(rest)
            except OSError:
                pass
            if pending:
                put(b"".join(pending))
            put(None)

        threading.Thread(target=pump, name="tau-script-reader", daemon=True).start()

    def wake(self) -> None:
        """End the input now: a waiting ``next`` returns None (after an interrupt)."""
        if self._queue is not None:
            self._queue.put_nowait(None)

    async def next(self) -> ScriptLine | None:
        """The next prompt or command, or None at the end of the input."""
        from tau_engine.errors import UsageError

        assert self._queue is not None, "start() first"
        parts: list[str] = []
        first = 0
        while True:
            raw = await self._queue.get()
            if raw is None:
                self._queue.put_nowait(None)  # the end stays the end
                # A trailing backslash on the last line: send what was continued.
                text = "\n".join(parts)
                return ScriptLine(first, text) if text.strip() else None
            self._number += 1
            try:
                line = raw.decode("utf-8").rstrip("\n").rstrip("\r")
            except UnicodeDecodeError:
                raise UsageError(f"line {self._number}: not UTF-8 text") from None
            if not parts:
                first = self._number
            if line.endswith(CONTINUATION):
                parts.append(line[:-1])
                continue
            parts.append(line)
            text = "\n".join(parts)
            parts = []
            if text.strip():
                return ScriptLine(first, text)


def run_scripted(args: argparse.Namespace, cli_settings: dict[str, Any]) -> int:
    """Run the session over stdin; returns the process exit code."""
    from tau_engine.errors import UsageError
    from tau_engine.paths import WorkspacePaths
    from tau_engine.resources.trust import load_run_settings
    from tau_tui.headless.run import DEFAULT_APPROVAL

    if args.output_format != "text":
        raise UsageError(
            f"--output-format {args.output_format} needs -p PROMPT; a session "
            "read from stdin prints text"
        )
    paths = WorkspacePaths.locate(args.workspace)
    # As in tau -p, nobody is asked about trust: `tau trust` or --trust grants it.
    # Nothing set up is an error only once there is a prompt to run (see _session).
    settings = load_run_settings(
        paths,
        cli_settings,
        default_approval=DEFAULT_APPROVAL,
        grant=getattr(args, "trust", False),
        require_setup=False,
    )
    try:
        stdin = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        raise UsageError("no standard input to read prompts from") from None
    script = Path(args.script) if args.script else None
    color = not args.no_color and sys.stderr.isatty()
    return asyncio.run(_session(paths, settings, args, script, ScriptReader(stdin), color))


async def _session(
    paths: Any,
    settings: Any,
    args: argparse.Namespace,
    script: Path | None,
    reader: ScriptReader,
    color: bool,
) -> int:
    from tau_tui.headless.run import open_headless_engine
    from tau_tui.repl import LineRepl

    reader.start()
    first = await reader.next()
    if first is None:
        return 0  # no input at all: nothing to open a session for
    from tau_engine.resources.setup_state import require_setup

    await asyncio.to_thread(require_setup, paths, settings)
    engine = await open_headless_engine(paths, settings, args, script)
    try:
        repl = LineRepl(engine, _no_questions, sys.stdout, sys.stderr)
        repl.printer.color = color
        return await ScriptedSession(repl, reader).run(first)
    finally:
        await engine.close()


async def _no_questions(message: str) -> str:
    raise EOFError  # never called: a scripted session has no approver


class ScriptedSession:
    """Feeds a ``ScriptReader``'s lines to a ``LineRepl``: its turns and its commands."""

    def __init__(self, repl: Any, reader: ScriptReader) -> None:
        self.repl = repl
        self.reader = reader
        self.interrupted = False

    def interrupt(self) -> None:
        """Ctrl+C/SIGTERM: the running turn stops (the engine is told separately) and no
        further line runs, whether the signal came during a turn, between two, or
        while waiting for input."""
        self.interrupted = True
        self.repl.cancel_command()  # a running /mission stops in its phase, resumable
        self.reader.wake()

    async def run(self, first: ScriptLine | None = None) -> int:
        """Run every line (``first`` already read); returns the exit code."""
        from tau_tui.headless.run import install_interrupts

        install_interrupts(self.repl.engine, on_interrupt=self.interrupt)
        self.repl.printer.on_broken = self.repl.engine.cancel
        code = await self._lines(first)
        if self.interrupted and code in (0, 130):
            self.repl.err.write("tau: interrupted\n")
            return 130
        return code

    async def _lines(self, item: ScriptLine | None) -> int:
        from tau_engine.errors import TauError
        from tau_tui.guard import silence_stdout
        from tau_tui.headless.run import exit_code_of

        printer = self.repl.printer
        while not self.interrupted:
            try:
                if item is None:
                    item = await self.reader.next()
                if item is None or self.interrupted:
                    return 0
                if item.text.lstrip().startswith("/"):
                    outcome = await self.repl.execute(item.text.strip())
                    self.repl.out.flush()
                    if outcome == "quit":
                        return 0
                    item = None
                    continue
                number = item.number
                result = await self.repl.run_turn(item.text)
            except BrokenPipeError:
                printer.broken = True
            except TauError as exc:
                if not printer.broken:
                    where = f"line {item.number}: " if item is not None else ""
                    self.repl.err.write(f"tau: error: {where}{exc}\n")
                    return exc.exit_code
            if printer.broken:
                # The reader went away: end quietly, as `git log | head` does.
                silence_stdout()
                return 141
            code = exit_code_of(result)
            if code != 0:
                if result.stop_reason == "interrupted":
                    self.interrupted = False  # said here, with how to continue
                    self.repl.err.write(
                        "tau: interrupted; the partial answer is saved "
                        f"(tau --resume {result.session_id[:8]} to continue)\n"
                    )
                else:
                    self.repl.err.write(
                        f"tau: error: line {number}: the run stopped "
                        f"({result.stop_reason}); the rest of the input is "
                        "not run\n"
                    )
                return code
            item = None
        return 0
