"""SSRF-safe http: which addresses tau may reach, checked on the address it actually connects to.

A model with an http tool can be talked into fetching ``http://169.254.169.254/`` (cloud
credentials), ``http://localhost:6379/`` or a router's admin page. :class:`NetPolicy` decides
what is reachable:

* HTTPS only by default; no credentials in URLs.
* The host is resolved once and *every* address is checked: loopback, private ranges,
  link-local, carrier-grade NAT, unique-local, multicast, unspecified (``0.0.0.0``, ``::``),
  reserved and documentation ranges, cloud metadata names and addresses. IPv4 embedded in IPv6
  (mapped ``::ffff:a.b.c.d``, compatible ``::a.b.c.d``, NAT64, 6to4) is checked as IPv4, and
  Teredo is refused. Numeric spellings (``2130706433``, ``0x7f.1``, ``0177.0.0.1``) are read
  as the C library reads them, so they are caught too.
* :class:`GuardedTransport` (an httpx transport) then connects to the checked address, while
  TLS (SNI and certificate check) and the ``Host`` header keep the original name: a DNS answer
  that changes between check and connect (rebinding) is never used.
* :func:`guarded_fetch` follows redirects one hop at a time, each checked again, with caps on
  total time and body size.
* A user who needs a local service allows it explicitly (``allow`` entries: a host name,
  ``host:port``, an address or a CIDR range). Allowed entries may use plain http.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from tau_engine.errors import ConfigError, ToolError
from tau_engine.safety.profiles import NetworkSection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
        "kubernetes.default.svc",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.169.253",
        "168.63.129.16",
        "100.100.100.200",
        "192.0.0.192",
        "fd00:ec2::254",
        "fd00:ec2::23",
    )
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
# Documentation, benchmarking and broadcast ranges: never a real server (Python files some of
# them under "private").
_RESERVED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "198.18.0.0/15",
        "255.255.255.255/32",
        "2001:db8::/32",
    )
)
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


class NetBlockedError(ToolError):
    """A URL or address the network policy refuses; ``reason`` is a short class of why."""

    def __init__(self, message: str, *, reason: str, url: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.url = url


def numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """``host`` read as the C library reads a numeric IPv4 (decimal, hex, octal, short forms)."""
    if not host or any(c not in "0123456789abcdefxABCDEFX." for c in host):
        return None
    if not any(c.isdigit() for c in host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, if it is an address literal in any spelling."""
    bare = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        return numeric_ipv4(host.rstrip("."))


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4)."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    packed = address.packed
    if address in _NAT64 or address in _NAT64_LOCAL:
        return "NAT64", ipaddress.IPv4Address(packed[-4:])
    if packed[:12] == bytes(12) and int(address) > 1:
        return "IPv4-compatible", ipaddress.IPv4Address(packed[-4:])
    return None


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` must not be reached (``None`` if it is a public address)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.teredo is not None:
            return "Teredo tunnel (the real address cannot be checked)"
        inner = embedded_ipv4(address)
        if inner is not None:
            why = blocked_reason(inner[1])
            return f"{inner[0]} {why}" if why else None
    if address in METADATA_ADDRESSES:
        return "cloud metadata address"
    if address.is_unspecified or (
        isinstance(address, ipaddress.IPv4Address) and address in _THIS_NETWORK
    ):
        return "unspecified address"
    if address.is_loopback:
        return "loopback address"
    if address.is_link_local:
        return "link-local address"
    if address.is_multicast:
        return "multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "carrier-grade NAT address"
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("fc00::/7"):
        return "unique-local address"
    if address.is_reserved or any(address in n for n in _RESERVED if n.version == address.version):
        return "reserved address"
    if address.is_private:
        return "private address"
    if not address.is_global:
        return "reserved address"
    return None


@dataclass(frozen=True)
class AllowEntry:
    """One allow-list entry: a host name, an address or a network, with an optional port."""

    host: str | None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    port: int | None

    @classmethod
    def parse(cls, text: str) -> AllowEntry:
        raw = text.strip().lower()
        port: int | None = None
        if raw.startswith("["):
            inside, _, rest = raw[1:].partition("]")
            host_part, port_text = inside, rest.lstrip(":")
        elif raw.count(":") == 1:
            host_part, port_text = raw.split(":")
        else:
            host_part, port_text = raw, ""
        if port_text:
            if port_text == "*":
                port = None
            elif port_text.isdigit() and 0 < int(port_text) < 65536:
                port = int(port_text)
            else:
                raise ValueError(f"bad port in network allow entry {text!r}")
        try:
            return cls(None, ipaddress.ip_network(host_part, strict=False), port)
        except ValueError:
            if not host_part or "/" in host_part:
                raise ValueError(f"bad network allow entry {text!r}") from None
            return cls(host_part.rstrip("."), None, port)

    def allows(self, host: str, address: IPAddress | None, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return host.rstrip(".").lower() == self.host
        return address is not None and self.network is not None and address in self.network


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the system resolver (in a thread, via the event loop)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass
class NetPolicy:
    """What the http tool may reach (see the module docstring)."""

    allow: Sequence[str] = ()
    https_only: bool = True
    max_bytes: int = 5_000_000
    timeout_s: float = 30.0
    max_redirects: int = 5
    resolver: Resolver = system_resolver
    entries: list[AllowEntry] = field(init=False)

    def __post_init__(self) -> None:
        self.entries = [AllowEntry.parse(e) for e in self.allow]

    @classmethod
    def from_profile(
        cls, network: NetworkSection, *, resolver: Resolver = system_resolver
    ) -> NetPolicy:
        """The policy a profile's ``[network]`` table describes.

        Its allow-list comes from a profile, and profiles are only read from tau itself and
        the user's config dir, never from a workspace."""
        try:
            return cls(
                allow=network.allow,
                https_only=network.https_only,
                max_bytes=network.max_bytes,
                timeout_s=network.timeout_s,
                max_redirects=network.max_redirects,
                resolver=resolver,
            )
        except ValueError as exc:
            raise ConfigError(f"network.allow: {exc}") from exc

    def allowed(self, host: str, address: IPAddress | None, port: int) -> bool:
        return any(e.allows(host, address, port) for e in self.entries)

    @staticmethod
    def parse(url: str, base: httpx.URL | None = None) -> httpx.URL:
        """Parse (or resolve against ``base``) a URL; one httpx rejects is refused too."""
        try:
            return base.join(url) if base is not None else httpx.URL(url)
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise NetBlockedError(
                f"blocked {url}: not a valid URL ({exc})", reason="invalid-url", url=url
            ) from exc

    def check_url(self, url: httpx.URL) -> None:
        """Refuse bad schemes, credentials in the URL and metadata names (before resolving)."""
        text = str(url)
        host = url.host.rstrip(".").lower()
        port = url.port or (443 if url.scheme == "https" else 80)
        if url.scheme not in ("http", "https") or not host:
            raise NetBlockedError(
                f"blocked {text}: only http(s) URLs with a host", reason="scheme", url=text
            )
        if url.userinfo:
            raise NetBlockedError(
                f"blocked {text}: credentials in the URL", reason="userinfo", url=text
            )
        listed = self.allowed(host, literal_address(host), port)
        if url.scheme == "http" and self.https_only and not listed:
            raise NetBlockedError(
                f"blocked {text}: only https is allowed (allow the host in "
                "the network allow-list to use http)",
                reason="https-only",
                url=text,
            )
        if not listed and (
            host in METADATA_NAMES or host == "localhost" or host.endswith(".localhost")
        ):
            raise NetBlockedError(
                f"blocked {text}: {host} is a local or metadata name",
                reason="metadata-name" if host in METADATA_NAMES else "loopback address",
                url=text,
            )

    async def resolve_checked(self, url: httpx.URL) -> str:
        """Resolve the URL's host once, check every address, return the one to connect to."""
        self.check_url(url)
        host = url.host.rstrip(".").lower()
        port = url.port or (443 if url.scheme == "https" else 80)
        literal = literal_address(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                raw = await self.resolver(host, port)
            except OSError as exc:
                raise ToolError(f"cannot resolve {host}: {exc}") from exc
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in raw]
            if not addresses:
                raise ToolError(f"cannot resolve {host}: no addresses")
        if not self.allowed(host, None, port):
            for address in addresses:
                if self.allowed(host, address, port):
                    continue
                reason = blocked_reason(address)
                if reason is not None:
                    raise NetBlockedError(
                        f"blocked {url}: {host} resolves to {address}, a {reason}; allow it "
                        "explicitly in the network allow-list if you trust it",
                        reason=reason,
                        url=str(url),
                    )
        return str(addresses[0])


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that connects only to addresses :class:`NetPolicy` has checked."""

    def __init__(self, policy: NetPolicy, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpx.AsyncHTTPTransport(retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        address = await self.policy.resolve_checked(request.url)
        host = request.url.host
        # Connect to the checked address; Host header and TLS keep the original name.
        request.url = request.url.copy_with(host=address)
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class FetchResult:
    """A fetched response: status, headers, body (capped), the final URL and every hop."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str
    hops: list[str]
    truncated: bool = False


async def guarded_fetch(
    policy: NetPolicy,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    verify: Any = True,
) -> FetchResult:
    """One request through the policy, following redirects one checked hop at a time."""
    guarded = GuardedTransport(
        policy, transport or httpx.AsyncHTTPTransport(retries=0, verify=verify)
    )
    timeout = httpx.Timeout(policy.timeout_s)
    hops: list[str] = []
    current = policy.parse(url)
    send_headers = dict(headers or {})
    # trust_env=False: no proxy from the environment (it would connect to an address tau
    # never checked) and no credentials from .netrc for whatever host the model names.
    async with httpx.AsyncClient(
        transport=guarded, timeout=timeout, follow_redirects=False, trust_env=False
    ) as client:
        async with asyncio.timeout(policy.timeout_s):
            for _ in range(policy.max_redirects + 1):
                hops.append(str(current))
                request = client.build_request(method, current, headers=send_headers, content=body)
                response = await client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECT_CODES and location:
                        target = policy.parse(location, current)
                        policy.check_url(target)
                        if target.host != current.host or target.scheme != current.scheme:
                            send_headers = {
                                k: v
                                for k, v in send_headers.items()
                                if k.lower() not in ("authorization", "cookie")
                            }
                        if (response.status_code == 303 and method != "HEAD") or (
                            response.status_code in (301, 302) and method == "POST"
                        ):
                            method, body = "GET", None
                        current = target
                        continue
                    data, truncated = await _read_capped(response, policy.max_bytes)
                    return FetchResult(
                        response.status_code, response.headers, data, str(current), hops, truncated
                    )
                finally:
                    await response.aclose()
    raise NetBlockedError(
        f"blocked {url}: more than {policy.max_redirects} redirects",
        reason="too-many-redirects",
        url=url,
    )


async def _read_capped(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        if size + len(chunk) > limit:
            chunks.append(chunk[: limit - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False
