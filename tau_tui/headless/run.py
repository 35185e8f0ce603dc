"""``tau -p``: one prompt, run headless, rendered by the output format's renderer.

No approver is injected: whatever needs approval in the chosen mode (default
``auto-edit``) is denied and the denial goes back to the model. Nobody is asked
about trust either: the workspace's own settings that need trust load only if
the user trusted it (``tau trust``) or passed ``--trust``. SIGINT, SIGTERM and
SIGHUP interrupt the turn cleanly (the partial answer is saved, the tools'
process groups are killed) and exit 130, 143 and 129.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from tau_tui.guard import silence_stdout
from tau_tui.headless.output import HeadlessRenderer
from tau_tui.stop_signals import StopSignals, detach_from_terminal, exit_code_for

_EXIT_BY_STOP = {"end_turn": 0, "max_tokens": 0, "interrupted": 130}
DEFAULT_APPROVAL = "auto-edit"


def compose_prompt(prompt_arg: str, read_stdin: Callable[[], str | None]) -> str:
    """The prompt text: ``-`` reads it from stdin (``read_stdin`` gives None for a
    terminal); otherwise piped stdin is attached."""
    from tau_engine.errors import UsageError

    if prompt_arg == "-":
        text = read_stdin()
        if text is None:
            raise UsageError(
                "-p without a prompt reads it from stdin, but stdin is a "
                "terminal: give one (tau -p PROMPT) or pipe it in"
            )
        if not text.strip():
            raise UsageError("-p without a prompt reads it from stdin, but stdin was empty")
        return text
    if not prompt_arg.strip():
        raise UsageError("the prompt is empty")
    piped = read_stdin()
    if piped and piped.strip():
        return f"{prompt_arg}\n\n<stdin>\n{piped.rstrip()}\n</stdin>"
    return prompt_arg


def run_headless(
    args: argparse.Namespace, cli_settings: dict[str, Any], read_stdin: Callable[[], str | None]
) -> int:
    """Run one headless prompt; returns the process exit code.

    With ``--output-format json`` a run that fails before or outside a turn (bad
    usage, a missing key, an internal error) still ends stdout with one JSON object,
    ``is_error: true``; the error line on stderr comes from the CLI as usual."""
    try:
        return _run_headless(args, cli_settings, read_stdin)
    except (Exception, KeyboardInterrupt) as exc:
        if args.output_format == "json" and not isinstance(exc, BrokenPipeError):
            _write_failure_json(exc)
        raise


def _run_headless(
    args: argparse.Namespace, cli_settings: dict[str, Any], read_stdin: Callable[[], str | None]
) -> int:
    from tau_engine.paths import WorkspacePaths
    from tau_engine.resources.trust import load_run_settings

    prompt = compose_prompt(args.prompt, read_stdin)
    paths = WorkspacePaths.locate(args.workspace)
    settings = load_run_settings(
        paths, cli_settings, default_approval=DEFAULT_APPROVAL, grant=getattr(args, "trust", False)
    )
    color = not args.no_color and sys.stderr.isatty()
    printer = renderer_for(args.output_format, sys.stdout, sys.stderr, color=color)
    script = Path(args.script) if args.script else None
    return asyncio.run(_run(paths, settings, prompt, printer, args, script))


def renderer_for(fmt: str, out: IO[str], err: IO[str], *, color: bool) -> HeadlessRenderer:
    """The renderer of one ``--output-format``: ``text``, ``json`` or ``stream-json``."""
    if fmt == "stream-json":
        from tau_tui.headless.stream_json import StreamJsonRenderer

        return StreamJsonRenderer(out, err, color=color)
    if fmt == "json":
        from tau_tui.headless.json_result import JsonResultRenderer

        return JsonResultRenderer(out, err, color=color)
    from tau_tui.headless.text import TextRenderer

    return TextRenderer(out, err, color=color)


def _write_failure_json(exc: BaseException) -> None:
    from tau_engine.errors import TauError
    from tau_tui.headless.json_result import failure_json

    if isinstance(exc, TauError):
        message, code = str(exc), exc.exit_code
    elif isinstance(exc, KeyboardInterrupt):
        message, code = "interrupted", 130
    else:
        message, code = f"internal error: {type(exc).__name__}: {exc}", 1
    try:
        sys.stdout.write(json.dumps(failure_json(message, code), separators=(",", ":")) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass


async def open_headless_engine(
    paths: Any, settings: Any, args: argparse.Namespace, script: Path | None
) -> Any:
    """The engine of a run with no one to ask: no approver, ``auto-edit`` by default,
    and a resumed session's model or a usage error (never a quiet switch). Its notices
    of opening reach the renderer that subscribes (``Engine.subscribe``)."""
    from tau_engine.engine import Engine

    return await Engine.open(
        workspace=paths,
        settings=settings,
        approver=None,
        resume=args.resume,
        continue_latest=args.continue_latest,
        default_approval=DEFAULT_APPROVAL,
        script_path=script,
        record_path=Path(args.record) if args.record else None,
        require_session_model=True,
    )


def install_interrupts(engine: Any, on_interrupt: Callable[[], Any] | None = None) -> None:
    """SIGINT/SIGTERM stop the running turn (the partial answer is saved) and call
    ``on_interrupt`` when given; a second one ends the process with 130."""
    loop = asyncio.get_running_loop()
    interrupts = 0

    def interrupt() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            raise SystemExit(130)
        engine.cancel()
        if on_interrupt is not None:
            on_interrupt()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, interrupt)
        except (NotImplementedError, RuntimeError):
            pass


def exit_code_of(result: Any) -> int:
    """The process exit code for a finished run."""
    return _EXIT_BY_STOP.get(result.stop_reason, 1)


async def _run(
    paths: Any,
    settings: Any,
    prompt: str,
    printer: HeadlessRenderer,
    args: argparse.Namespace,
    script: Path | None,
) -> int:
    from tau_engine.engine import Engine

    engine: Engine | None = None

    def stop(_signum: int) -> None:
        if engine is not None:
            engine.cancel()

    # Installed before the engine opens, so an early signal is not the default kill.
    signals = StopSignals(stop).install(asyncio.get_running_loop())
    try:
        engine = await open_headless_engine(paths, settings, args, script)
        try:
            engine.subscribe(printer)  # the notices of opening first
            if signals.exit_code is not None:
                return signals.exit_code  # stopped before anything ran

            def output_lost() -> None:
                if printer.hung_up:
                    detach_from_terminal()  # SIGHUP may not have been handled yet
                engine.cancel()

            printer.on_broken = output_lost
            result = await engine.run(prompt)
            stopped = signals.exit_code
            printer.finish(
                result, exit_code=stopped if stopped is not None else exit_code_of(result)
            )
            if stopped is None and printer.hung_up:
                stopped = exit_code_for(signal.SIGHUP)  # the terminal went away
            if printer.broken and stopped is None:
                # The reader went away: end quietly, as `git log | head` does (128 + SIGPIPE).
                silence_stdout()
                return 141
            if result.stop_reason == "interrupted":
                sys.stderr.write(
                    "tau: interrupted; the partial answer is saved "
                    f"(tau --resume {result.session_id[:8]} to continue)\n"
                )
            if stopped is not None:
                return stopped
            return _EXIT_BY_STOP.get(result.stop_reason, 1)
        finally:
            await engine.close()
    finally:
        signals.uninstall()
