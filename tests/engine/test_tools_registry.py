"""The registry, and that every tool's JSON schema agrees with the arguments it accepts."""

from __future__ import annotations

from typing import Any

import pytest

from tau_engine.errors import ToolError
from tau_engine.tools.base import Tool
from tau_engine.tools.bash import BashTool
from tau_engine.tools.registry import ToolRegistry, default_tools

EXPECTED = [
    ("read", "read"),
    ("write", "edit"),
    ("edit", "edit"),
    ("edit_many", "edit"),
    ("write_many", "edit"),
    ("glob", "read"),
    ("grep", "read"),
    ("bash", "exec"),
    ("http", "network"),
]

# One valid argument set per tool, with every optional argument given.
FULL_ARGUMENTS: dict[str, dict[str, Any]] = {
    "read": {"path": "a", "offset": 2, "limit": 3},
    "write": {"path": "a", "content": "x"},
    "edit": {"path": "a", "old_string": "x", "new_string": "y", "replace_all": True},
    "edit_many": {
        "edits": [{"path": "a", "old_string": "x", "new_string": "y", "replace_all": False}]
    },
    "write_many": {"files": [{"path": "a", "content": "x"}]},
    "glob": {"pattern": "**/*.py"},
    "grep": {"pattern": "x", "path": "src", "glob": "*.py"},
    "bash": {"command": "ls", "timeout_s": 5},
    "http": {"url": "https://example.com", "method": "POST", "headers": {"a": "b"}, "body": "x"},
}


def test_default_tools_names_kinds_and_order() -> None:
    tools = default_tools()
    assert [(tool.name, tool.kind) for tool in tools] == EXPECTED


def test_default_tools_passes_the_bash_timeout() -> None:
    bash = next(tool for tool in default_tools(bash_timeout_s=7.5) if tool.name == "bash")
    assert isinstance(bash, BashTool) and bash.default_timeout_s == 7.5


@pytest.mark.parametrize("tool", default_tools(), ids=lambda tool: tool.name)
def test_schema_is_strict_and_matches_what_parse_args_accepts(tool: Tool) -> None:
    schema = tool.spec().parameters
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) <= set(schema["properties"])
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{tool.name}.{name} has no description"
    assert tool.description and len(tool.description) > 40
    full = FULL_ARGUMENTS[tool.name]
    if tool.name != "edit_many":  # its two arguments exclude each other
        assert set(full) == set(schema["properties"])
    tool.parse_args(full)
    minimal = {key: full[key] for key in schema["required"]}
    if tool.name == "edit_many":
        minimal = full
    tool.parse_args(minimal)
    for key in schema["required"]:
        with pytest.raises(ToolError, match=f"missing required argument '{key}'"):
            tool.parse_args({k: v for k, v in full.items() if k != key})
    with pytest.raises(ToolError, match=r"unknown argument 'bogus'"):
        tool.parse_args({**full, "bogus": 1})


@pytest.mark.parametrize("tool", default_tools(), ids=lambda tool: tool.name)
def test_target_is_a_short_label(tool: Tool) -> None:
    label = tool.target(tool.parse_args(FULL_ARGUMENTS[tool.name]))
    assert label and "\n" not in label and len(label) <= 120


def test_registry_lookup_specs_and_errors() -> None:
    registry = ToolRegistry(default_tools())
    assert registry.names == [name for name, _ in EXPECTED]
    assert len(registry) == len(EXPECTED) and "grep" in registry and "nope" not in registry
    assert registry.get("edit").name == "edit"
    assert [spec.name for spec in registry.specs()] == registry.names
    with pytest.raises(ToolError, match=r"unknown tool 'nope'; available tools: read, write"):
        registry.get("nope")
    with pytest.raises(ValueError, match=r"two tools are named 'read'"):
        ToolRegistry([*default_tools(), default_tools()[0]])
