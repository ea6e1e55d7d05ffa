"""Pull and push against a real registry (docker-registry 2.8 on 127.0.0.1)."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import shutil
import socket
from pathlib import Path

import httpx
import pytest

from runtime.api import ImageInfo, PullProgress
from runtime.config import EngineConfig
from runtime.engine import LocalEngine
from runtime.errors import NotFound, Unauthorized, Unavailable
from runtime.images.manifest import OCI_INDEX, host_platform
from runtime.images.push import push_image
from tests.integration.conftest import RegistryServer
from tests.integration.images.imagebuild import layer_tar, random_layer, store_test_image

pytestmark = pytest.mark.root


def _layer_files(engine: LocalEngine, info: ImageInfo) -> list[list[str]]:
    return [sorted(str(p.relative_to(d)) for p in d.rglob("*"))
            for d in engine.images.layer_dirs(info.id)]


def test_push_then_pull_roundtrip(engine: LocalEngine, busybox_image: ImageInfo,
                                  registry: RegistryServer) -> None:
    name = f"{registry.host}/roundtrip/busybox:1"
    engine.image_tag("busybox", name)
    events: list[PullProgress] = []
    engine.image_push(name, progress=events.append)
    assert {e.status for e in events if e.layer} >= {"uploading", "done"}
    assert engine.images.image_remove(busybox_image.id, force=True)[-1] == (
        f"deleted: {busybox_image.id}")
    assert engine.image_list() == []
    pulled: list[PullProgress] = []
    info = engine.image_pull(name, progress=pulled.append)
    assert info.id == busybox_image.id
    assert info.repo_tags == (name,)
    assert info.repo_digests[0].startswith(f"{registry.host}/roundtrip/busybox@sha256:")
    assert [e.status for e in pulled if e.layer][-1] == "done"
    [layer] = engine.images.layer_dirs(info.id)
    assert (layer / "bin" / "busybox").is_file()
    actions = [(e.action, e.attributes.get("name")) for e in engine.events(since=0, until=1e12)
               if e.type == "image"]
    assert [a for a, _ in actions][-5:] == ["push", "untag", "untag", "delete", "pull"]
    assert actions[-1] == ("pull", name)
    # Pulling again downloads nothing; by digest finds the same image.
    again: list[PullProgress] = []
    assert engine.image_pull(name, progress=again.append).id == info.id
    assert "downloading" not in {e.status for e in again}
    by_digest = engine.image_pull(info.repo_digests[0])
    assert (by_digest.id, by_digest.repo_tags) == (info.id, (name,))
    assert engine.image_inspect(info.repo_digests[0]).id == info.id


@pytest.mark.parametrize(("compression", "docker"), [("gzip", True), ("zstd", False),
                                                     ("none", False)])
def test_multi_layer_roundtrip(engine: LocalEngine, registry: RegistryServer,
                               compression: str, docker: bool) -> None:
    name = f"{registry.host}/multi-{compression}/app:v1"
    layers = [layer_tar([("etc", b"<dir>"), ("etc/one", b"1")]),
              layer_tar([("etc/two", b"2"), ("usr", b"<dir>"), ("usr/three", b"3")]),
              random_layer(200_000, seed=1)]
    built = store_test_image(engine.images, layers, name, compression=compression,
                             docker=docker)
    files = _layer_files(engine, built)
    engine.image_push(name)
    engine.images.image_remove(name, force=True)
    pulled = engine.image_pull(name)
    assert (pulled.id, pulled.layers) == (built.id, built.layers)
    assert _layer_files(engine, pulled) == files


def test_chunked_upload_and_cross_repo_mount(engine: LocalEngine,
                                             registry: RegistryServer) -> None:
    first = f"{registry.host}/mount-src/app:1"
    built = store_test_image(engine.images, [random_layer(300_000, seed=2)], first)
    # 64 KiB chunks: the 300 kB layer goes up in several PATCH requests.
    digest = push_image(engine.images, first, chunk_size=64 * 1024)
    assert f"{registry.host}/mount-src/app@{digest}" in engine.image_inspect(first).repo_digests
    second = f"{registry.host}/mount-dst/app:1"
    engine.image_tag(first, second)
    events: list[PullProgress] = []
    engine.image_push(second, progress=events.append)
    layer_digest = engine.images.lookup(second).layers[0].digest
    assert {e.status for e in events if e.layer == layer_digest} == {"mounted"}
    engine.images.image_remove(built.id, force=True)
    assert engine.image_pull(second).id == built.id


def test_index_selects_this_platform(engine: LocalEngine, registry: RegistryServer) -> None:
    repo = f"{registry.host}/indexed/app"
    ours = store_test_image(engine.images, [layer_tar([("mine", b"x")])], f"{repo}:amd")
    other = store_test_image(engine.images, [layer_tar([("theirs", b"y")])], f"{repo}:other")
    manifests = []
    for ref, arch in ((f"{repo}:other", "s390x-not-us"), (f"{repo}:amd",
                                                          host_platform().architecture)):
        engine.image_push(ref)
        record = engine.images.lookup(ref)
        manifests.append({"mediaType": record.manifest_media_type,
                          "digest": record.manifest_digest,
                          "size": engine.images.blobs.size(record.manifest_digest),
                          "platform": {"os": "linux", "architecture": arch}})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": manifests}).encode()
    resp = httpx.put(f"{registry.url}/v2/indexed/app/manifests/multi", content=index,
                     headers={"Content-Type": OCI_INDEX})
    assert resp.status_code == 201, resp.text
    engine.images.image_remove(ours.id, force=True)
    engine.images.image_remove(other.id, force=True)
    pulled = engine.image_pull(f"{repo}:multi")
    assert pulled.id == ours.id
    index_digest = "sha256:" + __import__("hashlib").sha256(index).hexdigest()
    assert pulled.repo_digests == (f"{repo}@{index_digest}",)


def test_unknown_image(engine: LocalEngine, registry: RegistryServer) -> None:
    with pytest.raises(NotFound) as info:
        engine.image_pull(f"{registry.host}/no/such:image")
    assert info.value.message == (f'image "{registry.host}/no/such:image" not found in '
                                  f'registry "{registry.host}"')


def test_unreachable_registry(engine: LocalEngine) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connection refused
        with pytest.raises(Unavailable) as info:
            engine.image_pull(f"127.0.0.1:{port}/a/b:c")
    assert info.value.message == f'cannot reach registry "127.0.0.1:{port}": connection refused'


# --- TLS + basic auth ------------------------------------------------------------------


def _trust(engine: LocalEngine, reg: RegistryServer) -> None:
    """Docker's layout: <state root>/certs.d/<host>/ca.crt."""
    assert reg.ca_file is not None
    ca_dir = engine.config.state_root / "certs.d" / reg.host
    ca_dir.mkdir(parents=True)
    shutil.copy(reg.ca_file, ca_dir / "ca.crt")


def test_tls_registry_needs_trust(engine: LocalEngine, auth_registry: RegistryServer) -> None:
    with pytest.raises(Unavailable, match="TLS certificate not trusted"):
        engine.image_pull(f"{auth_registry.host}/a/b:c")


def test_ssl_cert_file_is_honoured(engine: LocalEngine, auth_registry: RegistryServer,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(auth_registry.ca_file))
    with pytest.raises(Unauthorized):  # trusted now; the registry wants a login
        engine.image_pull(f"{auth_registry.host}/a/b:c")


def test_login_push_pull_over_tls(engine: LocalEngine, busybox_image: ImageInfo,
                                  auth_registry: RegistryServer,
                                  private_credentials: Path) -> None:
    _trust(engine, auth_registry)
    host = auth_registry.host
    name = f"{host}/secure/busybox:1"
    engine.image_tag("busybox", name)
    with pytest.raises(Unauthorized) as info:
        engine.image_push(name)
    assert f"stack image login {host}" in info.value.message
    with pytest.raises(Unauthorized):
        engine.image_login(host, username=auth_registry.username, password="wrong")
    stored = engine.image_login(host, username=auth_registry.username,
                                password=auth_registry.password)
    assert Path(stored) == private_credentials / "auth.json"
    assert Path(stored).stat().st_mode & 0o777 == 0o600
    engine.image_push(name)
    engine.images.image_remove(busybox_image.id, force=True)
    assert engine.image_pull(name).id == busybox_image.id
    assert engine.image_logout(host) is True
    assert engine.image_logout(host) is False


def test_docker_config_credentials(engine: LocalEngine, busybox_image: ImageInfo,
                                   auth_registry: RegistryServer,
                                   private_credentials: Path) -> None:
    _trust(engine, auth_registry)
    docker_dir = private_credentials / "docker"
    docker_dir.mkdir()
    token = base64.b64encode(f"{auth_registry.username}:{auth_registry.password}".encode())
    (docker_dir / "config.json").write_text(json.dumps(
        {"auths": {auth_registry.host: {"auth": token.decode()}}}))
    name = f"{auth_registry.host}/dockercfg/busybox:1"
    engine.image_tag("busybox", name)
    engine.image_push(name)
    assert any(d.startswith(f"{auth_registry.host}/dockercfg/busybox@")
               for d in engine.image_inspect(name).repo_digests)


def test_concurrent_pulls_and_repeated_layers(engine: LocalEngine,
                                              registry: RegistryServer) -> None:
    """Two services of one stack pulling the same image at once; a layer used twice."""
    from concurrent.futures import ThreadPoolExecutor

    name = f"{registry.host}/concurrent/app:1"
    same = layer_tar([("same", b"1")])
    built = store_test_image(engine.images, [same, random_layer(500_000, seed=4), same], name)
    engine.image_push(name)
    engine.images.image_remove(name, force=True)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: engine.image_pull(name).id, range(3)))
    assert results == [built.id] * 3
    assert len(engine.images.layer_dirs(built.id)) == 3
    assert os.listdir(engine.images.blobs.ingest_dir) == []


def test_insecure_registry_is_not_verified(engine_config: EngineConfig,
                                           busybox_image: ImageInfo,
                                           auth_registry: RegistryServer) -> None:
    """A registry named insecure: its self-signed certificate is accepted as is."""
    config = dataclasses.replace(engine_config, insecure_registries=(auth_registry.host,))
    engine = LocalEngine(config)
    try:
        engine.image_login(auth_registry.host, username=auth_registry.username,
                           password=auth_registry.password)
        name = f"{auth_registry.host}/insecure/busybox:1"
        engine.image_tag("busybox", name)
        engine.image_push(name)
        assert any(d.startswith(f"{auth_registry.host}/insecure/busybox@")
                   for d in engine.image_inspect(name).repo_digests)
    finally:
        engine.close()
