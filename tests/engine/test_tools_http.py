"""http against the loopback scripted server (never the internet)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tau_engine.errors import ToolError
from tau_engine.safety.workspace import WorkspaceGuard
from tau_engine.tools.base import ToolContext, ToolOutcome
from tau_engine.tools.http import HttpTool
from tests.support.scripted_server import ScriptedResponse, ScriptedServer


@pytest.fixture(scope="module")
def running_server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def server(running_server: ScriptedServer) -> ScriptedServer:
    running_server.requests.clear()
    assert running_server.pending == 0
    return running_server


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(workspace=tmp_path, guard=WorkspaceGuard(tmp_path))


def loopback_http(**options: Any) -> HttpTool:
    """The http tool allowed to reach the loopback test server (as a user's allow-list
    entry would allow a local service)."""
    return HttpTool(allow=["127.0.0.1"], **options)


async def call(ctx: ToolContext, tool: HttpTool | None = None, **arguments: Any) -> ToolOutcome:
    tool = tool or loopback_http()
    return await tool.run(tool.parse_args(arguments), ctx)


async def test_get_returns_status_headers_and_text_body(
    server: ScriptedServer, ctx: ToolContext
) -> None:
    server.add(
        ScriptedResponse.json(200, {"ok": True}, headers={"ETag": '"v1"', "X-Noise": "hidden"})
    )
    out = await call(ctx, url=f"{server.url}/status")
    assert out.output == 'HTTP 200 OK\ncontent-type: application/json\netag: "v1"\n\n{"ok": true}'
    assert out.ok and out.data == {"status": 200}
    assert server.requests[0].method == "GET" and server.requests[0].path == "/status"


async def test_post_sends_headers_and_body(server: ScriptedServer, ctx: ToolContext) -> None:
    server.add(ScriptedResponse(status=201, chunks=[b"created"], content_type="text/plain"))
    out = await call(
        ctx,
        url=f"{server.url}/items",
        method="post",
        headers={"Content-Type": "application/json", "X-Token": "t"},
        body='{"name": "x"}',
    )
    request = server.requests[0]
    assert request.method == "POST"
    assert request.headers["x-token"] == "t"
    assert request.json == {"name": "x"}
    assert out.output.startswith("HTTP 201 Created\n") and out.output.endswith("\n\ncreated")


async def test_error_status_is_not_ok(server: ScriptedServer, ctx: ToolContext) -> None:
    server.add(ScriptedResponse(status=404, chunks=[b"no such page"], content_type="text/html"))
    out = await call(ctx, url=f"{server.url}/missing")
    assert out.output.startswith("HTTP 404 Not Found\n")
    assert not out.ok and out.data == {"status": 404}


async def test_binary_body_is_described_not_shown(server: ScriptedServer, ctx: ToolContext) -> None:
    server.add(
        ScriptedResponse(chunks=[b"\x89PNG\r\n\x1a\n\x00\x00" * 10], content_type="image/png")
    )
    out = await call(ctx, url=f"{server.url}/logo.png")
    assert out.output.endswith("\n\n[binary body: image/png, 100 bytes]")


async def test_long_body_is_cut(server: ScriptedServer, ctx: ToolContext) -> None:
    ctx.max_output_chars = 1000
    server.add(
        ScriptedResponse(chunks=[b"x" * 3000, b"y" * 3000, b"z" * 3000], content_type="text/plain")
    )
    out = await call(ctx, url=f"{server.url}/big")
    body = out.output.split("\n\n", 1)[1]
    assert body == "x" * 1000 + "\n[... body truncated ...]"


async def test_timeout_and_refused_connection_are_tool_errors(
    server: ScriptedServer, ctx: ToolContext
) -> None:
    server.add(ScriptedResponse(hang_s=1.0, chunks=[b"late"], content_type="text/plain"))
    with pytest.raises(ToolError, match=r"GET .*/slow timed out after 0.2s"):
        await call(ctx, loopback_http(timeout_s=0.2), url=f"{server.url}/slow")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ToolError, match=r"GET http://127.0.0.1:\d+/ failed: ConnectError"):
        await call(ctx, url=f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize(
    "arguments,needle",
    [
        ({"url": "file:///etc/passwd"}, "only http:// and https:// URLs"),
        ({"url": "ftp://example.com/x"}, "only http:// and https:// URLs"),
        ({"url": "example.com/page"}, "only http:// and https:// URLs"),
        ({"url": "http://x", "method": "TRACE"}, "'method'"),
        ({"url": "http://x", "headers": {"a": 1}}, "'headers.a'"),
    ],
)
def test_argument_errors(arguments: dict[str, Any], needle: str) -> None:
    with pytest.raises(ToolError) as info:
        HttpTool().parse_args(arguments)
    assert needle in str(info.value)


async def test_preview_and_target_show_the_request(ctx: ToolContext) -> None:
    tool = HttpTool()
    args = tool.parse_args(
        {
            "url": "https://api.example.com/v1",
            "method": "PUT",
            "headers": {"Accept": "text/plain"},
            "body": "data",
        }
    )
    assert tool.target(args) == "PUT https://api.example.com/v1"
    assert await tool.preview(args, ctx) == (
        "PUT https://api.example.com/v1\nAccept: text/plain\n\ndata"
    )


def test_importing_the_tools_does_not_import_httpx() -> None:
    code = "import sys, tau_engine.tools.registry; print('httpx' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9/", "only https is allowed"),
        ("https://127.0.0.1:9/", "a loopback address"),
        ("https://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("https://0x7f000001/", "a loopback address"),
        ("https://[::ffff:10.0.0.1]/", "IPv4-mapped private address"),
        ("https://metadata.google.internal/", "is a local or metadata name"),
    ],
)
async def test_by_default_local_addresses_are_blocked_and_reported(
    ctx: ToolContext, url: str, why: str
) -> None:
    from tau_engine.safety.netguard import NetBlockedError

    blocked: list[NetBlockedError] = []
    tool = HttpTool(on_blocked=blocked.append)
    with pytest.raises(NetBlockedError, match="blocked") as info:
        await tool.run(tool.parse_args({"url": url}), ctx)
    assert why in str(info.value)
    assert blocked == [info.value]


async def test_a_redirect_to_a_blocked_address_is_refused(
    server: ScriptedServer, ctx: ToolContext
) -> None:
    from tau_engine.safety.netguard import NetBlockedError

    server.add(
        ScriptedResponse(
            status=302,
            chunks=[b""],
            content_type="text/plain",
            headers={"Location": "http://169.254.169.254/latest"},
        )
    )
    with pytest.raises(NetBlockedError, match=r"169\.254\.169\.254"):
        await call(ctx, url=f"{server.url}/go")
