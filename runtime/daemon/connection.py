"""HTTP/1.1 to stackd on the standard library alone: the client side of the wire.

The CLI imports this on every run, and a general HTTP client costs more to import
than a whole ``stack ps`` should take (httpx brings httpcore, its async-backend
probing and certifi; http.client brings the email package). stackd speaks a
narrow HTTP: requests with JSON bodies, answers with a Content-Length or, for
streams, JSON lines in chunked encoding. That much is here:

- ``Pool``: connections to one address (unix socket, or TCP with TLS; ``ssl`` is
  imported only then), kept alive and reused. Thread-safe: a connection serves
  one request at a time and goes back to the pool once its answer is read, so
  parallel callers each get their own.
- ``Response``: status, headers, and the body: read whole, as lines, or dropped.

Every failure to talk (refused, reset, TLS, a malformed answer) is a
``TransportError``; what it means for the engine is the caller's business.
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

    from runtime.daemon.tls import Address

# Outside the route table: "is stackd there?" (every CLI run asks it first). Answers
# 200 "OK" as soon as the server listens (autostart waits on it).
PING_PATH = "/_ping"

MAX_LINE = 65536
MAX_HEADERS = 100
IDLE_KEPT = 16  # idle connections kept per pool


class TransportError(Exception):
    """The request or its answer did not make it (the daemon may be down)."""


class _Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile: io.BufferedReader = sock.makefile("rb")

    def close(self) -> None:
        self.rfile.close()
        self.sock.close()


class Response:
    """One answer. Read it (``read``, ``json``, ``iter_lines``) or ``close`` it; either
    way its connection is released: back to the pool when the body was read to its end."""

    def __init__(self, pool: Pool, conn: _Connection, *, status: int,
                 headers: dict[str, str], no_body: bool) -> None:
        self.status_code = status
        self.headers = headers
        self._pool = pool
        self._conn: _Connection | None = conn
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._keep_alive = headers.get("connection", "").lower() != "close"
        self._remaining: int | None = None
        if no_body:
            self._remaining = 0
        elif not self._chunked:
            length = headers.get("content-length")
            if length is None:
                self._keep_alive = False  # the body ends when the server closes
            else:
                try:
                    self._remaining = int(length)
                except ValueError as exc:
                    raise TransportError(f"bad Content-Length: {length!r}") from exc
        if self._remaining == 0:
            self._release()

    def read(self) -> bytes:
        """The whole (rest of the) body."""
        return b"".join(self._pieces())

    def iter_lines(self) -> Iterator[bytes]:
        """The body's lines as they arrive (without their line ends)."""
        pending = b""
        for piece in self._pieces():
            pending += piece
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.rstrip(b"\r")
        if pending:
            yield pending

    def close(self) -> None:
        """Drop the rest of the body (its connection is closed, not reused)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _pieces(self) -> Iterator[bytes]:
        try:
            if self._chunked:
                yield from self._chunks()
            else:
                yield from self._sized()
        except OSError as exc:
            self.close()
            raise TransportError(f"answer cut short: {exc}") from exc
        except BaseException:
            self.close()
            raise

    def _sized(self) -> Iterator[bytes]:
        while self._conn is not None:
            want = 65536 if self._remaining is None else min(self._remaining, 65536)
            data = self._conn.rfile.read1(want) if want else b""
            if not data:
                if self._remaining:
                    raise TransportError("connection closed in the middle of an answer")
                self._release()
                return
            if self._remaining is not None:
                self._remaining -= len(data)
            yield data
            if self._remaining == 0:
                self._release()

    def _chunks(self) -> Iterator[bytes]:
        while self._conn is not None:
            rfile = self._conn.rfile
            size_line = rfile.readline(MAX_LINE)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise TransportError(f"bad chunk size line: {size_line[:40]!r}") from exc
            if size == 0:
                _read_headers(rfile)  # trailers, then the blank line
                self._release()
                return
            data = rfile.read(size)
            if len(data) < size or rfile.readline(MAX_LINE) not in (b"\r\n", b"\n"):
                raise TransportError("connection closed in the middle of a chunk")
            yield data

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._keep_alive:
                self._pool.put(conn)
            else:
                conn.close()


class Pool:
    """Keep-alive connections to one stackd address."""

    def __init__(self, address: Address, *, tls: ssl.SSLContext | None = None,
                 headers: Mapping[str, str] | None = None, connect_timeout: float = 5.0) -> None:
        if address.scheme == "tcp" and tls is None:
            raise ValueError("stackd over TCP needs TLS")
        self.address = address
        self._tls = tls
        self._connect_timeout = connect_timeout
        host = f"[{address.host}]:{address.port}" if ":" in address.host else (
            f"{address.host}:{address.port}" if address.scheme == "tcp" else "stackd")
        self._headers = {"Host": host, "User-Agent": "stack", **(headers or {})}
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def request(self, method: str, target: str, *, body: bytes | None = None,
                headers: Mapping[str, str] | None = None,
                timeout: float | None = None) -> Response:
        """Send one request and read the answer's head; ``timeout`` bounds each wait on
        the socket (None: wait as long as it takes, e.g. for a container to stop)."""
        all_headers = {**self._headers, **(headers or {})}
        if body is not None or method in ("POST", "PUT", "PATCH"):
            all_headers["Content-Length"] = str(len(body or b""))
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in all_headers.items()) + "\r\n"
        message = head.encode("latin-1") + (body or b"")
        while True:
            conn, reused = self._take()
            try:
                conn.sock.settimeout(timeout)
                conn.sock.sendall(message)
                return self._read_head(conn, method)
            except (OSError, TransportError) as exc:
                conn.close()
                # A kept connection the daemon closed while idle fails before any answer:
                # the request was never seen, so it is sent again on a new connection.
                if reused and not isinstance(exc, TimeoutError):
                    continue
                if isinstance(exc, TransportError):
                    raise
                raise TransportError(str(exc) or type(exc).__name__) from exc

    def upgrade(self, target: str, headers: Mapping[str, str]
                ) -> tuple[Response | None, socket.socket, io.BufferedReader]:
        """``GET target`` with upgrade headers on a connection of its own. On ``101`` the
        connection leaves the pool: (None, its socket, its reader, which may hold bytes
        already sent after the head). Otherwise the answer to read, as ``request`` gives."""
        all_headers = {**self._headers, **headers}
        head = f"GET {target} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in all_headers.items()) + "\r\n"
        conn = self._connect()
        try:
            conn.sock.settimeout(self._connect_timeout)
            conn.sock.sendall(head.encode("latin-1"))
            conn.sock.settimeout(None)  # the command decides how long the answer takes
            line = conn.rfile.readline(MAX_LINE)
            parts = line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
                raise TransportError(f"not an HTTP answer: {line[:60]!r}")
            status = int(parts[1])
            headers_in = _read_headers(conn.rfile)
            if status != 101:
                answer = Response(self, conn, status=status, headers=headers_in, no_body=False)
                answer._keep_alive = False  # this connection was never the pool's
                return answer, conn.sock, conn.rfile
            if headers_in.get("upgrade", "").lower() != "websocket":
                raise TransportError("the daemon did not switch to a WebSocket")
            return None, conn.sock, conn.rfile
        except OSError as exc:
            conn.close()
            raise TransportError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            conn.close()
            raise

    def put(self, conn: _Connection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < IDLE_KEPT:
                conn.sock.settimeout(None)
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _take(self) -> tuple[_Connection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._connect(), False

    def _connect(self) -> _Connection:
        address = self.address
        try:
            if address.scheme == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(self._connect_timeout)
                    sock.connect(address.path)
                except BaseException:
                    sock.close()
                    raise
            else:
                assert self._tls is not None
                raw = socket.create_connection((address.host, address.port),
                                               timeout=self._connect_timeout)
                try:
                    sock = self._tls.wrap_socket(raw, server_hostname=address.host)
                except BaseException:
                    raw.close()
                    raise
        except OSError as exc:
            raise TransportError(str(exc) or type(exc).__name__) from exc
        return _Connection(sock)

    def _read_head(self, conn: _Connection, method: str) -> Response:
        line = conn.rfile.readline(MAX_LINE)
        if not line:
            raise TransportError("the daemon closed the connection without answering")
        parts = line.split(None, 2)
        try:
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
                raise ValueError
            status = int(parts[1])
        except ValueError as exc:
            raise TransportError(f"not an HTTP answer: {line[:60]!r}") from exc
        headers = _read_headers(conn.rfile)
        no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
        return Response(self, conn, status=status, headers=headers, no_body=no_body)


def _read_headers(rfile: io.BufferedReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS):
        line = rfile.readline(MAX_LINE)
        if not line:
            raise TransportError("connection closed in the middle of the headers")
        if line in (b"\r\n", b"\n"):
            return headers
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise TransportError(f"malformed header line: {line[:60]!r}")
        headers[name.strip().lower()] = value.strip()
    raise TransportError(f"more than {MAX_HEADERS} header lines")
