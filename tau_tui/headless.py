"""The headless printer: renders the event stream for scripts and CI.

Three output formats:

- ``text``: the answer streams to stdout; tool activity goes to stderr, one
  line per call (``tool=edit path=src/x.py ok``), coloured only when stderr is
  a terminal and ``--no-color`` is not given. Everything that came from the
  model, a tool or a server is stripped of terminal controls first
  (``strip_terminal_controls``): it is untrusted and must not drive the
  terminal. A running tool's ``tool_output_delta`` is not printed: the
  call's one line follows when it ends.
- ``json``: one compact JSON object on the last line of stdout, written when
  the run ends (see ``result_json``).
- ``stream-json``: one JSON object per line per engine event (``type`` is the
  event's name); each ``text_delta`` carries only its own text, so the output
  stays linear in the answer's size.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from typing import IO, Any

from tau_engine.text.terminal import strip_terminal_controls
from tau_engine.tools.label import tool_label

_ANSI = {"ok": "\x1b[32m", "fail": "\x1b[31m", "dim": "\x1b[2m", "warn": "\x1b[33m",
         "reset": "\x1b[0m"}


class HeadlessPrinter:
    """An event sink for ``tau -p``. Call it with each event; ``finish`` at the end."""

    def __init__(self, fmt: str, out: IO[str], err: IO[str], *, color: bool) -> None:
        self.fmt = fmt
        self.out = out
        self.err = err
        self.color = color
        self._targets: dict[str, str] = {}
        self._text_open = False
        self._flush_each = fmt != "json" and out.isatty()
        # Set when the reader of stdout went away (``tau -p ... | head``), or the
        # terminal did (``hung_up``: a write failed with EIO, as after SIGHUP); the
        # runner then stops the turn instead of working for nobody.
        self.broken = False
        self.hung_up = False
        self.on_broken: Callable[[], None] | None = None

    def _paint(self, text: str, style: str) -> str:
        return f"{_ANSI[style]}{text}{_ANSI['reset']}" if self.color else text

    def __call__(self, event: Any) -> None:
        if self.broken:
            return
        try:
            self._render(event)
        except OSError as exc:
            self._output_lost(exc)

    def _output_lost(self, exc: OSError) -> None:
        if not isinstance(exc, BrokenPipeError) and exc.errno != errno.EIO:
            raise exc
        self.broken = True
        self.hung_up = exc.errno == errno.EIO
        if self.on_broken is not None:
            self.on_broken()

    def _render(self, event: Any) -> None:
        kind = event.type
        if self.fmt == "stream-json":
            self.out.write(event.model_dump_json())
            self.out.write("\n")
            if self._flush_each:
                self.out.flush()
            return
        if kind == "text_delta":
            if self.fmt == "text":
                text = strip_terminal_controls(event.text)
                self.out.write(text)
                self._text_open = not text.endswith("\n") if text else self._text_open
                if self._flush_each:
                    self.out.flush()
        elif kind == "tool_call":
            self._targets[event.call_id] = strip_terminal_controls(
                str(tool_label(event.name, event.arguments)))
        elif kind == "tool_result":
            self._end_text_line()
            target = self._targets.pop(event.call_id, "")
            if event.denied:
                status = self._paint("denied", "warn")
            elif event.ok:
                status = self._paint("ok", "ok")
            else:
                output = strip_terminal_controls(event.output).strip()
                first = output.splitlines()[0] if output else ""
                status = self._paint("error", "fail") + (f" {first[:120]}" if first else "")
            name = strip_terminal_controls(event.name)
            line = " ".join(p for p in (f"tool={name}", target, status) if p)
            self.err.write(line + "\n")
            self.err.flush()
        elif kind == "turn_finished" and self.fmt == "text":
            self._end_text_line()
        elif kind == "notice":
            self._end_text_line()
            message = strip_terminal_controls(f"tau: {event.kind}: {event.message}")
            self.err.write(self._paint(message, "dim") + "\n")
            self.err.flush()
        elif kind == "error":
            self._end_text_line()
            message = strip_terminal_controls(f"tau: error: {event.message}")
            self.err.write(self._paint(message, "fail") + "\n")
            self.err.flush()

    def _end_text_line(self) -> None:
        if self._text_open and self.fmt == "text":
            self.out.write("\n")
            self.out.flush()
            self._text_open = False

    def finish(self, result: Any, exit_code: int | None = None) -> None:
        """Write what ends the output: the final newline, or the json object (with the
        process's ``exit_code`` when the caller knows it)."""
        if self.broken:
            return
        try:
            self._end_text_line()
            if self.fmt == "json":
                obj = result_json(result, exit_code)
                self.out.write(json.dumps(obj, separators=(",", ":")) + "\n")
            self.out.flush()
        except OSError as exc:
            self._output_lost(exc)


def result_json(result: Any, exit_code: int | None = None) -> dict[str, Any]:
    """The ``--output-format json`` object of a run. ``is_error`` and ``exit_code`` say
    how the process ends (without ``exit_code``: 0 when the run ended normally, else 1)."""
    if exit_code is None:
        exit_code = 0 if result.stop_reason in ("end_turn", "max_tokens") else 1
    return {
        "is_error": exit_code != 0,
        "exit_code": exit_code,
        "session_id": result.session_id,
        "result": result.result,
        "stop_reason": result.stop_reason,
        "turns": result.turns,
        "usage": {"input_tokens": result.usage.input_tokens,
                  "output_tokens": result.usage.output_tokens,
                  # Only when tau counted the tokens itself (the server reported none).
                  **({"estimated": True} if result.usage.estimated else {})},
        "cost_usd": result.cost_usd,
        "tool_calls": [{"name": c.name, "arguments": c.arguments, "ok": c.ok,
                        "denied": c.denied} for c in result.tool_calls],
        "permission_denials": sum(1 for c in result.tool_calls if c.denied),
        "duration_ms": round(result.duration_ms, 1),
        "error": result.error,
    }


def failure_json(error: str, exit_code: int) -> dict[str, Any]:
    """The ``--output-format json`` object of a run that failed before it could end
    normally (bad usage, a missing key, an internal error): the same keys as
    ``result_json``, empty where nothing happened."""
    return {
        "is_error": True, "exit_code": exit_code, "session_id": None, "result": "",
        "stop_reason": "error", "turns": 0,
        "usage": {"input_tokens": 0, "output_tokens": 0}, "cost_usd": None,
        "tool_calls": [], "permission_denials": 0, "duration_ms": 0.0, "error": error,
    }
