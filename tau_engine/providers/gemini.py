"""The Google Gemini client (``streamGenerateContent?alt=sse``).

``build_gemini_body`` maps a neutral ``ProviderRequest`` onto Gemini's
``contents``/``systemInstruction``/``tools`` shape (tool schemas cleaned to the
OpenAPI subset Gemini accepts), ``GeminiStreamParser`` turns each streamed
``GenerateContentResponse`` into ``ProviderEvent``s, and ``GeminiProvider`` does
the HTTP.

Gemini sends function calls whole (no fragments, no ids), so ids are made up
as ``gemini_call_<n>``, numbered after the calls already in the conversation
so they stay unique within a session. Gemini 3 attaches a ``thoughtSignature``
to function calls that must be sent back verbatim on the next turn; it is kept
in ``ToolCall.extra["thought_signature"]``.

Usage follows the convention of the other providers: ``output_tokens``
includes the thinking tokens (Gemini bills them as output but reports them
apart), which are also given as ``reasoning_tokens``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from tau_engine.conversation import Message, ToolCall, ToolSpec, Usage
from tau_engine.errors import ProviderError
from tau_engine.providers.answer_body import unknown_json
from tau_engine.providers.base import (
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    ThinkingChunk,
    ToolCallReady,
    UsageReport,
)
from tau_engine.providers.http import (
    classify_stream_error,
)
from tau_engine.providers.sse_client import SSEProvider

THOUGHT_SIGNATURE_KEY = "thought_signature"
TEXT_SIGNATURE_KEY = "gemini_text_signature"
MISSING_RESULT_TEXT = "No result was recorded for this tool call."

# What each blocking finish reason means, for the message the user sees.
_FILTER_REASONS = {
    "SAFETY": "flagged by Gemini's safety filters",
    "RECITATION": "it recited training data",
    "BLOCKLIST": "it contained a blocklisted term",
    "PROHIBITED_CONTENT": "it contained prohibited content",
    "SPII": "it contained sensitive personal information",
    "IMAGE_SAFETY": "flagged by Gemini's image safety filters",
    "LANGUAGE": "it used an unsupported language",
}
_ERROR_REASONS = {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"}

# The OpenAPI subset Gemini's function declarations accept; anything else
# (additionalProperties, $schema, examples...) makes the request fail.
_SCHEMA_KEYS = {
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "items",
    "properties",
    "required",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "anyOf",
    "propertyOrdering",
    "default",
    "example",
}
_FORMATS = {
    "string": {"enum", "date-time"},
    "integer": {"int32", "int64"},
    "number": {"float", "double"},
}


# -- request mapping ---------------------------------------------------------


def build_gemini_body(request: ProviderRequest) -> dict[str, Any]:
    """The JSON body of one ``streamGenerateContent`` call."""
    system_parts = [request.system] if request.system else []
    system_parts += [m.content for m in request.messages if m.role == "system" and m.content]
    contents = map_contents(request.messages)
    if request.model.removeprefix("models/").startswith("gemini-3"):
        _sign_unsigned_calls(contents)
    body: dict[str, Any] = {"contents": contents}
    if system_parts:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system_parts)}]}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(t) for t in request.tools]}]
    config: dict[str, Any] = {}
    if request.max_output_tokens is not None:
        config["maxOutputTokens"] = request.max_output_tokens
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if config:
        body["generationConfig"] = config
    return body


# Google's documented stand-in for a signature Gemini 3 never issued: calls that came
# from another provider (a fallback route) or from before a compaction have none, and
# Gemini 3 rejects a model turn whose function calls carry no signature with a 400.
SKIP_SIGNATURE = "skip_thought_signature_validator"


def _sign_unsigned_calls(contents: list[dict[str, Any]]) -> None:
    """Give each model turn whose function calls have no signature the stand-in, on its
    first call (the one Gemini checks); real signatures are never replaced."""
    for content in contents:
        if content.get("role") != "model":
            continue
        calls = [part for part in content["parts"] if "functionCall" in part]
        if calls and not any("thoughtSignature" in part for part in calls):
            calls[0]["thoughtSignature"] = SKIP_SIGNATURE


def map_contents(messages: list[Message]) -> list[dict[str, Any]]:
    """Map neutral messages onto Gemini ``contents`` (roles ``user`` and ``model``).

    Tool results become ``functionResponse`` parts of the user content that
    follows the model's ``functionCall`` parts; Gemini wants one response per
    call, so an unanswered call gets an error response and a result with no
    matching call is sent as text.
    """
    out: list[dict[str, Any]] = []
    open_calls: dict[str, str] = {}  # call id -> tool name, of the last model content
    responses: list[tuple[str, dict[str, Any]]] = []
    others: list[dict[str, Any]] = []

    def flush_user() -> None:
        nonlocal responses, others, open_calls
        if not responses and not others:
            return
        answered = {call_id for call_id, _ in responses}
        missing = [
            _function_response(name, MISSING_RESULT_TEXT, is_error=True)
            for call_id, name in open_calls.items()
            if call_id not in answered
        ]
        out.append({"role": "user", "parts": [p for _, p in responses] + missing + others})
        responses, others, open_calls = [], [], {}

    for message in messages:
        if message.role == "system":
            continue  # folded into systemInstruction
        if message.role == "assistant":
            parts = _model_parts(message)
            if not parts:
                continue  # an empty answer: as if it was never there
            flush_user()
            if out and out[-1]["role"] == "model":
                out[-1]["parts"].extend(parts)
            else:
                out.append({"role": "model", "parts": parts})
                open_calls = {}
            open_calls.update({tc.id: tc.name for tc in message.tool_calls})
        elif message.role == "tool":
            call_id = message.tool_call_id or ""
            if call_id in open_calls and call_id not in {c for c, _ in responses}:
                name = message.name or open_calls[call_id]
                responses.append(
                    (call_id, _function_response(name, message.content, is_error=message.is_error))
                )
            elif message.content:
                label = message.name or call_id or "tool"
                others.append({"text": f"[result of {label}]\n{message.content}"})
        elif message.content:
            others.append({"text": message.content})
    flush_user()
    return out


def _model_parts(message: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if message.content:
        text: dict[str, Any] = {"text": message.content}
        signature = message.extra.get(TEXT_SIGNATURE_KEY)
        if isinstance(signature, str) and signature:
            text["thoughtSignature"] = signature
        parts.append(text)
    for call in message.tool_calls:
        part: dict[str, Any] = {"functionCall": {"name": call.name, "args": call.arguments}}
        signature = call.extra.get(THOUGHT_SIGNATURE_KEY)
        if isinstance(signature, str) and signature:
            # A sibling of functionCall, not inside it: that is where Gemini checks it.
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _function_response(name: str, content: str, *, is_error: bool) -> dict[str, Any]:
    response: dict[str, Any] = {"content": content}
    if is_error:
        response["is_error"] = True
    return {"functionResponse": {"name": name, "response": response}}


def _declaration(tool: ToolSpec) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": tool.name, "description": tool.description}
    parameters = gemini_schema(tool.parameters)
    # Gemini rejects an OBJECT with no properties; a tool without arguments omits them.
    if parameters.get("properties"):
        declaration["parameters"] = parameters
    return declaration


def gemini_schema(
    schema: dict[str, Any], root: dict[str, Any] | None = None, depth: int = 0
) -> dict[str, Any]:
    """Rewrite a JSON schema into the subset Gemini accepts.

    Local ``$ref``s are inlined, ``["T", "null"]`` types become ``nullable``,
    ``const``/``oneOf`` become ``enum``/``anyOf``, and unsupported keys are dropped.
    """
    root = schema if root is None else root
    if depth > 16:
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _resolve_ref(root, ref)
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return gemini_schema(merged, root, depth + 1)
    out: dict[str, Any] = {}
    kind = schema.get("type")
    if isinstance(kind, list):
        concrete = [t for t in kind if t != "null"]
        if len(concrete) < len(kind):
            out["nullable"] = True
        kind = concrete[0] if concrete else None
    if isinstance(kind, str):
        out["type"] = kind
    if "const" in schema:
        out["enum"] = [str(schema["const"])]
        out.setdefault("type", "string")  # Gemini enums are strings
    for key, value in schema.items():
        if key == "oneOf":
            key = "anyOf"
        if key not in _SCHEMA_KEYS or key in out:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {
                name: gemini_schema(sub, root, depth + 1)
                for name, sub in value.items()
                if isinstance(sub, dict)
            }
        elif key == "items" and isinstance(value, dict):
            out[key] = gemini_schema(value, root, depth + 1)
        elif key == "anyOf" and isinstance(value, list):
            out[key] = [
                gemini_schema(sub, root, depth + 1)
                for sub in value
                if isinstance(sub, dict) and sub.get("type") != "null"
            ]
            if len(out[key]) < len(value):
                out["nullable"] = True
        elif key == "enum" and isinstance(value, list):
            out[key] = [str(v) for v in value if v is not None]
        elif key == "format":
            if value in _FORMATS.get(str(out.get("type")), set()):
                out[key] = value
        else:
            out[key] = value
    if "required" in out:
        known = out.get("properties", {})
        out["required"] = [name for name in out["required"] if name in known]
        if not out["required"]:
            del out["required"]
    return out


def _resolve_ref(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        return {}
    node: Any = root
    for key in ref[2:].split("/"):
        if not isinstance(node, dict):
            return {}
        node = node.get(key.replace("~1", "/").replace("~0", "~"))
    return node if isinstance(node, dict) else {}


# -- stream parsing ----------------------------------------------------------


class GeminiStreamParser:
    """Turns the ``GenerateContentResponse`` chunks of one stream into ``ProviderEvent``s.

    Gemini has no terminal event: ``finish`` is called at end of stream and
    returns the closing events when a ``finishReason`` was seen, else raises.
    """

    def __init__(self, provider: str, first_call_number: int = 1) -> None:
        self.provider = provider
        self.output_seen = False
        self.finish_reason: str | None = None
        self._finish_message: str | None = None
        self._next_call = first_call_number
        self._calls = 0
        self._usage = Usage()
        self._text_signature: str | None = None

    def handle(self, chunk: dict[str, Any]) -> list[ProviderEvent]:
        if isinstance(chunk.get("error"), dict):
            raise classify_stream_error(chunk, self.provider, partial_output=self.output_seen)
        feedback = chunk.get("promptFeedback") or {}
        if feedback.get("blockReason"):
            reason = feedback["blockReason"]
            raise ProviderError(
                f"Gemini blocked the prompt ({reason})",
                kind="content_filter",
                provider=self.provider,
                partial_output=self.output_seen,
            )
        if isinstance(chunk.get("usageMetadata"), dict):
            self._usage = _usage(chunk["usageMetadata"])  # cumulative: the last one wins
        candidates = chunk.get("candidates") or []
        if not candidates:
            return []
        candidate = candidates[0]
        events = self._parts(((candidate.get("content") or {}).get("parts")) or [])
        if candidate.get("finishReason"):
            self.finish_reason = str(candidate["finishReason"])
            self._finish_message = candidate.get("finishMessage")
        return events

    def complete(self, body: Any) -> list[ProviderEvent]:
        """The events of a whole answer: one ``GenerateContentResponse`` (what
        ``generateContent`` returns) or a JSON array of them (``streamGenerateContent``
        without ``alt=sse``); each is handled as a streamed chunk would be."""
        chunks = body if isinstance(body, list) else [body]
        if (
            not chunks
            or not all(isinstance(c, dict) for c in chunks)
            or not any("candidates" in c or "error" in c or "promptFeedback" in c for c in chunks)
        ):
            raise unknown_json(self.provider, "a Gemini GenerateContentResponse", body)
        events: list[ProviderEvent] = []
        for chunk in chunks:
            events.extend(self.handle(chunk))
        return events + self.finish()

    def finish(self) -> list[ProviderEvent]:
        """The closing ``UsageReport`` and ``StreamEnd``; raises if no finishReason came."""
        if self.finish_reason is None:
            raise ProviderError(
                "the stream ended before a finishReason",
                kind="stream",
                provider=self.provider,
                retryable=not self.output_seen,
                partial_output=self.output_seen,
            )
        return [UsageReport(usage=self._usage), self._end()]

    def _parts(self, parts: list[dict[str, Any]]) -> list[ProviderEvent]:
        events: list[ProviderEvent] = []
        for part in parts:
            signature = part.get("thoughtSignature")
            if "functionCall" in part:
                events.append(self._call(part["functionCall"] or {}, signature))
                continue
            text = part.get("text")
            if not isinstance(text, str):
                continue
            if part.get("thought"):
                if text:
                    self.output_seen = True
                    events.append(ThinkingChunk(text))
                continue
            if signature:
                self._text_signature = signature
            if text:
                self.output_seen = True
                events.append(TextChunk(text))
        return events

    def _call(self, function_call: dict[str, Any], signature: Any) -> ToolCallReady:
        self.output_seen = True
        self._calls += 1
        call_id = f"gemini_call_{self._next_call}"
        self._next_call += 1
        args = function_call.get("args")
        error = None
        if args is None:
            args = {}
        elif not isinstance(args, dict):
            error = f"arguments must be a JSON object, got {type(args).__name__}"
            args = {}
        extra = {THOUGHT_SIGNATURE_KEY: signature} if isinstance(signature, str) else {}
        return ToolCallReady(
            ToolCall(
                id=call_id,
                name=str(function_call.get("name", "")),
                arguments=args,
                arguments_error=error,
                extra=extra,
            )
        )

    def _end(self) -> StreamEnd:
        raw = self.finish_reason
        extra = {TEXT_SIGNATURE_KEY: self._text_signature} if self._text_signature else {}
        if raw == "MAX_TOKENS":
            return StreamEnd("max_tokens", raw_reason=raw, extra=extra)
        if raw in _FILTER_REASONS:
            why = f"Gemini stopped the answer: {_FILTER_REASONS[raw]} ({raw})"
            if self._finish_message:
                why += f": {self._finish_message}"
            return StreamEnd("content_filter", raw_reason=raw, refusal=why, extra=extra)
        if raw in _ERROR_REASONS:
            why = f"Gemini could not complete the tool call ({raw})"
            if self._finish_message:
                why += f": {self._finish_message}"
            return StreamEnd("error", raw_reason=raw, refusal=why, extra=extra)
        return StreamEnd("tool_use" if self._calls else "end_turn", raw_reason=raw, extra=extra)


def _usage(meta: dict[str, Any]) -> Usage:
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    return Usage(
        input_tokens=int(meta.get("promptTokenCount") or 0),
        output_tokens=int(meta.get("candidatesTokenCount") or 0) + thoughts,
        cached_input_tokens=int(meta.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
    )


def count_tool_calls(messages: list[Message]) -> int:
    """How many tool calls the conversation already holds (for fresh call ids)."""
    return sum(len(m.tool_calls) for m in messages)


# -- the client --------------------------------------------------------------


class GeminiProvider(SSEProvider):
    """Streams Gemini ``streamGenerateContent`` calls. Implements ``Provider``."""

    def __init__(
        self, *, name: str = "gemini", base_url: str, api_key: str | None, **options: Any
    ) -> None:
        super().__init__(name=name, base_url=base_url, api_key=api_key, **options)
        root = base_url.rstrip("/")
        self._root = root if root.endswith("/v1beta") else f"{root}/v1beta"

    def url(self, model: str) -> str:
        """The streaming endpoint of ``model`` (a ``models/`` prefix is accepted)."""
        model = model.removeprefix("models/")
        return f"{self._root}/models/{model}:streamGenerateContent?alt=sse"

    def auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._api_key or ""}

    def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        """Stream one call; raises ``ProviderError`` on any failure. Gemini answers
        errors with a JSON body labelled text/event-stream: the status is checked first."""
        parser = GeminiStreamParser(self.name, count_tool_calls(request.messages) + 1)
        return self.stream_parsed(self.url(request.model), build_gemini_body(request), parser)
