"""The ``http`` tool: one HTTP(S) request, its status, a few headers and the body as text.

Arguments are checked before anything is sent, so a bad one is a tool error
the model can act on, never an exception out of httpx: the URL must parse
(with a host, and a port from 1 to 65535), hold no whitespace or control
character, and header names must be HTTP tokens with printable ASCII values.

Every request goes through the safety layer's network guard (``netguard``):
HTTPS only unless a host is allow-listed, the host resolved once and every
address checked (no loopback, private, link-local or metadata address), the
connection made to the checked address, each redirect checked again, and the
time and size capped by the profile's ``[network]`` table. The allow-list
comes from the profile and the user's own config, never from a workspace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import field_validator

from tau_engine.errors import ToolError
from tau_engine.safety.permissions import ToolCall as PolicyCall
from tau_engine.safety.profiles import NetworkSection
from tau_engine.tools.args import ToolArgs, parse_model
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome
from tau_engine.tools.fileio import looks_binary

if TYPE_CHECKING:
    from tau_engine.safety.netguard import NetBlockedError, NetPolicy

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
# The response headers worth a model's attention; the rest is noise.
SHOWN_HEADERS = (
    "content-type",
    "content-length",
    "location",
    "last-modified",
    "etag",
    "retry-after",
)
_TEXT_TYPES = ("json", "xml", "javascript", "yaml", "csv", "x-www-form-urlencoded", "graphql")
# RFC 9110: a header name is a token; a value is visible ASCII, spaces and tabs.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f]")


def check_url(url: str) -> None:
    """Raise ``ToolError`` saying what is wrong with ``url``, if anything."""
    bad = _URL_FORBIDDEN.search(url)
    if bad:
        raise ToolError(
            f"http: the URL has a space or control character ({bad.group()!r}) at "
            f"position {bad.start()}; percent-encode it (a space is %20)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ToolError(f"http: malformed URL {url!r}: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ToolError(
            f"http: only http:// and https:// URLs with a host can be requested, not {url!r}"
        )
    if port == 0:
        raise ToolError(f"http: port 0 in {url!r} is not a port; use 1-65535")

    import httpx  # only here, when a call is made: it is slow to import

    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ToolError(f"http: malformed URL {url!r}: {exc}") from exc


def check_headers(headers: dict[str, str]) -> None:
    """Raise ``ToolError`` for a header name or value HTTP cannot carry."""
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ToolError(
                f"http: invalid header name {name!r}: use letters, digits and - (e.g. X-Request-Id)"
            )
        if not _HEADER_VALUE.fullmatch(value):
            if not value.isascii():
                raise ToolError(
                    f"http: header {name} has non-ASCII text; HTTP header values "
                    "are ASCII: percent-encode it or send it in the body"
                )
            raise ToolError(
                f"http: header {name} has a line break or control character; "
                "a header value is one line of printable text"
            )


class HttpArgs(ToolArgs):
    url: str
    method: Method = "GET"
    headers: dict[str, str] = {}
    body: str | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def _is_text(content_type: str, data: bytes) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind:
        return kind.startswith("text/") or any(word in kind for word in _TEXT_TYPES)
    if looks_binary(data):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class HttpTool(Tool):
    """Make one HTTP request and return status, headers and the body as text."""

    name = "http"
    kind = "network"
    description = (
        "Make an HTTP request to an http:// or https:// URL (redirects are followed). Returns "
        "the status line, a few headers and the body as text (long bodies are cut; binary "
        "bodies are only described)."
    )
    parameters = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "Full http:// or https:// URL."},
            "method": {
                "type": "string",
                "enum": METHODS,
                "description": "HTTP method. Default GET.",
            },
            "headers": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Request headers, name to value.",
            },
            "body": {
                "type": "string",
                "description": "Request body, sent as UTF-8 (set a Content-Type header "
                "to match, e.g. application/json).",
            },
        },
        "required": ["url"],
        "additionalProperties": False,
    }

    def __init__(
        self,
        *,
        timeout_s: float | None = None,
        network: NetworkSection | None = None,
        allow: Sequence[str] = (),
        on_blocked: Callable[[NetBlockedError], None] | None = None,
    ) -> None:
        """``network`` is the profile's ``[network]`` table (default: balanced's), ``allow``
        the user's own allow-list entries, ``on_blocked`` told of each refused request
        (the audit log); ``timeout_s`` overrides the profile's time cap."""
        self.network = network or NetworkSection()
        self.allow = tuple(allow)
        self.timeout_s = timeout_s if timeout_s is not None else self.network.timeout_s
        self.on_blocked = on_blocked

    def net_policy(self, max_bytes: int) -> NetPolicy:
        """The network policy of one request (netguard, and so httpx, load only here)."""
        from tau_engine.safety.netguard import NetPolicy

        net = self.network
        return NetPolicy(
            allow=[*net.allow, *self.allow],
            https_only=net.https_only,
            max_bytes=min(net.max_bytes, max_bytes),
            timeout_s=self.timeout_s,
            max_redirects=net.max_redirects,
        )

    def parse_args(self, arguments: dict[str, Any]) -> HttpArgs:
        args = parse_model(self.name, HttpArgs, arguments, self.parameters)
        check_url(args.url)
        check_headers(args.headers)
        return args

    def target(self, args: HttpArgs) -> str:
        return f"{args.method} {args.url}"

    def policy_call(self, args: HttpArgs) -> PolicyCall:
        return PolicyCall(self.name, self.kind, subjects=(args.url,), method=args.method)

    def result_source(self, args: HttpArgs) -> str:
        return f"http:{args.url}"

    async def preview(self, args: HttpArgs, ctx: ToolContext) -> str:
        lines = [f"{args.method} {args.url}"]
        lines += [f"{name}: {value}" for name, value in args.headers.items()]
        if args.body is not None:
            body = args.body if len(args.body) <= 2000 else args.body[:2000] + " …"
            lines += ["", body]
        return "\n".join(lines)

    async def run(self, args: HttpArgs, ctx: ToolContext) -> ToolOutcome:
        # Imported here: httpx is slow to import and most runs never call this tool.
        import httpx

        from tau_engine.safety.netguard import NetBlockedError, guarded_fetch

        if not self.network.http:
            raise ToolError("http is turned off by the safety profile (network.http = false)")
        limit = ctx.max_output_chars * 4  # bytes, enough for max_output_chars of UTF-8
        content = args.body.encode("utf-8") if args.body is not None else None
        try:
            fetched = await guarded_fetch(
                self.net_policy(limit), args.method, args.url, headers=args.headers, body=content
            )
        except NetBlockedError as exc:
            if self.on_blocked is not None:
                self.on_blocked(exc)
            raise
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ToolError(
                f"{args.method} {args.url} timed out after {self.timeout_s:g}s"
            ) from exc
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # ValueError: what the checks above cannot foresee, e.g. an invalid
            # redirect target (UnicodeError is one too).
            raise ToolError(
                f"{args.method} {args.url} failed: {type(exc).__name__}: {exc}"
            ) from exc
        return _describe(fetched, args, ctx.max_output_chars)


def _charset(content_type: str) -> str | None:
    found = re.search(r"charset=\"?([^;\s\"]+)", content_type, re.IGNORECASE)
    return found.group(1) if found else None


def _describe(fetched: Any, args: HttpArgs, max_chars: int) -> ToolOutcome:
    """The result the model reads: status line, a few headers, then the body as text."""
    import httpx

    data: bytes = fetched.body
    cut: bool = fetched.truncated
    headers: httpx.Headers = fetched.headers
    reason = httpx.codes.get_reason_phrase(fetched.status)
    lines = [f"HTTP {fetched.status} {reason}".rstrip()]
    if fetched.url != str(httpx.URL(args.url)):
        lines.append(f"(redirected to {fetched.url})")
    lines += [f"{name}: {headers[name]}" for name in SHOWN_HEADERS if name in headers]
    lines.append("")
    content_type = headers.get("content-type", "")
    if not data:
        lines.append("(empty body)")
    elif _is_text(content_type, data):
        try:
            text = data.decode(_charset(content_type) or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            text = data.decode("utf-8", errors="replace")
        if cut or len(text) > max_chars:
            text = text[:max_chars] + "\n[... body truncated ...]"
        lines.append(text)
    else:
        size = f"more than {len(data)}" if cut else str(len(data))
        lines.append(f"[binary body: {content_type or 'unknown type'}, {size} bytes]")
    return ToolOutcome(
        output="\n".join(lines), ok=fetched.status < 400, data={"status": fetched.status}
    )
