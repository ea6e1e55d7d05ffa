"""A tiny misbehaving registry on 127.0.0.1 for failure tests (helpers, no tests).

It serves what the test puts in ``manifests`` and ``blobs`` (keyed by the digest
the URL asks for, so a test can serve wrong bytes under a digest), and can
drop a blob transfer half-way, rate-limit, or demand a bearer token.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class FakeRegistry:
    manifests: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    drop_blob_once_at: dict[str, int] = field(default_factory=dict)  # digest -> byte offset
    rate_limit: bool = False
    token: str = ""  # when set: bearer auth with this token
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    token_auth_headers: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def _handler(reg: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet

        def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None
                  ) -> None:
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            url = urlparse(self.path)
            reg.requests.append((self.command, url.path, dict(self.headers)))
            if url.path == "/token":
                reg.token_requests.append(parse_qs(url.query))
                reg.token_auth_headers.append(self.headers.get("Authorization", ""))
                self._send(200, json.dumps({"token": reg.token, "expires_in": 300}).encode(),
                           {"Content-Type": "application/json"})
                return
            if reg.token and self.headers.get("Authorization") != f"Bearer {reg.token}":
                realm = f"http://{reg.host}/token"
                self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                           {"WWW-Authenticate": f'Bearer realm="{realm}",service="fake"'})
                return
            if reg.rate_limit:
                self._send(429, b'{"errors":[{"code":"TOOMANYREQUESTS"}]}',
                           {"Retry-After": "7"})
                return
            if url.path == "/v2/":
                self._send(200, b"{}")
                return
            parts = url.path.removeprefix("/v2/").rsplit("/", 2)
            if len(parts) == 3 and parts[1] == "manifests":
                found = reg.manifests.get((parts[0], parts[2]))
                if found is None:
                    self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
                else:
                    self._send(200, found[0], {"Content-Type": found[1]})
                return
            if len(parts) == 3 and parts[1] == "blobs" and parts[2] in reg.blobs:
                self._blob(parts[2])
                return
            self._send(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')

        def _blob(self, digest: str) -> None:
            data = reg.blobs[digest]
            start = 0
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes="):
                start = int(rng.removeprefix("bytes=").split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            if self.command == "HEAD":
                return
            cut = reg.drop_blob_once_at.pop(digest, None)
            if cut is not None:
                self.wfile.write(data[start:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(data[start:])

    return Handler


def serve(reg: FakeRegistry) -> Iterator[FakeRegistry]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(reg))
    server.daemon_threads = True
    reg.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield reg
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
