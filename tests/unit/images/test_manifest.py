"""Manifests, indexes and platform selection."""

from __future__ import annotations

import json

import pytest

from runtime.errors import Failed, NotFound
from runtime.images.manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Platform,
    detect_media_type,
    parse_index,
    parse_manifest,
    select_platform,
)

D = "sha256:" + "1" * 64


def _index(*platforms: tuple[str, str, str]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
        {"mediaType": DOCKER_MANIFEST, "digest": "sha256:" + str(i) * 64, "size": 1,
         "platform": {"os": o, "architecture": a, **({"variant": v} if v else {})}}
        for i, (o, a, v) in enumerate(platforms, start=1)]}).encode()


def test_select_platform_prefers_exact_variant() -> None:
    index = parse_index(_index(("linux", "arm", "v6"), ("linux", "arm", "v7"),
                               ("linux", "amd64", "")))
    assert select_platform(index, Platform(architecture="amd64"), what="x").digest.endswith("3")
    assert select_platform(index, Platform(architecture="arm", variant="v7"),
                           what="x").digest.endswith("2")
    assert select_platform(index, Platform(architecture="arm", variant="v5"),
                           what="x").digest.endswith("1")


def test_select_platform_missing() -> None:
    index = parse_index(_index(("linux", "arm64", "v8"), ("windows", "amd64", "")))
    with pytest.raises(NotFound) as info:
        select_platform(index, Platform(architecture="s390x"), what='image "x"')
    assert info.value.message == ('image "x": no image for platform linux/s390x '
                                  "(available: linux/arm64/v8, windows/amd64)")


def test_detect_media_type() -> None:
    assert detect_media_type(_index(("linux", "amd64", ""))) == DOCKER_LIST
    bare = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    assert detect_media_type(bare) == OCI_INDEX
    manifest = json.dumps({"schemaVersion": 2, "config": {}, "layers": []}).encode()
    assert detect_media_type(manifest, "application/json") == OCI_MANIFEST
    with pytest.raises(Failed, match="schema 1"):
        detect_media_type(json.dumps({"schemaVersion": 1}).encode())


def test_parse_manifest_refuses_unknown_layer_type() -> None:
    doc = {"schemaVersion": 2, "config": {"mediaType": "x", "digest": D, "size": 2},
           "layers": [{"mediaType": "application/x-weird", "digest": D, "size": 3}]}
    with pytest.raises(Failed, match=f'layer {D}: unsupported media type "application/x-weird"'):
        parse_manifest(json.dumps(doc).encode())
