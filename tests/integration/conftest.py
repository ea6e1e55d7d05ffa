"""Fixtures shared by the integration tests of every part.

- ``busybox_tar``: a rootfs tarball made from the host's static busybox (once per session).
- ``busybox_image``: that tarball imported into the test engine's store as busybox:latest.
- ``registry``: a real registry (Debian's docker-registry, CNCF distribution 2.8) on
  127.0.0.1 over plain HTTP, temp storage, once per session; push to unique repo names.
- ``auth_registry``: the same over TLS (self-signed cert made with openssl) with basic
  auth (htpasswd with a bcrypt hash from libcrypt via the stdlib ``crypt`` module).
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtime.api import ImageInfo
from runtime.config import EngineConfig
from runtime.images.rootfs import BUSYBOX_CONFIG

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REGISTRY_BIN = "/usr/bin/docker-registry"


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if IN_CI:
            pytest.fail(f"CI=true and a prerequisite is missing: {tool}", pytrace=False)
        pytest.skip(f"needs {tool}")  # allowed: only outside CI
    return path


# --- busybox ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def busybox_tar() -> Iterator[Path]:
    from runtime.images.rootfs import DEFAULT_BUSYBOX, make_busybox_rootfs_tar

    _require(str(DEFAULT_BUSYBOX))
    tmp = Path(tempfile.mkdtemp(prefix="stk-bb-"))
    try:
        yield make_busybox_rootfs_tar(tmp / "busybox-rootfs.tar")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Seed:
    """busybox imported once per session: its blobs and its unpacked layer."""

    blob_paths: tuple[Path, ...]
    layer_dir: Path
    chain_id: str
    manifest: bytes
    media_type: str


@pytest.fixture(scope="session")
def _busybox_seed(busybox_tar: Path) -> Iterator[_Seed]:
    from runtime.events import EventLog
    from runtime.images.service import ImageService
    from runtime.metadata import Metadata

    tmp = Path(tempfile.mkdtemp(prefix="stk-seed-"))
    metadata = Metadata(tmp / "metadata.db")
    try:
        service = ImageService(EngineConfig(state_root=tmp, run_dir=tmp / "run"), metadata,
                               EventLog(metadata))
        info = service.import_rootfs(busybox_tar, "busybox:latest", config=BUSYBOX_CONFIG)
        record = service.lookup(info.id)
        [layer] = record.layers
        yield _Seed(blob_paths=tuple(service.blobs.path(d) for d in
                                     (record.manifest_digest, record.id, layer.digest)),
                    layer_dir=service.layers.path(layer.chain_id), chain_id=layer.chain_id,
                    manifest=service.blobs.read(record.manifest_digest),
                    media_type=record.manifest_media_type)
    finally:
        metadata.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def busybox_image(engine_config: EngineConfig, _busybox_seed: _Seed) -> ImageInfo:
    """busybox:latest (Cmd ["sh"], PATH set) in ``engine_config``'s image store.

    Made from the session's one import: blobs hard-linked, the unpacked layer dir
    symlinked (lowerdirs are read-only; removing the image removes only the link),
    so each test pays milliseconds, not an import. Same image id in every test.
    """
    from runtime.events import EventLog
    from runtime.images.service import ImageService
    from runtime.metadata import Metadata

    metadata = Metadata(engine_config.metadata_db)
    try:
        service = ImageService(engine_config, metadata, EventLog(metadata))
        for src in _busybox_seed.blob_paths:
            dest = service.blobs.blob_dir / src.name
            if not dest.exists():
                try:
                    os.link(src, dest)
                except OSError:  # another filesystem
                    shutil.copyfile(src, dest)
        layer = service.layers.path(_busybox_seed.chain_id)
        if not layer.exists():
            layer.symlink_to(_busybox_seed.layer_dir)
        return service.store_image(manifest=_busybox_seed.manifest,
                                   media_type=_busybox_seed.media_type,
                                   tags=("docker.io/library/busybox:latest",),
                                   action="import", name="docker.io/library/busybox:latest")
    finally:
        metadata.close()


# --- registry -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryServer:
    host: str  # "127.0.0.1:PORT", as in image references
    url: str  # "http://127.0.0.1:PORT" or "https://..."
    storage: Path
    ca_file: Path | None = None  # the self-signed cert, for TLS
    username: str = ""
    password: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[bytes], url: str, ca_file: Path | None,
                log_path: Path) -> None:
    ctx = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
    # No proxies from the environment: the registry is on 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=ctx))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log_path.read_text()[-2000:]}")
        try:
            with opener.open(f"{url}/v2/", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # 401 from an auth registry: it is up
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("docker-registry did not come up in 15 s")


def _htpasswd(path: Path, user: str, password: str) -> None:
    """The registry wants a bcrypt hash: libcrypt's through the stdlib ``crypt`` module
    (Python <= 3.12), else the ``bcrypt`` package if installed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt

        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 4))
    except ImportError:
        bcrypt = pytest.importorskip("bcrypt") if not IN_CI else __import__("bcrypt")  # allowed: only outside CI
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"{user}:{hashed}\n")


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run([_require("openssl"), "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def start_registry(*, tls: bool, auth: bool) -> Iterator[RegistryServer]:
    """Run docker-registry until the generator is closed; everything made is removed."""
    binary = _require(REGISTRY_BIN)
    tmp = Path(tempfile.mkdtemp(prefix="stk-reg-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        port = free_port()
        storage = tmp / "storage"
        storage.mkdir()
        lines = ["version: 0.1", "log:", "  level: error", "  accesslog:", "    disabled: true",
                 "storage:", "  filesystem:", f"    rootdirectory: {storage}",
                 "  delete:", "    enabled: true",
                 "http:", f"  addr: 127.0.0.1:{port}", "  secret: stack-tests"]
        cert = None
        if tls:
            cert, key = _self_signed(tmp)
            lines += ["  tls:", f"    certificate: {cert}", f"    key: {key}"]
        user, password = ("stacker", "s3cret-pw") if auth else ("", "")
        if auth:
            _htpasswd(tmp / "htpasswd", user, password)
            lines += ["auth:", "  htpasswd:", "    realm: stack-test",
                      f"    path: {tmp / 'htpasswd'}"]
        config = tmp / "config.yml"
        config.write_text("\n".join(lines) + "\n")
        log_path = tmp / "registry.log"
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen([binary, "serve", str(config)], stdout=log_file,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp),
                                         "OTEL_TRACES_EXPORTER": "none"})
        scheme = "https" if tls else "http"
        url = f"{scheme}://127.0.0.1:{port}"
        _wait_ready(proc, url, cert, log_path)
        yield RegistryServer(host=f"127.0.0.1:{port}", url=url, storage=storage, ca_file=cert,
                             username=user, password=password)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def registry() -> Iterator[RegistryServer]:
    """Plain-HTTP registry on 127.0.0.1 (use a repository name unique to your test)."""
    yield from start_registry(tls=False, auth=False)


@pytest.fixture(scope="session")
def auth_registry() -> Iterator[RegistryServer]:
    """TLS + basic-auth registry; trust ``ca_file``; log in with ``username``/``password``."""
    yield from start_registry(tls=True, auth=True)
