"""TLS for stackd over TCP, and the addresses both sides understand.

The daemon never listens on plain TCP: whoever reaches the API can run
privileged containers, i.e. is root on the host. Over TCP it needs a server
certificate AND a way to know the client: client certificates verified against
``--tlscacert``, or a bearer token (``--token-file``) sent over TLS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from runtime.errors import InvalidArgument

if TYPE_CHECKING:
    import ssl


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    """Where stackd listens / where the client connects."""

    scheme: Literal["unix", "tcp"]
    path: str = ""  # unix
    host: str = ""  # tcp
    port: int = 0

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsFiles:
    cacert: Path | None = None
    cert: Path | None = None
    key: Path | None = None


def parse_address(text: str) -> Address:
    """``unix:///path``, a bare absolute path, or ``tcp://host:port``."""
    if text.startswith("/"):
        return Address(scheme="unix", path=text)
    parts = urlsplit(text)
    if parts.scheme == "unix":
        path = parts.path or parts.netloc
        if not path.startswith("/"):
            raise InvalidArgument(f'address "{text}": a unix socket path must be absolute')
        return Address(scheme="unix", path=path)
    if parts.scheme == "tcp":
        try:
            port = parts.port
        except ValueError as exc:
            raise InvalidArgument(f'address "{text}": bad port') from exc
        if not parts.hostname or port is None:
            raise InvalidArgument(f'address "{text}": expected tcp://HOST:PORT')
        return Address(scheme="tcp", host=parts.hostname, port=port)
    raise InvalidArgument(f'address "{text}": expected unix:///path or tcp://host:port')


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """TLS for the daemon; with a CA, every client must present a certificate it signed."""
    import ssl  # here: a client on the unix socket never needs it

    if files.cert is None or files.key is None:
        raise InvalidArgument("TLS needs both --tlscert and --tlskey")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(str(files.cert), str(files.key))
        if files.cacert is not None:
            ctx.load_verify_locations(cafile=str(files.cacert))
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgument(f"TLS files {files.cert}, {files.key}: cannot load: {exc}") from exc
    return ctx


def client_context(files: TlsFiles) -> ssl.SSLContext:
    """TLS for the client: verify the server against the CA (system CAs without one)."""
    import ssl

    try:
        ctx = ssl.create_default_context(
            cafile=str(files.cacert) if files.cacert is not None else None)
        if files.cert is not None:
            ctx.load_cert_chain(str(files.cert), str(files.key) if files.key else None)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgument(f"TLS files: cannot load: {exc}") from exc
    return ctx
