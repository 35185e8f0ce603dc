"""The one-line label of a tool call: what it acts on (a path, a command, a URL).

Every front end shows a call by its tool name and this label: the headless
printer as ``tool=edit path=src/x.py ok``, the app's tool card as ``edit
src/x.py``, ``tau sessions show`` as ``-> edit path=src/x.py``. It is computed
here once, so the engine's events can carry it and the renderers agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LABEL_CHARS = 80
"""The longest value a label shows; longer ones end in an ellipsis."""
# Which argument names a call's target, in order of preference.
TARGET_KEYS = ("path", "file_path", "command", "url", "pattern", "query", "glob")
_MANY_PATHS_TOOLS = ("edit_many", "write_many")


@dataclass(frozen=True, slots=True)
class ToolLabel:
    """``key`` names the argument shown (``path``, ``command``, ``paths``; empty when
    the label is the arguments themselves); ``value`` is one line of at most
    ``LABEL_CHARS`` characters."""

    key: str
    value: str

    def __str__(self) -> str:
        """``key=value``, as one-line logs show it (just the value when there is no key)."""
        if self.key and self.value:
            return f"{self.key}={self.value}"
        return self.key or self.value


def _one_line(text: str) -> str:
    value = " ".join(text.split())
    if len(value) > LABEL_CHARS:
        value = value[: LABEL_CHARS - 1] + "…"
    return value


def tool_label(name: str, arguments: Mapping[str, Any]) -> ToolLabel:
    """The label of a call to ``name`` with ``arguments`` (the model's, unvalidated:
    any shape is labelled, never raises)."""
    if name in _MANY_PATHS_TOOLS:
        items = arguments.get("edits") or arguments.get("files") or []
        if isinstance(items, list) and items:
            paths = [str(item.get("path", "?")) for item in items if isinstance(item, dict)]
            return ToolLabel("paths", _one_line(",".join(paths)))
        if arguments.get("patch"):
            return ToolLabel("patch", "")
    for key in TARGET_KEYS:
        value = arguments.get(key)
        if isinstance(value, str | int | float) and str(value).strip():
            return ToolLabel(key, _one_line(str(value)))
    if arguments:
        return ToolLabel(
            "", _one_line(json.dumps(dict(arguments), ensure_ascii=False, default=str))
        )
    return ToolLabel("", "")
