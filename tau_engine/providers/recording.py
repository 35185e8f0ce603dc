"""``--record FILE``: write every provider exchange of a run as an ``offline/replay`` script.

``RecordingProvider`` wraps the provider a run streams from. For each call it
keeps what came back (text, thinking, tool calls, usage, stop reason, or the
error) together with a summary of the request it answered, and rewrites the
script file atomically after each call, so the file is valid even if the run
is killed. ``tau -p ... --model offline/replay --script FILE`` then reproduces
the session with no network and no key.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from tau_engine.errors import ProviderError
from tau_engine.paths import atomic_write_text
from tau_engine.providers.base import (
    Provider,
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    ThinkingChunk,
    ToolCallReady,
    UsageReport,
)

SCRIPT_VERSION = 1


def request_summary(request: ProviderRequest) -> dict[str, Any]:
    """What a reader of the script needs to see of the request: never keys or headers."""
    return {
        "model": request.model,
        "messages": [m.model_dump(mode="json", exclude_defaults=True) for m in request.messages],
        "tools": [tool.name for tool in request.tools],
    }


class RecordingProvider:
    """A provider that records each exchange of ``inner`` into a replay script."""

    def __init__(
        self, inner: Provider, path: Path, *, redact: Callable[[Any], Any] | None = None
    ) -> None:
        """``redact`` (the engine's redaction funnel) sees everything written to the file."""
        self.inner = inner
        self.name = inner.name
        self.path = path
        self.redact = redact
        self.turns: list[dict[str, Any]] = []
        self._write()  # fail early (bad path) rather than after a paid model call

    async def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        turn: dict[str, Any] = {"request": request_summary(request)}
        text: list[str] = []
        thinking: list[str] = []
        calls: list[dict[str, Any]] = []
        try:
            async for event in self.inner.stream(request):
                if isinstance(event, TextChunk):
                    text.append(event.text)
                elif isinstance(event, ThinkingChunk):
                    thinking.append(event.text)
                elif isinstance(event, ToolCallReady):
                    calls.append(
                        {
                            "id": event.call.id,
                            "name": event.call.name,
                            "arguments": event.call.arguments,
                        }
                    )
                elif isinstance(event, UsageReport):
                    turn["usage"] = {
                        "input_tokens": event.usage.input_tokens,
                        "output_tokens": event.usage.output_tokens,
                    }
                elif isinstance(event, StreamEnd):
                    turn["stop_reason"] = event.stop_reason
                yield event
        except ProviderError as exc:
            turn["error"] = {
                "kind": exc.kind,
                "message": exc.message,
                "status": exc.status,
                "retryable": exc.retryable,
                "retry_after": exc.retry_after,
            }
            raise
        finally:
            if text:
                turn["text"] = "".join(text)
            if thinking:
                turn["thinking"] = "".join(thinking)
            if calls:
                turn["tool_calls"] = calls
            self.turns.append(turn)
            self._write()

    def _write(self) -> None:
        turns = self.redact(self.turns) if self.redact is not None else self.turns
        body = {"version": SCRIPT_VERSION, "turns": turns}
        atomic_write_text(self.path, json.dumps(body, indent=1, ensure_ascii=False) + "\n")

    async def aclose(self) -> None:
        await self.inner.aclose()
