"""Interoperability with skopeo, an independent client: what one writes, the other reads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from runtime.api import ImageInfo
from runtime.engine import LocalEngine
from runtime.images.blobs import sha256_digest
from runtime.images.manifest import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST
from tests.integration.conftest import RegistryServer, _require
from tests.integration.images.imagebuild import layer_tar, random_layer, store_test_image

pytestmark = pytest.mark.root


def skopeo(*args: str) -> str:
    binary = _require("skopeo")
    proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_skopeo_reads_what_stack_pushed(engine: LocalEngine, busybox_image: ImageInfo,
                                        registry: RegistryServer) -> None:
    name = f"{registry.host}/interop/pushed:v1"
    built = store_test_image(engine.images, [layer_tar([("hello", b"world")]),
                                             random_layer(100_000, seed=3)], name)
    engine.image_push(name)
    record = engine.images.lookup(name)
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{name}"))
    assert inspected["Digest"] == record.manifest_digest
    assert inspected["Layers"] == [x.digest for x in record.layers]
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{name}").encode()
    assert sha256_digest(raw) == record.manifest_digest
    config = json.loads(skopeo("inspect", "--config", "--tls-verify=false", f"docker://{name}"))
    assert config["rootfs"]["diff_ids"] == list(built.layers)


def _make_oci_layout(path: Path) -> tuple[str, str]:
    """An OCI layout written by hand (gzip layers); returns (manifest, config) digests."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> str:
        digest = sha256_digest(data)
        (blobs / digest[7:]).write_bytes(data)
        return digest

    import gzip

    tars = [layer_tar([("etc", b"<dir>"), ("etc/made-by", b"test")]),
            layer_tar([("srv", b"<dir>"), ("srv/data", b"x" * 5000)])]
    layers = [gzip.compress(t, mtime=0) for t in tars]
    from runtime.images.manifest import host_platform

    config = json.dumps({"architecture": host_platform().architecture, "os": "linux",
                         "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers",
                                    "diff_ids": [sha256_digest(t) for t in tars]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": put(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": put(x), "size": len(x)}
                   for x in layers]}).encode()
    manifest_digest = put(manifest)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (path / "index.json").write_text(json.dumps({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": manifest_digest,
                       "size": len(manifest),
                       "annotations": {"org.opencontainers.image.ref.name": "v2"}}]}))
    return manifest_digest, sha256_digest(config)


def test_stack_pulls_what_skopeo_copied(engine: LocalEngine, registry: RegistryServer,
                                        tmp_path: Path) -> None:
    manifest_digest, config_digest = _make_oci_layout(tmp_path / "layout")
    name = f"{registry.host}/interop/copied:v2"
    skopeo("copy", "--preserve-digests", "--dest-tls-verify=false",
           f"oci:{tmp_path / 'layout'}:v2", f"docker://{name}")
    info = engine.image_pull(name)
    assert info.id == config_digest
    assert info.repo_digests == (f"{registry.host}/interop/copied@{manifest_digest}",)
    assert info.config.cmd == ("sh",)
    top = engine.images.layer_dirs(info.id)[-1]
    assert (top / "srv" / "data").read_bytes() == b"x" * 5000


def test_archives_skopeo_wrote_load_in_stack(engine: LocalEngine, tmp_path: Path) -> None:
    manifest_digest, config_digest = _make_oci_layout(tmp_path / "layout")
    archive = tmp_path / "docker.tar"
    skopeo("copy", f"oci:{tmp_path / 'layout'}:v2", f"docker-archive:{archive}:made/by:skopeo")
    [from_docker] = engine.image_load(str(archive))
    assert from_docker.id == config_digest
    assert from_docker.repo_tags == ("docker.io/made/by:skopeo",)
    # The layout directory itself (OCI) imports with a name given.
    [from_layout] = engine.image_import(str(tmp_path / "layout"), ref="made/by:layout")
    assert from_layout.id == config_digest
    assert engine.images.lookup("made/by:layout").manifest_digest == manifest_digest


def test_skopeo_reads_what_stack_saved(engine: LocalEngine, busybox_image: ImageInfo,
                                       tmp_path: Path) -> None:
    oci = tmp_path / "bb-oci.tar"
    docker = tmp_path / "bb-docker.tar"
    engine.image_save(["busybox"], str(oci), format="oci")
    engine.image_save(["busybox"], str(docker), format="docker")
    # The tag is the OCI ref.name (containerd's convention); skopeo selects by it.
    for source in (f"oci-archive:{oci}:latest", f"docker-archive:{docker}"):
        raw = skopeo("inspect", "--config", "--raw", source).encode()
        assert sha256_digest(raw) == busybox_image.id
        assert json.loads(raw)["rootfs"]["diff_ids"] == list(busybox_image.layers)
