"""A small threaded HTTP/1.1 server that runs in the background of a test process.

The fakes in this package (LLM providers, OTLP receiver) subclass `BackgroundHTTPServer`
and implement `handle()`. Every connection gets its own thread, so a handler that sleeps
(latency injection, a hanging request) never delays the other requests.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import sys
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

# Idle keep-alive connections are closed after this many seconds.
KEEP_ALIVE_IDLE_S = 30.0
# The stdlib default listen backlog of 5 drops SYNs when 16+ clients connect at once,
# which costs a 1 s TCP retransmit and ruins concurrency measurements.
LISTEN_BACKLOG = 256


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as the fake saw it (header names lower-cased, body decoded)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    content_encoding: str | None = None


@dataclass
class HttpReply:
    """What the handler sends back.

    `drop` closes the connection without answering (a hung request that finally dies);
    `cut_body_at` sends the full Content-Length but only that many body bytes, then closes
    the connection (a response truncated in transit).
    """

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    cut_body_at: int | None = None


class _ServerCore(ThreadingHTTPServer):
    """`ThreadingHTTPServer` with a large backlog and a link back to its owner."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: BackgroundHTTPServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that give up (timeouts) and connections closed by stop() are expected;
        # anything else is a bug in the fake and is printed as usual.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, asks the owner for a reply and writes it."""

    protocol_version = "HTTP/1.1"
    timeout = KEEP_ALIVE_IDLE_S
    # Headers and body go out in separate writes; with Nagle on, the body then waits for
    # the client's delayed ACK (~40 ms per request on Linux).
    disable_nagle_algorithm = True
    server: _ServerCore

    def setup(self) -> None:
        super().setup()
        self.server.owner._track_connection(self.connection, opened=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track_connection(self.connection, opened=False)

    def log_message(self, format: str, *args: object) -> None:
        # Tests stay quiet; the owner records every request instead.
        return

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline().strip()
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        owner = self.server.owner
        raw = self._read_body()
        encoding = (self.headers.get("Content-Encoding") or "").lower() or None
        try:
            body = _decode_body(raw, encoding)
        except (OSError, zlib.error) as err:
            self._write(HttpReply(400, f"cannot decode {encoding} request body: {err}".encode()))
            return
        parts = urlsplit(self.path)
        request = HttpRequest(
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            content_encoding=encoding,
        )
        try:
            reply = owner.handle(request)
        except Exception as err:  # a bug in a fake must show up as a 500, not a hung client
            reply = HttpReply(500, f"fake server error: {type(err).__name__}: {err}".encode())
        self._write(reply)

    def _write(self, reply: HttpReply) -> None:
        if reply.drop:
            self.close_connection = True
            _hard_close(self.connection)
            return
        self.send_response(reply.status)
        headers = {"content-type": "application/json", **{k.lower(): v for k, v in reply.headers.items()}}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.cut_body_at is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if reply.cut_body_at is not None:
            self.wfile.write(reply.body[: reply.cut_body_at])
            self.wfile.flush()
            self.close_connection = True
            _hard_close(self.connection)
            return
        self.wfile.write(reply.body)
        self.wfile.flush()

    do_POST = _dispatch  # noqa: N815 - the stdlib looks these names up
    do_GET = _dispatch  # noqa: N815 - the stdlib looks these names up
    do_PUT = _dispatch  # noqa: N815 - the stdlib looks these names up
    do_DELETE = _dispatch  # noqa: N815 - the stdlib looks these names up
    do_PATCH = _dispatch  # noqa: N815 - the stdlib looks these names up


def _decode_body(raw: bytes, encoding: str | None) -> bytes:
    if encoding in (None, "identity"):
        return raw
    if encoding == "gzip":
        return gzip.decompress(raw)
    if encoding == "deflate":
        return zlib.decompress(raw)
    raise OSError(f"unsupported Content-Encoding {encoding!r}")


def _hard_close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class BackgroundHTTPServer:
    """A threaded HTTP server on 127.0.0.1 with an ephemeral port, run from a context manager.

    Subclasses implement `handle(request) -> HttpReply`. `stop()` wakes handlers that are
    sleeping through `wait()` and closes open keep-alive connections, so it returns quickly.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._core: _ServerCore | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind an ephemeral port and serve in a daemon thread; returns self."""
        if self._core is not None:
            raise RuntimeError(f"{type(self).__name__} is already running at {self.url}")
        self._stopping.clear()
        self._core = _ServerCore((self._host, 0), self)
        self._thread = threading.Thread(
            target=self._core.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers and close open connections."""
        core = self._core
        if core is None:
            return
        self._stopping.set()
        core.shutdown()
        core.server_close()
        with self._connections_lock:
            open_connections = list(self._connections)
        for sock in open_connections:
            _hard_close(sock)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._core = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (raises when the server is not running)."""
        if self._core is None:
            raise RuntimeError(f"{type(self).__name__} is not running; use it as a context manager or call start()")
        return int(self._core.server_address[1])

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>` without a trailing slash."""
        return f"http://{self._host}:{self.port}"

    # -- for subclasses --------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpReply:
        """Answer one request; subclasses override this."""
        raise NotImplementedError

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; returns True when the server is stopping (cut short)."""
        if seconds <= 0:
            return self._stopping.is_set()
        return self._stopping.wait(seconds)

    def _track_connection(self, sock: socket.socket, *, opened: bool) -> None:
        with self._connections_lock:
            if opened:
                self._connections.add(sock)
            else:
                self._connections.discard(sock)
