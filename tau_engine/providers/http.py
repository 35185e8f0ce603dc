"""HTTP plumbing shared by every provider that speaks HTTP.

One place builds the ``httpx`` client, turns an error response into a
``ProviderError`` with the provider's own message, and classifies error
objects that arrive inside a 200 stream (transport failures are
``transport_failures``'s). Providers differ in wire format, not in how
failures are reported, so the engine and the retry layer can rely on
``kind``/``retryable``/``retry_after`` meaning the same thing everywhere.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from tau_engine.errors import ProviderError

# Provider messages can be paragraphs; one line of a sensible length reads better.
_MAX_MESSAGE_CHARS = 1000
# A body that is not JSON is rarely worth more than its first words.
_MAX_PLAIN_CHARS = 300

_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "context length",
    "context window",
    "maximum context",
    "prompt is too long",
    "too many tokens",
    "input is too long",
    "reduce the length of the messages",
)

# Error ``type``/``code``/``status`` words seen in bodies and in-stream error objects.
_AUTH_WORDS = frozenset(
    {
        "authentication_error",
        "invalid_api_key",
        "permission_error",
        "permission_denied",
        "unauthenticated",
        "unauthorized",
        "api_key_invalid",
        "forbidden",
    }
)
_QUOTA_WORDS = frozenset(
    {
        "insufficient_quota",
        "billing_hard_limit_reached",
        "billing_not_active",
        "payment_required",
        "insufficient_credits",
    }
)
_RATE_WORDS = frozenset(
    {
        "rate_limit_error",
        "rate_limit_exceeded",
        "rate_limited",
        "requests",
        "tokens",
        "resource_exhausted",
        "too_many_requests",
    }
)
_OVERLOADED_WORDS = frozenset({"overloaded_error", "overloaded", "model_overloaded"})
_SERVER_WORDS = frozenset(
    {
        "server_error",
        "api_error",
        "internal_server_error",
        "internal",
        "internal_error",
        "service_unavailable",
        "unavailable",
        "bad_gateway",
        "gateway_timeout",
        "upstream_error",
        "provider_error",
    }
)
_TIMEOUT_WORDS = frozenset({"timeout", "timeout_error", "deadline_exceeded", "request_timeout"})
_NOT_FOUND_WORDS = frozenset({"not_found_error", "model_not_found", "not_found"})
_BAD_REQUEST_WORDS = frozenset(
    {
        "invalid_request_error",
        "invalid_argument",
        "bad_request",
        "unsupported_parameter",
        "request_too_large",
        "invalid_value",
        "failed_precondition",
    }
)

_RETRY_IN_MESSAGE = re.compile(r"try again in ((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def make_client(
    timeout_s: float, *, connect_timeout_s: float = 10.0, base_url: str | None = None
) -> httpx.AsyncClient:
    """An HTTP/1.1 client for streaming model calls.

    ``timeout_s`` bounds each gap between received chunks (not the whole
    answer, which may legitimately stream for minutes), and each write.
    For a plain ``http://`` base URL (a local server) no TLS context is built:
    loading the CA bundle costs ~170 ms and there is nothing to verify, since
    the client never follows redirects.
    """
    timeout = httpx.Timeout(
        connect=connect_timeout_s, read=timeout_s, write=timeout_s, pool=connect_timeout_s
    )
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=8, keepalive_expiry=30.0)
    plain = base_url is not None and base_url.lower().startswith("http://")
    return httpx.AsyncClient(
        http1=True,
        http2=False,
        timeout=timeout,
        limits=limits,
        verify=not plain,
        follow_redirects=False,
    )


@dataclass(slots=True)
class ErrorDetails:
    """What an error body or in-stream error object says, in provider-neutral terms."""

    message: str = ""
    words: frozenset[str] = frozenset()  # lowercased type/code/status/reason values
    numeric_code: int | None = None
    retry_delay_s: float | None = None  # Gemini's RetryInfo.retryDelay


def parse_error_object(obj: Any) -> ErrorDetails:
    """Extract message, type/code words and retry hints from any common error shape.

    Handles ``{"error": {...}}`` (OpenAI, OpenRouter, Gemini), ``{"type": "error",
    "error": {...}}`` (Anthropic), Responses ``response.failed`` events
    (``{"response": {"error": {...}}}``), flat ``{"code", "message"}`` objects,
    ``{"error": "text"}`` (Ollama) and a one-element list around any of them.
    """
    if isinstance(obj, list) and obj:
        obj = obj[0]
    if not isinstance(obj, dict):
        return ErrorDetails(message=_one_line(str(obj)) if obj not in (None, "") else "")
    error: Any = obj.get("error")
    response = obj.get("response")
    if error is None and isinstance(response, dict):
        error = response.get("error")
    if isinstance(error, str):
        return ErrorDetails(message=_one_line(error))
    if not isinstance(error, dict):
        error = obj  # a flat error object: {"type": "...", "code": "...", "message": "..."}

    words: set[str] = set()
    numeric_code: int | None = None
    for key in ("type", "code", "status", "reason"):
        value = error.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            numeric_code = value
        elif isinstance(value, str) and value:
            if value.isdigit():
                numeric_code = int(value)
            else:
                words.add(value.lower())

    retry_delay: float | None = None
    details = error.get("details")
    if isinstance(details, list):
        for item in details:
            if not isinstance(item, dict):
                continue
            reason = item.get("reason")
            if isinstance(reason, str) and reason:
                words.add(reason.lower())
            delay = item.get("retryDelay")
            if isinstance(delay, str):
                retry_delay = _parse_duration(delay)

    message = error.get("message")
    text = message if isinstance(message, str) else ""
    if not text:
        detail = error.get("detail")
        text = detail if isinstance(detail, str) else ""
    metadata = error.get("metadata")
    if isinstance(metadata, dict):
        # OpenRouter's "Provider returned error" only makes sense with the upstream's words.
        raw = metadata.get("raw")
        upstream = metadata.get("provider_name")
        if isinstance(raw, str) and raw and raw not in text:
            who = f"{upstream}: " if isinstance(upstream, str) and upstream else ""
            text = f"{text} ({who}{raw})" if text else f"{who}{raw}"
    return ErrorDetails(
        message=_one_line(text),
        words=frozenset(words),
        numeric_code=numeric_code,
        retry_delay_s=retry_delay,
    )


async def raise_for_status(
    response: httpx.Response,
    provider: str,
    *,
    key_hint: str | None = None,
    key_sent: bool = True,
) -> None:
    """Raise a classified ``ProviderError`` if ``response`` is an HTTP error; else return.

    The body is read whatever its Content-Type claims (Gemini sends JSON error
    bodies labelled ``text/event-stream``). ``key_hint`` names the variable the
    API key came from (``OPENAI_API_KEY``), or, when ``key_sent`` is false, the one
    to set, so an auth failure can say what to do. A 404 names the URL requested.
    """
    status = response.status_code
    if status < 400:
        return
    try:
        body = await response.aread()
    except httpx.HTTPError:
        body = b""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        details = parse_error_object(json.loads(text)) if text else ErrorDetails()
    except ValueError:
        # A proxy's HTML error page: its status line says as much, in far fewer words.
        html = text[:1].startswith("<")
        details = ErrorDetails(message="" if html else _one_line(text, _MAX_PLAIN_CHARS))

    kind, retryable = _classify_status(status, details)
    message = details.message or _fallback_message(response)
    if kind == "not_found":
        message = _not_found_message(response, details.message)
    elif kind == "auth":
        message = f"{message} {_auth_hint(key_hint, key_sent)}".rstrip()
    retry_after = retry_after_from_headers(response.headers)
    if retry_after is None:
        retry_after = details.retry_delay_s
    if retry_after is None and kind == "rate_limit":
        retry_after = _retry_hint_in_message(details.message)
    raise ProviderError(
        message,
        kind=kind,
        status=status,
        provider=provider,
        retryable=retryable,
        retry_after=retry_after,
    )


def _auth_hint(key_hint: str | None, key_sent: bool) -> str:
    if key_sent:
        return f"(check the API key in {key_hint})" if key_hint else ""
    if key_hint:
        return f"(no API key was sent: set {key_hint})"
    return "(no API key was sent)"


def _not_found_message(response: httpx.Response, said: str) -> str:
    """What a 404 was for: the server's words, the URL requested and what to check."""
    head = said or f"HTTP 404 {response.reason_phrase or 'Not Found'}"
    try:
        request = response.request
    except RuntimeError:
        return f"{head} (check the model id and the base URL)"
    url = request.url.copy_with(query=None)
    if "/v1" not in url.path:
        hint = (
            "the base URL may be missing its version: OpenAI-compatible servers usually "
            "want one ending in /v1"
        )
    else:
        hint = "check the model id and the base URL"
    return f"{head} ({request.method} {url}; {hint})"


def classify_stream_error(
    obj: dict[str, Any], provider: str, *, partial_output: bool
) -> ProviderError:
    """Classify an error object that arrived inside an HTTP 200 stream.

    Transient kinds (server, overloaded, rate limit, timeout) are retryable only
    when nothing of the answer had streamed yet; request errors never are.
    """
    details = parse_error_object(obj)
    code = details.numeric_code
    status = code if code is not None and 100 <= code <= 599 else None
    kind, retryable = _classify_words(details)
    if kind is None:
        if status is not None:
            kind, retryable = _classify_status(status, details)
        else:
            # An unnamed failure mid-stream is most likely the upstream falling over.
            kind, retryable = "server", True
    message = details.message or "the provider reported an error in the middle of the stream"
    return ProviderError(
        message,
        kind=kind,
        status=status,
        provider=provider,
        retryable=retryable and not partial_output,
        retry_after=details.retry_delay_s,
        partial_output=partial_output,
    )


def retry_after_from_headers(headers: httpx.Headers) -> float | None:
    """The delay asked for by ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _classify_status(status: int, details: ErrorDetails) -> tuple[str, bool]:
    words = details.words
    if status in (401, 403) or words & _AUTH_WORDS:
        return "auth", False
    if words & _OVERLOADED_WORDS or status == 529:
        return "overloaded", True
    if status == 402 or words & _QUOTA_WORDS:
        return "quota", False
    if status == 429:
        return "rate_limit", True
    if status in (400, 413, 422):
        if _says_context_length(details):
            return "context_length", False
        return "bad_request", False
    if status == 404:
        return "not_found", False
    if status == 408:
        return "timeout", True
    if status == 409:
        return "conflict", True
    if status >= 500:
        return "server", True
    return "bad_request", False


# First match wins: quota before rate limits (OpenAI's insufficient_quota is a 429),
# auth before anything a proxy might add.
_WORD_KINDS: tuple[tuple[frozenset[str], str, bool], ...] = (
    (_QUOTA_WORDS, "quota", False),
    (_AUTH_WORDS, "auth", False),
    (_OVERLOADED_WORDS, "overloaded", True),
    (_RATE_WORDS, "rate_limit", True),
    (_TIMEOUT_WORDS, "timeout", True),
    (_SERVER_WORDS, "server", True),
    (_NOT_FOUND_WORDS, "not_found", False),
    (_BAD_REQUEST_WORDS, "bad_request", False),
)


def _classify_words(details: ErrorDetails) -> tuple[str | None, bool]:
    if _says_context_length(details):
        return "context_length", False
    for words, kind, retryable in _WORD_KINDS:
        if details.words & words:
            return kind, retryable
    return None, False


def _says_context_length(details: ErrorDetails) -> bool:
    if "context_length_exceeded" in details.words:
        return True
    lowered = details.message.lower()
    return any(marker in lowered for marker in _CONTEXT_MARKERS)


def _fallback_message(response: httpx.Response) -> str:
    phrase = response.reason_phrase or "error"
    try:
        url = response.request.url
    except RuntimeError:
        return f"HTTP {response.status_code} {phrase}"
    return f"HTTP {response.status_code} {phrase} from {url.copy_with(query=None)}"


def _retry_hint_in_message(message: str) -> float | None:
    """OpenAI rate-limit messages say "Please try again in 20s" (or "1.5s", "6m0s", "120ms")."""
    match = _RETRY_IN_MESSAGE.search(message)
    return _parse_duration(match.group(1)) if match else None


def _parse_duration(text: str) -> float | None:
    total = 0.0
    found = False
    for number, unit in _DURATION_PART.findall(text):
        found = True
        total += float(number) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
    return total if found else None


def _one_line(text: str, limit: int = _MAX_MESSAGE_CHARS) -> str:
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat
