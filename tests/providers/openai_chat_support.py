"""What the OpenAIChatProvider tests share: a provider on the loopback server, a request,
and ways to collect a stream or its failure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tau_engine.conversation import ToolSpec
from tau_engine.errors import ProviderError
from tau_engine.providers.base import (
    ProviderEvent,
    ProviderRequest,
)
from tau_engine.providers.openai_chat import OpenAIChatProvider
from tests.support.provider_run import request_maker, stream_events
from tests.support.scripted_server import ScriptedServer

READ_TOOL = ToolSpec(
    name="read",
    description="Read a file.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)

simple_request = request_maker("gpt-test", system="be brief", prompt="hello")


def make_provider(
    server: ScriptedServer, name: str = "openai", **kwargs: Any
) -> OpenAIChatProvider:
    kwargs.setdefault("api_key", "sk-test")
    kwargs.setdefault("timeout_s", 5.0)
    return OpenAIChatProvider(name=name, base_url=server.url + "/v1", **kwargs)


async def collect(
    provider: OpenAIChatProvider, request: ProviderRequest | None = None
) -> list[ProviderEvent]:
    return await stream_events(provider, request or simple_request())


async def failure(provider: OpenAIChatProvider) -> tuple[ProviderError, list[ProviderEvent]]:
    seen: list[ProviderEvent] = []
    with pytest.raises(ProviderError) as caught:
        try:
            async for event in provider.stream(simple_request()):
                seen.append(event)
        finally:
            await provider.aclose()
    return caught.value, seen


def sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"
