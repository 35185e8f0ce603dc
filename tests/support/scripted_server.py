"""A scripted HTTP server on 127.0.0.1 that speaks real provider wire formats.

Tests queue ``ScriptedResponse`` objects; each incoming request takes the next
one (or the first queued for its path). Bodies are sent with chunked transfer
encoding, one flushed chunk per element of ``chunks``, so clients see the
stream arrive piece by piece exactly as from a real provider. A response can
hang before answering (timeouts), pause between chunks, or cut the connection
mid-body (a broken stream). Every request is recorded for assertions.

It runs in a daemon thread so both in-process async tests and ``tau``
subprocesses can reach it. It never binds anything but loopback.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ScriptedResponse:
    """One scripted answer."""

    status: int = 200
    chunks: list[bytes] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream"
    delay_s: float = 0.0  # pause between chunks
    hang_s: float = 0.0  # pause before the status line (a hung server)
    cut: bool = False  # drop the connection after the chunks, without the final chunk
    # Send chunks in writes of at least this many bytes (0: one write per chunk). The
    # streaming benchmark uses it so the server is not the bottleneck being measured.
    write_size: int = 0
    path: str | None = None  # answer only requests whose path starts with this

    @classmethod
    def json(
        cls, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> ScriptedResponse:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return cls(
            status=status, chunks=[raw], headers=headers or {}, content_type="application/json"
        )


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def _writes(answer: ScriptedResponse) -> list[bytes]:
    if answer.write_size <= 0:
        return answer.chunks
    out: list[bytes] = []
    pending: list[bytes] = []
    size = 0
    for chunk in answer.chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= answer.write_size:
            out.append(b"".join(pending))
            pending, size = [], 0
    if pending:
        out.append(b"".join(pending))
    return out


class ScriptedServer:
    """The loopback server. Use as a context manager or call ``start``/``stop``."""

    def __init__(self) -> None:
        self._queue: list[ScriptedResponse] = []
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.responder: Callable[[RecordedRequest], ScriptedResponse | None] | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ---------------------------------------------------------
    def add(self, *responses: ScriptedResponse) -> None:
        with self._lock:
            self._queue.extend(responses)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Forget queued responses and recorded requests (for module-scoped servers)."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
        self.responder = None

    def _next(self, request: RecordedRequest) -> ScriptedResponse:
        if self.responder is not None:
            answer = self.responder(request)
            if answer is not None:
                return answer
        with self._lock:
            for i, candidate in enumerate(self._queue):
                if candidate.path is None or request.path.startswith(candidate.path):
                    return self._queue.pop(i)
        return ScriptedResponse.json(
            500,
            {
                "error": {
                    "message": f"no scripted response for {request.path}",
                    "type": "server_error",
                }
            },
        )

    # -- lifecycle ---------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}"

    def start(self) -> ScriptedServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = RecordedRequest(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with server._lock:
                    server.requests.append(request)
                answer = server._next(request)
                if answer.hang_s:
                    time.sleep(answer.hang_s)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    for key, value in answer.headers.items():
                        self.send_header(key, value)
                    self.send_header("Transfer-Encoding", "chunked")
                    if answer.cut:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    for i, chunk in enumerate(_writes(answer)):
                        if i and answer.delay_s:
                            time.sleep(answer.delay_s)
                        if not chunk:
                            continue
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                    if answer.cut:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, OSError):
                    self.close_connection = True

            do_POST = _handle
            do_GET = _handle

            def setup(self) -> None:
                super().setup()
                # Like real servers: no Nagle delay between the headers and each chunk.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def handle(self) -> None:
                # Clients drop kept-alive connections whenever they like: not an error.
                try:
                    super().handle()
                except (ConnectionResetError, BrokenPipeError):
                    pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        httpd = self._httpd
        self._thread = threading.Thread(
            target=lambda: httpd.serve_forever(poll_interval=0.05),
            daemon=True,
            name="scripted-server",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
