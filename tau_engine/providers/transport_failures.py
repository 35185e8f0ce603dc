"""Transport failures as ``ProviderError``s: refused connections, timeouts, broken streams.

Apart from ``http`` (which reads what a server *said*) because these are about what
the network did, and one of them needs a judgment of its own: a refused
connection to a local server means nothing is listening there (Ollama not
started), so it fails at once with a question instead of being retried.
"""

from __future__ import annotations

import ipaddress

import httpx

from tau_engine.errors import ProviderError

_MAX_REASON_CHARS = 1000


def transport_error(
    exc: httpx.HTTPError, provider: str, *, partial_output: bool = False
) -> ProviderError:
    """Map an ``httpx`` transport failure to a ``ProviderError``.

    ``partial_output`` says whether some of the answer had already streamed; a
    broken stream is then reported as such and is no longer retryable.
    """
    host = _request_host(exc)
    where = f" {host}" if host else ""
    kind: str
    message: str
    retryable = True
    if isinstance(exc, httpx.ConnectTimeout):
        kind, message = "connection", f"could not connect to{where}: timed out"
    elif isinstance(exc, httpx.ConnectError):
        kind, message = "connection", f"could not connect to{where}: {_reason(exc)}"
        if _refused(exc) and _is_local(exc):
            # Nothing listens there (Ollama not started): waiting will not change that.
            origin = _request_origin(exc)
            message = (
                f"could not connect to{where} (connection refused): is the server "
                f"running at {origin}?"
            )
            retryable = False
    elif isinstance(exc, httpx.ReadTimeout):
        seconds = _read_timeout(exc)
        after = f" for {seconds:g} s" if seconds is not None else ""
        kind, message = "timeout", f"no data from{where}{after}; the request timed out"
    elif isinstance(exc, httpx.TimeoutException):
        kind, message = "timeout", f"the request to{where} timed out ({type(exc).__name__})"
    elif isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        kind, message = "stream", "the stream broke before the answer finished"
        reason = _reason(exc)
        if reason:
            message = f"{message} ({reason})"
    elif isinstance(exc, httpx.NetworkError):
        kind, message = "connection", f"network error talking to{where}: {_reason(exc)}"
    else:
        kind, message, retryable = "connection", _reason(exc) or type(exc).__name__, False
    return ProviderError(
        message,
        kind=kind,
        provider=provider,
        retryable=retryable and not partial_output,
        partial_output=partial_output,
    )


def _request_host(exc: httpx.HTTPError) -> str:
    try:
        url = exc.request.url
    except RuntimeError:
        return ""
    return f"{url.host}:{url.port}" if url.port else url.host


def _request_origin(exc: httpx.HTTPError) -> str:
    try:
        url = exc.request.url
    except RuntimeError:
        return "the base URL"
    return str(url.copy_with(path="/", query=None, fragment=None)).rstrip("/")


def _refused(exc: BaseException) -> bool:
    """Whether a connect failure was a refusal (somewhere in its cause chain)."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_local(exc: httpx.HTTPError) -> bool:
    """Loopback, private and link-local addresses, ``localhost`` and one-label names
    (``gpu-box``, a compose service): where a refusal means nothing is running."""
    try:
        host = exc.request.url.host
    except RuntimeError:
        return False
    if host == "localhost" or host.endswith((".localhost", ".local")):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "." not in host
    return address.is_loopback or address.is_private or address.is_link_local


def _read_timeout(exc: httpx.HTTPError) -> float | None:
    try:
        timeouts = exc.request.extensions.get("timeout")
    except RuntimeError:
        return None
    if isinstance(timeouts, dict):
        value = timeouts.get("read")
        if isinstance(value, int | float):
            return float(value)
    return None


def _reason(exc: BaseException) -> str:
    flat = " ".join(str(exc).split())
    if len(flat) > _MAX_REASON_CHARS:
        flat = flat[: _MAX_REASON_CHARS - 1] + "…"
    return flat or type(exc).__name__
