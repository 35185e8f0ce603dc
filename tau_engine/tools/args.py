"""Argument validation shared by the tools.

Each tool declares its arguments twice on purpose: a hand-written JSON schema
whose descriptions speak to the model, and a small pydantic model that checks
what the model actually sent. ``parse_model`` turns a pydantic failure into a
``ToolError`` the model can act on: which argument, what was wrong, what the
tool expects. Text with a NUL character or an unpaired surrogate is refused
there too: no path, command or URL can hold one, and writing one would fail
deep inside the tool instead of with a message.

``vet_tool_call`` runs before a call is stored at all: arguments over
``MAX_ARGUMENT_BYTES``, nested deeper than ``MAX_ARGUMENT_DEPTH`` or holding
text that cannot be encoded are replaced by an error the model sees, instead
of being kept in the message, the event log and every request after it.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from tau_engine.conversation import ToolCall
from tau_engine.errors import ToolError

MAX_ARGUMENT_BYTES = 1024 * 1024
MAX_ARGUMENT_DEPTH = 64

ArgsT = TypeVar("ArgsT", bound=BaseModel)


class ToolArgs(BaseModel):
    """Base of every tool's argument model: unknown arguments are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "arguments"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown argument '{where}'")
        elif err["type"] == "missing":
            problems.append(f"missing required argument '{where}'")
        else:
            problems.append(f"'{where}': {err['msg']}")
    return "; ".join(problems)


def _strings(value: Any, where: str) -> list[tuple[str, str]]:
    """Every string in ``value`` (keys included) with where it is, depth first."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            found.append((item, at))
        elif isinstance(item, dict):
            for key, inner in item.items():
                found.append((str(key), at))
                stack.append((inner, f"{at}.{key}" if at else str(key)))
        elif isinstance(item, list):
            stack.extend((inner, f"{at}[{i}]") for i, inner in enumerate(item))
    return found


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character; tools take text without NUL bytes"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate, which is not valid Unicode text"
    return None


def parse_model(
    tool: str, model: type[ArgsT], arguments: dict[str, Any], schema: dict[str, Any]
) -> ArgsT:
    """Validate ``arguments`` against ``model``; a failure names the tool and its arguments."""
    for text, where in _strings(arguments, ""):
        problem = _text_problem(text)
        if problem:
            raise ToolError(f"{tool}: argument '{where or 'arguments'}' {problem}")
    try:
        return model.model_validate(arguments)
    except ValidationError as exc:
        required = schema.get("required", [])
        optional = [name for name in schema.get("properties", {}) if name not in required]
        expected = ", ".join(required + [f"{name}?" for name in optional])
        raise ToolError(f"{tool}: {_describe(exc)} (expected arguments: {expected})") from exc


def _depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_ARGUMENT_DEPTH:
                return depth  # deep enough to refuse; no need to walk the rest
            inner = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in inner)
    return deepest


def arguments_problem(arguments: dict[str, Any]) -> str | None:
    """Why these arguments cannot even be kept (too deep, too large, not encodable), or None."""
    if _depth(arguments) > MAX_ARGUMENT_DEPTH:
        return (
            f"the arguments are nested more than {MAX_ARGUMENT_DEPTH} levels deep; "
            "no tool takes such arguments"
        )
    for text, _ in _strings(arguments, ""):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "the arguments contain an unpaired surrogate, which is not valid Unicode"
    size = len(json.dumps(arguments, ensure_ascii=False).encode("utf-8"))
    if size > MAX_ARGUMENT_BYTES:
        return (
            f"the arguments are {size / 1024 / 1024:.1f} MB, over the "
            f"{MAX_ARGUMENT_BYTES // 1024 // 1024} MB limit; make several smaller calls "
            "(write a large file in parts, then edit it)"
        )
    return None


def vet_tool_call(call: ToolCall) -> ToolCall:
    """``call`` as it may be stored: arguments that cannot be kept are replaced by an error."""
    problem = arguments_problem(call.arguments)
    if problem is None:
        return call
    return call.model_copy(update={"arguments": {}, "arguments_error": problem})
