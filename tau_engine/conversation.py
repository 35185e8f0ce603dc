"""The conversation data every part of tau shares: messages, tool calls, usage, and the
tools a model is offered.

A ``Message`` is provider-neutral. Tool results are messages of role ``tool``
(one per call, linked by ``tool_call_id``); each provider adapter maps this
shape onto its own wire format. Provider-specific data that must survive a
round trip (Gemini's ``thoughtSignature``, Anthropic thinking blocks) lives in
``extra`` so that nothing is lost when a session is exported and imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(slots=True)
class ToolSpec:
    """A tool as the model sees it: name, description, JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


class ToolCall(BaseModel):
    """A model's request to run one tool, with its arguments parsed from JSON."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    # Set when the model sent arguments that are not a JSON object; the loop
    # answers such a call with an error result instead of running it.
    arguments_error: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class Usage(BaseModel):
    """Token counts of one provider call (or a sum of several).

    ``estimated`` is true when tau counted the tokens itself because the server
    reported none (llama-cpp-python never does when streaming); a sum is estimated
    when any part of it is.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            estimated=self.estimated or other.estimated,
        )

    @property
    def reported(self) -> bool:
        """Whether these are figures at all: a server that sends no usage leaves zeros."""
        return bool(self.input_tokens or self.output_tokens)


class Message(BaseModel):
    """One message of a conversation.

    ``meta`` carries flags the UI and the loop read: ``incomplete`` (a stream
    broke mid-answer), ``interrupted`` (the user stopped the turn),
    ``compaction`` (a summary standing for older turns), ``attachment``.
    """

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None  # the tool's name, on role="tool"
    is_error: bool = False  # on role="tool": the call failed or was denied
    extra: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)


class StoredMessage(BaseModel):
    """A message as kept in a session: a node of the session's DAG."""

    id: str
    session_id: str
    parent_id: str | None
    created_at: float
    message: Message
    usage: Usage | None = None
    cost_usd: float | None = None
    model: str | None = None
