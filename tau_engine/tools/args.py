"""Argument validation shared by the tools.

Each tool declares its arguments twice on purpose: a hand-written JSON schema
whose descriptions speak to the model, and a small pydantic model that checks
what the model actually sent. ``parse_model`` turns a pydantic failure into a
``ToolError`` the model can act on: which argument, what was wrong, what the
tool expects.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from tau_engine.errors import ToolError

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


def parse_model(tool: str, model: type[ArgsT], arguments: dict[str, Any],
                schema: dict[str, Any]) -> ArgsT:
    """Validate ``arguments`` against ``model``; a failure names the tool and its arguments."""
    try:
        return model.model_validate(arguments)
    except ValidationError as exc:
        required = schema.get("required", [])
        optional = [name for name in schema.get("properties", {}) if name not in required]
        expected = ", ".join(required + [f"{name}?" for name in optional])
        raise ToolError(f"{tool}: {_describe(exc)} (expected arguments: {expected})") from exc
