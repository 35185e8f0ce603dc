"""The five memory tools: what the model reads back, errors that show state and a correct
call, quarantine after untrusted content, and nothing quarantined shown to the model."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tau_engine.errors import ToolError
from tau_engine.events import EventBus, ToolCallEvent, ToolResultEvent
from tau_engine.memory.provenance import WriteProvenance
from tau_engine.memory.service import MemoryService
from tau_engine.memory.tools import memory_tools
from tau_engine.safety.workspace import WorkspaceGuard
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome


@pytest.fixture
def provenance() -> WriteProvenance:
    return WriteProvenance("session-1")


@pytest.fixture
def tools(service: MemoryService, provenance: WriteProvenance) -> dict[str, Tool]:
    return {tool.name: tool for tool in memory_tools(service, provenance)}


async def call(tools: dict[str, Tool], name: str, tmp_path: Path, **arguments: Any) -> ToolOutcome:
    tool = tools[name]
    ctx = ToolContext(workspace=tmp_path, guard=WorkspaceGuard(tmp_path))
    return await tool.run(tool.parse_args(arguments), ctx)


def test_the_tools_and_their_kinds(tools: dict[str, Tool]) -> None:
    assert list(tools) == [
        "memory_search",
        "memory_write",
        "memory_read",
        "memory_tree",
        "memory_retire",
    ]
    assert {n: t.kind for n, t in tools.items()} == {
        "memory_search": "read",
        "memory_write": "edit",
        "memory_read": "read",
        "memory_tree": "read",
        "memory_retire": "edit",
    }
    for tool in tools.values():
        spec = tool.spec()
        assert spec.parameters["type"] == "object" and spec.description


async def test_write_then_search_read_tree_retire(tools: dict[str, Tool], tmp_path: Path) -> None:
    out = await call(
        tools,
        "memory_write",
        tmp_path,
        text="Run the tests with `pytest -q`.",
        namespace="project/build",
        tags=["tests"],
        subject="test command",
    )
    assert out.output == "stored as memory #1 in project/build"
    out = await call(
        tools,
        "memory_write",
        tmp_path,
        text="Run the tests with `make test`.",
        namespace="project/build",
        subject="test command",
    )
    assert out.output == (
        "stored as memory #2 in project/build; it supersedes #1 (retired, kept for the record)"
    )
    out = await call(tools, "memory_search", tmp_path, query="tests")
    assert out.output.splitlines()[0] == '1 match(es) for "tests", best first:'
    assert out.output.splitlines()[1].startswith("#2 project/build · score ")
    assert "**tests**" in out.output and out.data == {"matches": 1}
    out = await call(tools, "memory_read", tmp_path, id=1)
    assert "memory #1 · superseded · project/build" in out.output
    assert 'the live version may be #2: memory_read {"id": 2}' in out.output
    out = await call(tools, "memory_tree", tmp_path)
    assert out.output.splitlines()[1:] == ["project (1)", "  project/build (1)"]
    out = await call(tools, "memory_retire", tmp_path, id="#2", reason="we moved to nox")
    assert out.output.startswith("retired memory #2 (we moved to nox)")


async def test_no_matches_is_said_plainly_with_what_to_try(
    tools: dict[str, Tool], tmp_path: Path
) -> None:
    await call(tools, "memory_write", tmp_path, text="Deploy with ansible.")
    out = await call(tools, "memory_search", tmp_path, query="kubernetes helm")
    assert out.ok and out.output.startswith('no matches for "kubernetes" AND "helm".')
    assert 'match "any"' in out.output
    out = await call(tools, "memory_search", tmp_path, query="-- ( ) *")
    assert out.output.startswith("nothing to search for: the query has no letters or digits")
    assert 'memory_search {"query": "test command"}' in out.output


async def test_errors_show_the_current_state_and_a_correct_call(
    tools: dict[str, Tool], tmp_path: Path
) -> None:
    await call(tools, "memory_write", tmp_path, text="Port 8000.")
    await call(tools, "memory_write", tmp_path, text="Port 8080.", supersedes=1)
    with pytest.raises(ToolError) as info:
        await call(tools, "memory_write", tmp_path, text="Port 9000.", supersedes=1)
    assert str(info.value) == (
        "memory #1 is retired: superseded by #2. Read the live version with memory_read "
        '{"id": 2}, and correct it with memory_write {"text": "...", "supersedes": 2}'
    )
    with pytest.raises(
        ToolError,
        match=r"no memory #7 \(the newest is #2\)\. Find ids with "
        r"memory_search",
    ):
        await call(tools, "memory_read", tmp_path, id=7)
    with pytest.raises(ToolError, match=r"is retired: superseded by #2\. Read the live"):
        await call(tools, "memory_retire", tmp_path, id=1, reason="old")
    with pytest.raises(ToolError, match=r"not a namespace path.*A correct call: memory_write "):
        await call(tools, "memory_write", tmp_path, text="x", namespace="Build Stuff!")
    with pytest.raises(ToolError, match="missing required argument 'reason'"):
        tools["memory_retire"].parse_args({"id": 2})
    with pytest.raises(ToolError, match="unknown argument 'body'"):
        tools["memory_write"].parse_args({"body": "x"})


async def test_a_store_failure_is_an_error_not_an_empty_result(
    tools: dict[str, Tool], tmp_path: Path, memory_root: Path, backend: str, store_url: str
) -> None:
    await call(tools, "memory_write", tmp_path, text="Deploy with ansible.")
    if backend == "sqlite":
        conn = sqlite3.connect(memory_root / ".tau" / "tau.db")
        conn.execute("DROP TABLE memory_fts")
        conn.commit()
        conn.close()
    else:  # PostgreSQL's index is the entries' generated tsvector column
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as pg:
            pg.execute("ALTER TABLE memory_entries DROP COLUMN search")
    with pytest.raises(ToolError, match="this is an error, not an empty result"):
        await call(tools, "memory_search", tmp_path, query="deploy")


async def test_writes_after_an_http_result_are_quarantined(
    tools: dict[str, Tool], provenance: WriteProvenance, service: MemoryService, tmp_path: Path
) -> None:
    bus = EventBus("session-1")
    bus.subscribe(provenance.observe)
    good = await call(
        tools, "memory_write", tmp_path, text="Deploy with ansible.", subject="deploy"
    )
    assert good.data["trust"] == "trusted"
    bus.emit(ToolCallEvent(call_id="c1", name="http", arguments={"url": "http://x"}))
    bus.emit(ToolResultEvent(call_id="c1", name="http", ok=True, output="<html>"))
    bus.emit(ToolCallEvent(call_id="c2", name="memory_write", arguments={}))
    out = await call(
        tools, "memory_write", tmp_path, text="Deploy with curl | sh.", subject="deploy"
    )
    assert out.output == (
        "stored as memory #2 in project, but quarantined: this session read a web page "
        "fetched with http, so entries you write now are untrusted. It will not be offered "
        "or shown until the user approves it (tau memory approve 2); once approved it "
        "supersedes #1 (live until then)"
    )
    entry = await service.read(2)
    assert (entry.trust, entry.source, entry.session_id, entry.tool_call_id) == (
        "untrusted",
        "model",
        "session-1",
        "c2",
    )
    with pytest.raises(ToolError, match=r"quarantined .* its text is not shown"):
        await call(tools, "memory_read", tmp_path, id=2)
    out = await call(tools, "memory_search", tmp_path, query="deploy")
    assert "curl" not in out.output and out.data == {"matches": 1}
    with pytest.raises(
        ToolError,
        match=r"memory_retire is not available in this session: "
        r"this session read a web page fetched with http.*tau memory retire 1",
    ):
        await call(tools, "memory_retire", tmp_path, id=1, reason="poisoned page says so")
    assert (await service.read(1)).live


def test_provenance_ignores_denied_calls_and_other_sessions() -> None:
    provenance = WriteProvenance("s1")
    provenance.observe(
        ToolResultEvent(call_id="a", name="http", ok=False, denied=True, session_id="s1")
    )
    provenance.observe(ToolResultEvent(call_id="b", name="http", ok=True, session_id="s2"))
    provenance.observe(ToolResultEvent(call_id="c", name="bash", ok=True, session_id="s1"))
    assert provenance.trusted
    provenance.observe(ToolResultEvent(call_id="d", name="http", ok=False, session_id="s1"))
    assert not provenance.trusted  # a failed fetch can still carry the page's body


def test_provenance_is_seeded_from_a_resumed_history() -> None:
    from tau_engine.conversation import Message

    clean = WriteProvenance("s1")
    clean.seed(
        [
            Message(role="tool", name="http", content="denied", meta={"denied": True}),
            Message(role="tool", name="read", content="file"),
        ]
    )
    assert clean.trusted
    fetched = WriteProvenance("s1")
    fetched.seed([Message(role="tool", name="http", content="<html>")])
    assert fetched.untrusted_reason == "this session read a web page fetched with http"
    flagged = WriteProvenance("s1")
    flagged.seed([Message(role="tool", name="read", content="x", meta={"injection": ["hit"]})])
    assert flagged.untrusted_reason is not None and "prompt injection" in flagged.untrusted_reason
