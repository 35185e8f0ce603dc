"""Providers that need no network: ``offline/echo`` and ``offline/replay``.

``echo`` answers every request by describing it (how many messages, the last
user message, the tools offered), streamed in small chunks with a fake but
deterministic usage (about one token per four characters). It never calls a
tool, so a session against it always ends after one turn: good for trying the
UI, demos and tests that need a model but not its intelligence.

``replay`` plays back a script of assistant turns, one per ``stream()`` call.
The script is JSON::

    {
      "version": 1,
      "turns": [
        {
          "text": "I'll read the file.",            # optional, default ""
          "thinking": "...",                      # optional, streamed as thinking
          "tool_calls": [                         # optional
            {"name": "read", "arguments": {"path": "a.py"}, "id": "optional"}
          ],
          "usage": {"input_tokens": 120, "output_tokens": 14},   # optional
          "stop_reason": "tool_use",              # optional: tool_use if there are
                                                  # tool calls, else end_turn
          "error": {"kind": "rate_limit", "message": "...",      # optional: this
                    "status": 429, "retryable": true,            # turn fails instead
                    "retry_after": 1.5},
          "request": {...}                        # optional, ignored on replay
        }
      ]
    }

A bare list of turns is accepted too. ``request`` is where a recorder
(``--record FILE``) keeps what was sent, for a human reading the script; replay
does not compare it. Tool calls without an ``id`` get ``call_<turn>_<n>``
(both 1-based). When every turn has been used, the next call raises
``ProviderError(kind="script_exhausted")``. A malformed script is a
``UsageError`` naming the file and the problem, raised at construction.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tau_engine.conversation import ToolCall, Usage
from tau_engine.errors import ProviderError, UsageError
from tau_engine.providers.base import (
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    ThinkingChunk,
    ToolCallReady,
    UsageReport,
)

OFFLINE_MODELS = ("echo", "replay")
_CHUNK_CHARS = 12
_QUOTE_CHARS = 200


class ReplayToolCall(BaseModel):
    """One scripted tool call."""

    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None


class ReplayError(BaseModel):
    """A scripted failure: the turn raises this ``ProviderError`` instead of answering."""

    model_config = ConfigDict(extra="forbid")

    kind: str = "server"
    message: str = "scripted failure"
    status: int | None = None
    retryable: bool = False
    retry_after: float | None = None


class ReplayTurn(BaseModel):
    """One scripted assistant turn."""

    model_config = ConfigDict(extra="forbid")

    text: str = ""
    thinking: str = ""
    tool_calls: list[ReplayToolCall] = Field(default_factory=list)
    usage: Usage | None = None
    stop_reason: str | None = None
    error: ReplayError | None = None
    request: dict[str, Any] | None = None


class ReplayScript(BaseModel):
    """A whole replay file."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    turns: list[ReplayTurn]


def load_replay_script(path: Path) -> ReplayScript:
    """Read and validate a replay script; ``UsageError`` names the file and the problem."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read replay script {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(f"replay script {path} is not valid JSON: {exc}") from exc
    if isinstance(raw, list):
        raw = {"version": 1, "turns": raw}
    try:
        return ReplayScript.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        raise UsageError(f"replay script {path}: {where}: {first['msg']}") from exc


class OfflineProvider:
    """The ``offline`` provider: ``echo`` or ``replay`` (with ``script_path``)."""

    name = "offline"

    def __init__(
        self,
        model: str = "echo",
        *,
        script_path: Path | None = None,
        chunk_chars: int = _CHUNK_CHARS,
    ) -> None:
        if model not in OFFLINE_MODELS:
            raise UsageError(f"unknown offline model {model!r}; use offline/echo or offline/replay")
        if model == "replay" and script_path is None:
            raise UsageError("offline/replay needs a script file (a JSON list of turns)")
        self.model = model
        self.script_path = script_path
        self._chunk_chars = max(1, chunk_chars)
        self._turns = load_replay_script(script_path).turns if script_path else []
        self._next_turn = 0

    @property
    def turns_left(self) -> int:
        return len(self._turns) - self._next_turn

    def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        """Answer one call. In replay mode, the turn is taken when ``stream`` is called."""
        if self.model == "echo":
            return self._echo(request)
        index = self._next_turn
        if index < len(self._turns):
            self._next_turn += 1
        return self._replay(index)

    async def aclose(self) -> None:
        """Nothing to release."""

    async def _echo(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        text = describe_request(request)
        async for chunk in self._chunks(text):
            yield chunk
        yield UsageReport(
            Usage(input_tokens=_tokens(_request_chars(request)), output_tokens=_tokens(len(text)))
        )
        yield StreamEnd(stop_reason="end_turn", raw_reason="end_turn")

    async def _replay(self, index: int) -> AsyncIterator[ProviderEvent]:
        if index >= len(self._turns):
            raise ProviderError(
                f"replay script {self.script_path} has no turn left (all {len(self._turns)} used)",
                kind="script_exhausted",
                provider=self.name,
            )
        turn = self._turns[index]
        if turn.error is not None:
            failure = turn.error
            raise ProviderError(
                failure.message,
                kind=failure.kind,
                status=failure.status,
                provider=self.name,
                retryable=failure.retryable,
                retry_after=failure.retry_after,
            )
        if turn.thinking:
            yield ThinkingChunk(turn.thinking)
        async for chunk in self._chunks(turn.text):
            yield chunk
        for n, call in enumerate(turn.tool_calls, start=1):
            call_id = call.id or f"call_{index + 1}_{n}"
            yield ToolCallReady(ToolCall(id=call_id, name=call.name, arguments=call.arguments))
        usage = turn.usage or Usage(output_tokens=_tokens(len(turn.text)))
        yield UsageReport(usage)
        stop = turn.stop_reason or ("tool_use" if turn.tool_calls else "end_turn")
        yield StreamEnd(stop_reason=stop, raw_reason=stop)

    async def _chunks(self, text: str) -> AsyncIterator[TextChunk]:
        size = self._chunk_chars
        for start in range(0, len(text), size):
            yield TextChunk(text[start : start + size])
            # Let other tasks (the UI, a cancel) run between chunks, as with a real stream.
            await asyncio.sleep(0)


def describe_request(request: ProviderRequest) -> str:
    """The echo model's answer: a one-paragraph description of what it received."""
    count = len(request.messages)
    last_user = next((m.content for m in reversed(request.messages) if m.role == "user"), None)
    if last_user is None:
        quoted = "no user message"
    else:
        flat = " ".join(last_user.split())
        if len(flat) > _QUOTE_CHARS:
            flat = flat[: _QUOTE_CHARS - 1] + "…"
        quoted = f"last user message: '{flat}'"
    tools = ", ".join(tool.name for tool in request.tools) or "none"
    results = sum(1 for m in request.messages if m.role == "tool")
    parts = [f"offline/echo received {count} message(s)", quoted, f"tools available: {tools}"]
    if results:
        parts.append(f"tool results: {results}")
    return "; ".join(parts) + "."


def _request_chars(request: ProviderRequest) -> int:
    chars = len(request.system)
    for message in request.messages:
        chars += len(message.content)
        chars += sum(
            len(json.dumps(call.arguments)) + len(call.name) for call in message.tool_calls
        )
    chars += sum(
        len(t.name) + len(t.description) + len(json.dumps(t.parameters)) for t in request.tools
    )
    return chars


def _tokens(chars: int) -> int:
    return max(1, math.ceil(chars / 4))
