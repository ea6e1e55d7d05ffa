"""A client for one registry (OCI distribution spec), over httpx.

HTTPS by default, verified against the system store, ``ca_file``,
``<state root>/certs.d/<host>/ca.crt`` or ``$SSL_CERT_FILE``. Plain HTTP only
for registries named insecure (their TLS is not verified either, as Docker
does) and for localhost / 127.0.0.0/8, which fall back to HTTP when HTTPS
fails at the protocol level. Every failure becomes an engine error a user
understands (NotFound, Unauthorized, Unavailable with retry-after, Failed).
Thread-safe: one httpx.Client (a connection pool) shared by the pull threads.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from runtime.errors import EngineError, Failed, NotFound, Unauthorized, Unavailable
from runtime.images.auth import Authenticator, Credentials
from runtime.images.blobs import BlobWriter
from runtime.images.manifest import ACCEPT, detect_media_type
from runtime.images.reference import DEFAULT_REGISTRY, DOCKER_HUB_API

log = logging.getLogger(__name__)

ProgressCb = Callable[[int], None]  # bytes moved so far


def is_local(host: str) -> bool:
    """localhost or a loopback address (never a name that merely starts with "127.")."""
    name = host.split("]")[0].lstrip("[") if host.startswith("[") else host.rsplit(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


_tls_lock = threading.Lock()
_tls_contexts: dict[tuple[str | None, str | None], tuple[tuple[int, ...], ssl.SSLContext]] = {}


def tls_context(cafile: str | None, *, trust_env: bool) -> ssl.SSLContext:
    """A verifying TLS context: ``cafile``'s CAs, else httpx's default (certifi's
    bundle, or ``$SSL_CERT_DIR`` where the environment is trusted).

    Made once per process and CA source (again when ``cafile`` changes): loading a
    bundle costs 20-100 ms of CPU before a pull can start, and stackd pulls many
    times in one process. Shared like one httpx.Client shares it between its
    connections (httpcore only sets the same ALPN list on it).
    """
    capath = os.environ.get("SSL_CERT_DIR") if cafile is None and trust_env else None
    stamp: tuple[int, ...] = ()
    if cafile is not None:
        with contextlib.suppress(OSError):  # missing: ssl says so below, and nothing is kept
            st = os.stat(cafile)
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    key = (cafile, capath)
    with _tls_lock:
        known = _tls_contexts.get(key)
        if known is not None and known[0] == stamp:
            return known[1]
        ctx = (ssl.create_default_context(cafile=cafile) if cafile is not None
               else httpx.create_ssl_context(verify=True, trust_env=trust_env))
        _tls_contexts[key] = (stamp, ctx)
        return ctx


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return text or type(exc).__name__


def _error_codes(resp: httpx.Response) -> list[str]:
    with contextlib.suppress(Exception):
        return [str(e.get("code", "")) for e in resp.json().get("errors", [])]
    return []


def _error_text(resp: httpx.Response) -> str:
    with contextlib.suppress(Exception):
        errors = resp.json().get("errors", [])
        if errors:
            return "; ".join(f'{e.get("code", "")}: {e.get("message", "")}' for e in errors)
    return f"HTTP {resp.status_code}"


class RegistryClient:
    def __init__(self, registry: str, *, creds: Credentials | None = None,
                 insecure: bool = False, ca_file: Path | None = None,
                 timeout: float = 60.0) -> None:
        self.registry = registry
        self.host = DOCKER_HUB_API if registry == DEFAULT_REGISTRY else registry
        self.allow_http = insecure or is_local(self.host)
        verify: ssl.SSLContext | bool
        if insecure:
            verify = False
        else:
            cafile = ca_file or os.environ.get("SSL_CERT_FILE")
            verify = tls_context(str(cafile) if cafile else None,
                                 trust_env=not is_local(self.host))
        # Proxies from the environment (HTTPS_PROXY, NO_PROXY) apply, except to this host.
        self.http = httpx.Client(verify=verify, follow_redirects=True,
                                 trust_env=not is_local(self.host),
                                 timeout=httpx.Timeout(timeout, connect=10.0),
                                 limits=httpx.Limits(max_connections=32,
                                                     max_keepalive_connections=16))
        self.auth = Authenticator(registry, creds)
        self._base: str | None = None
        self._base_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ------------------------------------------------------------------

    def base(self) -> str:
        """``https://host`` (or ``http://host`` where allowed and HTTPS fails), found once."""
        with self._base_lock:
            if self._base is not None:
                return self._base
            try:
                self.http.get(f"https://{self.host}/v2/")
                self._base = f"https://{self.host}"
            except httpx.ConnectError as exc:
                cert_problem = "CERTIFICATE_VERIFY_FAILED" in str(exc)
                if cert_problem:
                    raise Unavailable(
                        f'cannot reach registry "{self.registry}": TLS certificate not trusted '
                        f"({_reason(exc)}); give its CA with SSL_CERT_FILE or "
                        f"certs.d/{self.host}/ca.crt") from exc
                if not self.allow_http or "refused" in str(exc).lower():
                    raise Unavailable(f'cannot reach registry "{self.registry}": '
                                      f"{_reason(exc)}") from exc
                self._base = f"http://{self.host}"
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if not self.allow_http:
                    raise Unavailable(f'cannot reach registry "{self.registry}": '
                                      f"{_reason(exc)}") from exc
                self._base = f"http://{self.host}"
            except httpx.HTTPError as exc:
                raise Unavailable(f'cannot reach registry "{self.registry}": '
                                  f"{_reason(exc)}") from exc
            log.debug("registry %s at %s", self.registry, self._base)
            return self._base

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base() + path

    def request(self, method: str, path: str, *, scope: str,
                headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
                content: bytes | Callable[[], Iterator[bytes]] | None = None,
                stream: bool = False) -> httpx.Response:
        """Send with auth; answers one 401 challenge and retries. Caller closes streams."""
        url = self._url(path)
        hdrs = dict(headers or {})
        known = self.auth.header(scope)
        if known:
            hdrs["Authorization"] = known
        resp = self._send(method, url, hdrs, params, content, stream)
        if resp.status_code == 401 and "www-authenticate" in resp.headers:
            resp.close()
            hdrs["Authorization"] = self.auth.challenge(self.http,
                                                        resp.headers["www-authenticate"], scope)
            resp = self._send(method, url, hdrs, params, content, stream)
        if resp.status_code == 401:
            resp.close()
            raise Unauthorized(f'registry "{self.registry}": not authorized for {scope or "access"}'
                               f" (run `stack image login {self.registry}`)")
        if resp.status_code == 429:
            retry = resp.headers.get("retry-after", "")
            resp.close()
            raise Unavailable(f'registry "{self.registry}" is rate-limiting requests'
                              + (f": retry after {retry} s" if retry else ": retry later"))
        return resp

    def _send(self, method: str, url: str, headers: dict[str, str],
              params: dict[str, str] | None,
              content: bytes | Callable[[], Iterator[bytes]] | None,
              stream: bool) -> httpx.Response:
        body: Any = content() if callable(content) else content
        # Merge, never replace: upload locations carry their own state in the query.
        full = httpx.URL(url).copy_merge_params(params) if params else httpx.URL(url)
        try:
            req = self.http.build_request(method, full, headers=headers, content=body)
            return self.http.send(req, stream=stream)
        except httpx.HTTPError as exc:
            raise Unavailable(f'cannot reach registry "{self.registry}": {_reason(exc)}') from exc

    def _fail(self, resp: httpx.Response, what: str) -> EngineError:
        if resp.status_code >= 500:
            return Unavailable(f'registry "{self.registry}": {what}: server error '
                               f"{resp.status_code}")
        if resp.status_code == 403:
            return Unauthorized(f'registry "{self.registry}": {what}: access denied')
        return Failed(f'registry "{self.registry}": {what}: {_error_text(resp)}')

    # --- reading ----------------------------------------------------------------------

    def ping(self) -> None:
        """GET /v2/ with auth: checks reachability and credentials (for login)."""
        resp = self.request("GET", "/v2/", scope="")
        if resp.status_code != 200:
            raise self._fail(resp, "version check")

    def get_manifest(self, repo: str, reference: str, *, what: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest or index; digests are verified."""
        from runtime.images.blobs import sha256_digest

        resp = self.request("GET", f"/v2/{repo}/manifests/{reference}",
                            scope=f"repository:{repo}:pull", headers={"Accept": ACCEPT})
        if resp.status_code == 404 or (resp.status_code in (400, 403) and
                                       {"NAME_UNKNOWN", "MANIFEST_UNKNOWN", "NAME_INVALID"}
                                       & set(_error_codes(resp))):
            raise NotFound(f'image "{what}" not found in registry "{self.registry}"')
        if resp.status_code != 200:
            raise self._fail(resp, f"manifest of {what}")
        data = resp.content
        digest = sha256_digest(data)
        if reference.startswith("sha256:") and digest != reference:
            raise Failed(f'registry "{self.registry}": manifest {reference} of {what}: '
                         f"digest mismatch (got {digest})")
        media_type = detect_media_type(data, resp.headers.get("content-type", ""))
        return data, media_type, digest

    def get_blob(self, repo: str, digest: str, *, what: str) -> bytes:
        """A small blob (a config) in memory; the caller verifies the digest on store."""
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}",
                            scope=f"repository:{repo}:pull")
        if resp.status_code == 404:
            raise NotFound(f'blob {digest} of image "{what}" not found in registry '
                           f'"{self.registry}"')
        if resp.status_code != 200:
            raise self._fail(resp, f"blob {digest}")
        return resp.content

    def blob_chunks(self, repo: str, digest: str, *, offset: int = 0) -> Iterator[bytes]:
        """A blob's bytes from ``offset`` as they arrive (Range); a broken transfer raises
        ``Unavailable`` after yielding what came, so the caller can resume from there."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}",
                            scope=f"repository:{repo}:pull", headers=headers, stream=True)
        try:
            if resp.status_code == 404:
                raise NotFound(f'blob {digest} not found in registry "{self.registry}"')
            if resp.status_code == 416:  # we already hold all of it
                return
            if resp.status_code not in (200, 206):
                resp.read()
                raise self._fail(resp, f"blob {digest}")
            # A server that ignores Range sends everything: skip what we hold.
            skip = offset if resp.status_code == 200 else 0
            try:
                for chunk in resp.iter_bytes():
                    if skip:
                        cut, skip = min(skip, len(chunk)), skip - min(skip, len(chunk))
                        chunk = chunk[cut:]
                    if chunk:
                        yield chunk
            except httpx.HTTPError as exc:
                raise Unavailable(f'registry "{self.registry}": download of {digest} '
                                  f"interrupted: {_reason(exc)}") from exc
        finally:
            resp.close()

    def download_blob(self, repo: str, digest: str, writer: BlobWriter, *,
                      on_progress: ProgressCb | None = None) -> None:
        """Stream a blob into ``writer``, resuming from ``writer.offset``."""
        for chunk in self.blob_chunks(repo, digest, offset=writer.offset):
            writer.write(chunk)
            if on_progress is not None:
                on_progress(writer.offset)

    # --- writing ----------------------------------------------------------------------

    def blob_exists(self, repo: str, digest: str, *, scope: str) -> bool:
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=scope)
        if resp.status_code == 200:
            return True
        if resp.status_code == 404:
            return False
        raise self._fail(resp, f"blob {digest}")

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Cross-repository mount; False when the registry started an upload instead."""
        scope = f"repository:{repo}:pull,push repository:{from_repo}:pull"
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/",
                            scope=scope, params={"mount": digest, "from": from_repo})
        if resp.status_code == 201:
            return True
        if resp.status_code == 202:  # not mountable: cancel the upload it opened
            location = resp.headers.get("location")
            if location:
                with contextlib.suppress(EngineError):
                    self.request("DELETE", self._abs(location), scope=scope).close()
            return False
        raise self._fail(resp, f"mount of {digest} from {from_repo}")

    def _abs(self, location: str) -> str:
        return location if location.startswith(("http://", "https://")) else self.base() + location

    def upload_blob(self, repo: str, digest: str, size: int, open_blob: Callable[[], Any], *,
                    chunk_size: int, on_progress: ProgressCb | None = None) -> None:
        """Upload one blob: monolithic (one PUT) when it fits ``chunk_size``, else PATCH chunks."""
        scope = f"repository:{repo}:pull,push"
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", scope=scope)
        if resp.status_code != 202 or "location" not in resp.headers:
            raise self._fail(resp, f"upload of {digest}")
        location = self._abs(resp.headers["location"])
        if size <= chunk_size:
            with open_blob() as f:
                data = f.read()
            resp = self.request("PUT", location, scope=scope, params={"digest": digest},
                                headers={"Content-Type": "application/octet-stream"},
                                content=data)
            if resp.status_code != 201:
                raise self._fail(resp, f"upload of {digest}")
            if on_progress is not None:
                on_progress(size)
            return
        offset = 0
        with open_blob() as f:
            while chunk := f.read(chunk_size):
                end = offset + len(chunk) - 1
                resp = self.request("PATCH", location, scope=scope, content=chunk,
                                    headers={"Content-Type": "application/octet-stream",
                                             "Content-Range": f"{offset}-{end}"})
                if resp.status_code != 202:
                    raise self._fail(resp, f"upload of {digest} at {offset}")
                location = self._abs(resp.headers.get("location", location))
                offset = end + 1
                if on_progress is not None:
                    on_progress(offset)
        resp = self.request("PUT", location, scope=scope, params={"digest": digest},
                            content=b"")
        if resp.status_code != 201:
            raise self._fail(resp, f"upload of {digest}")

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> str:
        from runtime.images.blobs import sha256_digest

        resp = self.request("PUT", f"/v2/{repo}/manifests/{reference}",
                            scope=f"repository:{repo}:pull,push",
                            headers={"Content-Type": media_type}, content=data)
        if resp.status_code not in (200, 201):
            raise self._fail(resp, f"manifest {reference}")
        return resp.headers.get("docker-content-digest") or sha256_digest(data)
