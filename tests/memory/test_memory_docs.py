"""docs/memory.md says what the code declares: tools, commands, limits, weights, the block."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from tau_engine.memory import fields, retrieval
from tau_engine.memory.provenance import WriteProvenance
from tau_engine.memory.retrieval import budget_line, estimate_tokens
from tau_engine.memory.service import MemoryService
from tau_engine.memory.tools import memory_tools
from tau_engine.store import memory_query
from tau_engine.store.sqlite.memory_fts import BM25_WEIGHTS
from tau_tui.commands import memory as memory_command

DOCS = Path(__file__).resolve().parents[2] / "docs"
TEXT = (DOCS / "memory.md").read_text()
FLAT = " ".join(TEXT.split())  # sentences as one line, whatever the wrapping


def test_every_tool_is_documented_with_its_kind(service: MemoryService) -> None:
    for tool in memory_tools(service, WriteProvenance()):
        assert f"| `{tool.name}` | {tool.kind} |" in TEXT
        for name in tool.parameters["properties"]:
            assert f"`{name}" in TEXT.split(f"| `{tool.name}` |", 1)[1].split("\n", 1)[0]


def test_every_cli_action_is_documented() -> None:
    parser = argparse.ArgumentParser()
    memory_command.add_parser(parser.add_subparsers())
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    memory = sub.choices["memory"]
    actions = next(a for a in memory._actions if isinstance(a, argparse._SubParsersAction))
    cli = (DOCS / "cli.md").read_text()
    for name in actions.choices:
        assert f"`tau memory {name}" in TEXT, name
        assert f"`tau memory {name}" in cli, name


def test_limits_and_weights_are_the_declared_ones() -> None:
    assert f"default {retrieval.DEFAULT_BUDGET_TOKENS:,}" in FLAT
    assert f"the best {retrieval.MAX_CANDIDATES} trusted entries" in FLAT
    assert f"at most {fields.MAX_TEXT_CHARS:,} characters" in FLAT
    assert f"up to {fields.MAX_TAGS} words" in FLAT
    assert f"up to {fields.MAX_NAMESPACE_DEPTH} lowercase words" in FLAT
    assert f"default `{fields.DEFAULT_NAMESPACE}`" in FLAT
    assert (
        f"at most {memory_query.MAX_TERMS} distinct terms of at most "
        f"{memory_query.MAX_TERM_CHARS} characters, from the first "
        f"{memory_query.MAX_QUERY_CHARS:,} characters"
    ) in FLAT
    text, tags, namespace, parts = (f"{w:g}" for w in BM25_WEIGHTS)
    assert f"text {text}, tags {tags}, namespace {namespace}, identifier parts {parts}" in FLAT


def test_the_example_block_is_what_tau_sends() -> None:
    block = re.search(r"```\n(<memory>\n.*?</memory>)\n", TEXT, re.DOTALL)
    assert block is not None
    lines = block.group(1).splitlines()
    assert lines[1] == retrieval._HEADER
    entries = [line for line in lines if line.startswith("- memory #")]
    used = sum(estimate_tokens(line) for line in entries)
    assert lines[-2] == budget_line(len(entries), used, retrieval.DEFAULT_BUDGET_TOKENS)
    assert block.group(1) == retrieval.render_context(entries, lines[-2])
