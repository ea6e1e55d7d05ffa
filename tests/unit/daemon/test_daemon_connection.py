"""The client's own HTTP/1.1 (runtime.daemon.connection) against a scripted server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtime.daemon.connection import Pool, TransportError
from runtime.daemon.tls import Address


class Scripted:
    """A unix-socket server that answers each request with the next scripted reply; a
    reply of None closes the connection without answering, a 1-tuple after answering."""

    def __init__(self, path: Path, replies: list[bytes | tuple[bytes] | None]) -> None:
        self.replies = replies
        self.requests: list[bytes] = []
        self.connections = 0
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.replies:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn, conn.makefile("rb") as rfile:
                while self.replies:
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        line = rfile.readline()
                        if not line:
                            break
                        head += line
                    if not head:
                        break
                    length = next((int(h.split(b":")[1]) for h in head.split(b"\r\n")
                                   if h.lower().startswith(b"content-length:")), 0)
                    self.requests.append(head + rfile.read(length))
                    reply = self.replies.pop(0)
                    if reply is None:
                        break
                    conn.sendall(reply if isinstance(reply, bytes) else reply[0])
                    if isinstance(reply, tuple):
                        break

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def scripted(short_tmp: Path) -> Iterator[Callable[..., tuple[Scripted, Pool]]]:
    made: list[tuple[Scripted, Pool]] = []

    def make(replies: list[bytes | tuple[bytes] | None]) -> tuple[Scripted, Pool]:
        path = short_tmp / f"c{len(made)}.sock"
        server = Scripted(path, replies)
        pool = Pool(Address(scheme="unix", path=str(path)))
        made.append((server, pool))
        return server, pool

    yield make
    for server, pool in made:
        pool.close()
        server.close()


def sized(body: bytes, status: str = "200 OK") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def test_kept_alive_connection_is_reused(scripted: Callable[..., tuple[Scripted, Pool]]) -> None:
    server, pool = scripted([sized(b'{"a":1}'), sized(b"[]", "404 Not Found")])
    first = pool.request("POST", "/x?y=1", body=b"{}", headers={"Content-Type": "application/json"})
    assert (first.status_code, first.read()) == (200, b'{"a":1}')
    second = pool.request("GET", "/z")
    assert (second.status_code, second.read()) == (404, b"[]")
    assert server.connections == 1
    assert server.requests[0].startswith(b"POST /x?y=1 HTTP/1.1\r\n")
    assert b"Content-Length: 2\r\n" in server.requests[0] and server.requests[0].endswith(b"{}")


def test_chunked_lines_arrive_one_by_one(scripted: Callable[..., tuple[Scripted, Pool]]) -> None:
    body = b"5\r\n{\"a\":\r\n5\r\n1}\n{}\r\n1\r\n\n\r\n0\r\n\r\n"
    _, pool = scripted([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body,
                        sized(b"ok")])
    response = pool.request("GET", "/stream")
    assert list(response.iter_lines()) == [b'{"a":1}', b"{}"]
    assert pool.request("GET", "/after").read() == b"ok"  # the connection was released


def test_a_connection_closed_while_idle_is_replaced(
        scripted: Callable[..., tuple[Scripted, Pool]]) -> None:
    server, pool = scripted([sized(b"1"), None, sized(b"2")])
    assert pool.request("GET", "/one").read() == b"1"
    # The server drops the kept connection on the next request: sent again on a new one.
    assert pool.request("GET", "/two").read() == b"2"
    assert server.connections == 2


def test_no_daemon_is_a_transport_error(short_tmp: Path) -> None:
    pool = Pool(Address(scheme="unix", path=str(short_tmp / "none.sock")))
    with pytest.raises(TransportError, match="No such file"):
        pool.request("GET", "/_ping")


def test_an_answer_cut_short_is_a_transport_error(
        scripted: Callable[..., tuple[Scripted, Pool]]) -> None:
    _, pool = scripted([(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",)])
    response = pool.request("GET", "/short")
    with pytest.raises(TransportError, match="closed in the middle"):
        response.read()
