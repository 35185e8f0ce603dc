"""The set of tools a session offers the model, looked up by name."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tau_engine.errors import ToolError
from tau_engine.providers.base import ToolSpec
from tau_engine.tools.base import Tool
from tau_engine.tools.bash import BashTool
from tau_engine.tools.edit import EditTool
from tau_engine.tools.edit_many import EditManyTool
from tau_engine.tools.http import HttpTool
from tau_engine.tools.read import ReadTool
from tau_engine.tools.search import GlobTool, GrepTool
from tau_engine.tools.write import WriteManyTool, WriteTool


def default_tools(*, bash_timeout_s: float = 120.0) -> list[Tool]:
    """Every core tool, in a stable order (the order the model sees them)."""
    return [
        ReadTool(),
        WriteTool(),
        EditTool(),
        EditManyTool(),
        WriteManyTool(),
        GlobTool(),
        GrepTool(),
        BashTool(default_timeout_s=bash_timeout_s),
        HttpTool(),
    ]


class ToolRegistry:
    """Tools by name, in the order they were given."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"two tools are named {tool.name!r}")
            self._tools[tool.name] = tool

    def get(self, name: str) -> Tool:
        """The tool called ``name``; ``ToolError`` (listing the real ones) if there is none."""
        try:
            return self._tools[name]
        except KeyError:
            raise ToolError(f"unknown tool {name!r}; available tools: "
                            f"{', '.join(self._tools)}") from None

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
