"""SSRF-safe http: every address form, checked connections, redirects hop by hop, caps.

The servers are the test's own, on loopback, reachable only through the allow-list."""

from __future__ import annotations

import http.server
import ipaddress
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tau_engine.safety.netguard import (
    AllowEntry,
    NetBlockedError,
    NetPolicy,
    blocked_reason,
    guarded_fetch,
    literal_address,
)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("169.254.169.254", "cloud metadata"),
        ("168.63.129.16", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "reserved"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.1", "reserved"),
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("::ffff:169.254.169.254", "IPv4-mapped cloud metadata"),
        ("::127.0.0.1", "IPv4-compatible loopback"),
        ("::10.0.0.1", "IPv4-compatible private"),
        ("64:ff9b::a9fe:a9fe", "NAT64 cloud metadata"),
        ("2002:7f00:1::", "6to4 loopback"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ],
)
def test_blocked_address(address: str, reason: str) -> None:
    why = blocked_reason(ipaddress.ip_address(address))
    assert why is not None and why.startswith(reason), why


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("2852039166", "169.254.169.254"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("0xA9.0xFE.0xA9.0xFE", "169.254.169.254"),
        ("0", "0.0.0.0"),
        ("[::ffff:7f00:1]", "::ffff:7f00:1"),
        ("[fe80::1%eth0]", "fe80::1"),
    ],
)
def test_numeric_spellings_are_read_as_the_c_library_reads_them(
    spelling: str, address: str
) -> None:
    parsed = literal_address(spelling)
    assert parsed == ipaddress.ip_address(address)
    assert blocked_reason(parsed) is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "https://0x7f.1/",
        "https://0177.0.0.1/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::]/",
        "https://0.0.0.0/",
        "https://169.254.169.254/latest/meta-data/",
        "https://2852039166/",
        "https://metadata.google.internal/",
        "https://LOCALHOST./",
        "https://app.localhost/",
        "https://user:pw@example.com/",
        "ftp://example.com/",
        "http://example.com/",
    ],
)
async def test_urls_refused_before_any_connection(url: str) -> None:
    async def never(host: str, port: int) -> list[str]:
        raise AssertionError("must not resolve")

    policy = NetPolicy(resolver=never)
    with pytest.raises(NetBlockedError):
        await policy.resolve_checked(policy.parse(url))


async def test_every_resolved_address_is_checked_and_resolution_happens_once() -> None:
    calls: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return {
            "mixed.test": ["93.184.216.34", "10.0.0.5"],
            "public.test": ["93.184.216.34", "2606:2800:220:1::1"],
        }[host]

    policy = NetPolicy(resolver=resolver)
    with pytest.raises(NetBlockedError, match=r"10\.0\.0\.5, a private address"):
        await policy.resolve_checked(httpx.URL("https://mixed.test/"))
    assert await policy.resolve_checked(httpx.URL("https://public.test/")) == "93.184.216.34"
    assert calls == ["mixed.test", "public.test"]


def test_allow_entries() -> None:
    assert AllowEntry.parse("127.0.0.1:8080").allows("x", ipaddress.ip_address("127.0.0.1"), 8080)
    assert not AllowEntry.parse("127.0.0.1:8080").allows(
        "x", ipaddress.ip_address("127.0.0.1"), 8081
    )
    assert AllowEntry.parse("10.0.0.0/8").allows("x", ipaddress.ip_address("10.9.9.9"), 1)
    assert AllowEntry.parse("[::1]:9000").allows("x", ipaddress.ip_address("::1"), 9000)
    assert AllowEntry.parse("Intranet.Example.").allows("intranet.example", None, 443)
    for bad in ("host:port", "a/b/c", ""):
        with pytest.raises(ValueError):
            AllowEntry.parse(bad)


# -- real loopback servers --------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str]]

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Host", "")))  # type: ignore[attr-defined]
        self.server.auth.append(self.headers.get("Authorization"))  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts.path == "/slow":
            time.sleep(1)
        body = (
            b"x" * 200_000
            if parts.path == "/big"
            else b"hello " + self.headers.get("Host", "").encode()
        )
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading at its cap, as it should


class _Server:
    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.seen = []  # type: ignore[attr-defined]
        self.httpd.auth = []  # type: ignore[attr-defined]
        if context is not None:
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def seen(self) -> list[tuple[str, str]]:
        return self.httpd.seen  # type: ignore[attr-defined,no-any-return]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[_Server, _Server]]:
    first, second = _Server(), _Server()
    yield first, second
    first.close()
    second.close()


async def test_loopback_is_reachable_only_through_the_allow_list(
    servers: tuple[_Server, _Server],
) -> None:
    server, _ = servers
    url = f"http://127.0.0.1:{server.port}/ok"
    with pytest.raises(NetBlockedError, match="only https"):
        await guarded_fetch(NetPolicy(), "GET", url)
    with pytest.raises(NetBlockedError, match="loopback address"):
        await guarded_fetch(NetPolicy(https_only=False), "GET", url)
    assert server.seen == []
    result = await guarded_fetch(NetPolicy(allow=[f"127.0.0.1:{server.port}"]), "GET", url)
    assert result.status == 200 and result.body.startswith(b"hello")


async def test_environment_proxies_and_netrc_are_ignored(
    servers: tuple[_Server, _Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would connect on tau's behalf to an address tau never checked; a .netrc would
    # hand the user's credentials to whatever host the model picks.
    server, _ = servers
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9/")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9/")
    policy = NetPolicy(allow=[f"127.0.0.1:{server.port}"], https_only=False)
    result = await guarded_fetch(policy, "GET", f"http://127.0.0.1:{server.port}/ok")
    assert result.status == 200
    assert server.httpd.auth == [None]  # type: ignore[attr-defined]


async def test_connects_to_the_checked_address_keeping_the_host_name(
    servers: tuple[_Server, _Server],
) -> None:
    server, _ = servers
    calls: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    policy = NetPolicy(allow=["127.0.0.1"], https_only=False, resolver=resolver)
    result = await guarded_fetch(policy, "GET", f"http://service.test:{server.port}/ok")
    assert result.body == f"hello service.test:{server.port}".encode()
    assert calls == ["service.test"]


async def test_redirect_to_a_blocked_address_is_refused_at_that_hop(
    servers: tuple[_Server, _Server],
) -> None:
    first, second = servers
    policy = NetPolicy(allow=[f"127.0.0.1:{first.port}"], https_only=False)
    for target in (
        f"http://0x7f.1:{second.port}/ok",
        f"http://[::ffff:127.0.0.1]:{second.port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/",
    ):
        url = f"http://127.0.0.1:{first.port}/redirect?to={target}"
        with pytest.raises(NetBlockedError) as err:
            await guarded_fetch(policy, "GET", url)
        assert (
            err.value.url.startswith("http://")
            and "127.0.0.1:" + str(first.port) not in err.value.url
        )
    assert second.seen == []
    # An allowed hop is followed, one at a time, and every hop is listed.
    chain = f"http://127.0.0.1:{first.port}/redirect?to=/redirect%3Fto%3D/ok"
    result = await guarded_fetch(policy, "GET", chain)
    assert result.status == 200 and len(result.hops) == 3
    with pytest.raises(NetBlockedError, match="more than 1 redirects"):
        await guarded_fetch(
            NetPolicy(allow=[f"127.0.0.1:{first.port}"], https_only=False, max_redirects=1),
            "GET",
            chain,
        )


async def test_size_and_time_caps(servers: tuple[_Server, _Server]) -> None:
    server, _ = servers
    policy = NetPolicy(allow=["127.0.0.1"], https_only=False, max_bytes=1000)
    result = await guarded_fetch(policy, "GET", f"http://127.0.0.1:{server.port}/big")
    assert result.truncated and len(result.body) == 1000
    slow = NetPolicy(allow=["127.0.0.1"], https_only=False, timeout_s=0.3)
    with pytest.raises((TimeoutError, httpx.TimeoutException)):
        await guarded_fetch(slow, "GET", f"http://127.0.0.1:{server.port}/slow")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_tls_uses_the_original_name_for_sni_and_the_certificate(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=example.test",
            "-addext",
            "subjectAltName=DNS:example.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    names: list[str | None] = []
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server_context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc,func-returns-value]
    server = _Server(server_context)
    try:

        async def resolver(host: str, port: int) -> list[str]:
            return ["127.0.0.1"]

        client_context = ssl.create_default_context(cafile=str(cert))
        policy = NetPolicy(allow=["127.0.0.1"], resolver=resolver)
        result = await guarded_fetch(
            policy, "GET", f"https://example.test:{server.port}/ok", verify=client_context
        )
        assert result.body == f"hello example.test:{server.port}".encode()
        assert names == ["example.test"]
    finally:
        server.close()


def test_policy_from_profile(tmp_path: Path) -> None:
    from tau_engine.errors import ConfigError
    from tau_engine.safety.profiles import load_profile

    network = load_profile("strict", user_dir=tmp_path).document.network
    policy = NetPolicy.from_profile(network)
    assert policy.https_only and policy.max_redirects == 3 and policy.entries == []
    bad = network.model_copy(update={"allow": ["10.0.0.0/8", "host:port"]})
    with pytest.raises(ConfigError, match=r"network\.allow: bad port"):
        NetPolicy.from_profile(bad)
