"""The set of tools a session offers the model, looked up by name.

``default_tools`` builds the built-in tools with what they depend on (the bash sandbox, the
network policy); other tools (memory, a server's tools) are added with
:meth:`ToolRegistry.register`, which refuses a name that is taken, and says so plainly when the
name is a built-in's: a tool from elsewhere can never stand in for ``bash`` or ``write``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from tau_engine.conversation import ToolSpec
from tau_engine.errors import ToolError
from tau_engine.tools.base import Tool
from tau_engine.tools.bash import BashTool
from tau_engine.tools.edit import EditTool
from tau_engine.tools.edit_many import EditManyTool
from tau_engine.tools.http import HttpTool
from tau_engine.tools.read import ReadTool
from tau_engine.tools.search import GlobTool, GrepTool
from tau_engine.tools.write import WriteManyTool, WriteTool

if TYPE_CHECKING:
    from tau_engine.safety.netguard import NetBlockedError
    from tau_engine.safety.profiles import NetworkSection
    from tau_engine.safety.shell_sandbox import ShellSandbox

BUILTIN_NAMES = ("read", "write", "edit", "edit_many", "write_many", "glob", "grep", "bash", "http")


def default_tools(
    *,
    bash_timeout_s: float = 120.0,
    sandbox: ShellSandbox | None = None,
    network: NetworkSection | None = None,
    http_allow: Sequence[str] = (),
    on_blocked: Callable[[NetBlockedError], None] | None = None,
) -> list[Tool]:
    """Every core tool, in a stable order (the order the model sees them)."""
    return [
        ReadTool(),
        WriteTool(),
        EditTool(),
        EditManyTool(),
        WriteManyTool(),
        GlobTool(),
        GrepTool(),
        BashTool(default_timeout_s=bash_timeout_s, sandbox=sandbox),
        HttpTool(network=network, allow=http_allow, on_blocked=on_blocked),
    ]


class ToolRegistry:
    """Tools by name, in the order they were given."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"two tools are named {tool.name!r}")
            self._tools[tool.name] = tool

    def register(self, tool: Tool) -> None:
        """Add a tool; ``ToolError`` if its name is taken (a built-in's above all)."""
        if tool.name in BUILTIN_NAMES:
            raise ToolError(
                f"a tool named {tool.name!r} cannot be added: it would shadow "
                "tau's built-in tool of that name"
            )
        if tool.name in self._tools:
            raise ToolError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool:
        """The tool called ``name``; ``ToolError`` (listing the real ones) if there is none."""
        try:
            return self._tools[name]
        except KeyError:
            raise ToolError(
                f"unknown tool {name!r}; available tools: {', '.join(self._tools)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> list[ToolSpec]:
        """What the model is told about each tool, in order."""
        return [tool.spec() for tool in self._tools.values()]
