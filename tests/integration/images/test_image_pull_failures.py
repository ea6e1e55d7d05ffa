"""Pull failures a user must understand, against a fake registry on 127.0.0.1."""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.engine import LocalEngine
from runtime.errors import Failed, InvalidArgument, Unavailable
from runtime.images.blobs import sha256_digest
from runtime.images.manifest import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, host_platform
from tests.integration.images.fakeregistry import FakeRegistry, serve
from tests.integration.images.imagebuild import layer_tar

pytestmark = pytest.mark.root


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    yield from serve(FakeRegistry())


def publish(reg: FakeRegistry, repo: str, tag: str, files: list[tuple[str, bytes]]) -> str:
    """Put a one-layer image in the fake registry; returns the layer digest."""
    tar = layer_tar(files)
    layer = gzip.compress(tar, mtime=0)
    config = json.dumps({"architecture": host_platform().architecture, "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar)]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(config),
                   "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": sha256_digest(layer),
                    "size": len(layer)}]}).encode()
    reg.manifests[(repo, tag)] = (manifest, OCI_MANIFEST)
    reg.manifests[(repo, sha256_digest(manifest))] = (manifest, OCI_MANIFEST)
    reg.blobs[sha256_digest(config)] = config
    reg.blobs[sha256_digest(layer)] = layer
    return sha256_digest(layer)


def _store_is_empty(engine: LocalEngine) -> None:
    assert engine.image_list() == []
    assert list(engine.images.blobs.digests()) == []
    assert os.listdir(engine.images.blobs.ingest_dir) == []
    assert os.listdir(engine.images.layers.root) == []


def test_wrong_digest_is_detected_and_nothing_stored(engine: LocalEngine,
                                                    fake: FakeRegistry) -> None:
    digest = publish(fake, "lib/app", "1", [("a", b"good")])
    fake.blobs[digest] = gzip.compress(layer_tar([("a", b"evil")]), mtime=0)
    with pytest.raises(Failed) as info:
        engine.image_pull(f"{fake.host}/lib/app:1")
    assert info.value.message.startswith(f"blob {digest}: digest mismatch (got sha256:")
    assert info.value.message.endswith("the downloaded data was thrown away")
    _store_is_empty(engine)


def test_interrupted_download_resumes_with_range(engine: LocalEngine,
                                                 fake: FakeRegistry) -> None:
    digest = publish(fake, "lib/big", "1", [("f", os.urandom(300_000))])
    fake.drop_blob_once_at[digest] = 100_000
    info = engine.image_pull(f"{fake.host}/lib/big:1")
    assert len(info.layers) == 1
    ranges = [h.get("Range") for m, p, h in fake.requests if p.endswith(digest) and m == "GET"]
    assert ranges == [None, "bytes=100000-"]


def test_rate_limit(engine: LocalEngine, fake: FakeRegistry) -> None:
    publish(fake, "lib/app", "1", [("a", b"x")])
    fake.rate_limit = True
    with pytest.raises(Unavailable) as info:
        engine.image_pull(f"{fake.host}/lib/app:1")
    assert info.value.message == (f'registry "{fake.host}" is rate-limiting requests: '
                                  "retry after 7 s")


def test_bearer_token_flow_with_docker_credentials(engine: LocalEngine, fake: FakeRegistry,
                                                   private_credentials: Path) -> None:
    publish(fake, "lib/app", "1", [("a", b"x")])
    fake.token = "t0ken"
    docker_dir = private_credentials / "docker"
    docker_dir.mkdir()
    (docker_dir / "config.json").write_text(json.dumps(
        {"auths": {fake.host: {"auth": base64.b64encode(b"alice:pw").decode()}}}))
    info = engine.image_pull(f"{fake.host}/lib/app:1")
    assert len(info.layers) == 1
    assert {"repository:lib/app:pull"} <= {s for q in fake.token_requests
                                            for s in q.get("scope", [])}
    assert fake.token_requests[0]["service"] == ["fake"]
    assert fake.token_auth_headers[0] == "Basic " + base64.b64encode(b"alice:pw").decode()


def test_hostile_layer_from_a_registry_is_refused(engine: LocalEngine, fake: FakeRegistry,
                                                 tmp_path: Path) -> None:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        link = tarfile.TarInfo("escape")
        link.type, link.linkname = tarfile.SYMTYPE, str(tmp_path)
        tar.addfile(link)
        evil = tarfile.TarInfo("escape/pwned")
        evil.size = 4
        tar.addfile(evil, io.BytesIO(b"evil"))
    layer = gzip.compress(buf.getvalue(), mtime=0)
    config = json.dumps({"architecture": host_platform().architecture, "os": "linux",
                         "rootfs": {"type": "layers",
                                    "diff_ids": [sha256_digest(buf.getvalue())]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(config),
                   "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": sha256_digest(layer),
                    "size": len(layer)}]}).encode()
    fake.manifests[("evil/app", "1")] = (manifest, OCI_MANIFEST)
    fake.blobs[sha256_digest(config)] = config
    fake.blobs[sha256_digest(layer)] = layer
    with pytest.raises(InvalidArgument) as info:
        engine.image_pull(f"{fake.host}/evil/app:1")
    assert info.value.message == (f'layer {sha256_digest(layer)}: refused entry "escape/pwned": '
                                  '"escape" is a symlink or not a directory')
    assert not (tmp_path / "pwned").exists()
    _store_is_empty(engine)
