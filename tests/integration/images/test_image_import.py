"""Importing a rootfs tarball (``docker import``) and the shared busybox fixture."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from runtime.api import ImageInfo
from runtime.config import EngineConfig
from runtime.engine import LocalEngine

pytestmark = pytest.mark.root


def test_busybox_image_is_ready_to_run(engine_config: EngineConfig,
                                       busybox_image: ImageInfo) -> None:
    assert busybox_image.repo_tags == ("docker.io/library/busybox:latest",)
    assert busybox_image.id.startswith("sha256:")
    assert busybox_image.config.cmd == ("sh",)
    assert len(busybox_image.layers) == 1
    engine = LocalEngine(engine_config)
    try:
        store = engine.images
        assert store.get("busybox").id == busybox_image.id
        assert store.get(busybox_image.id[7:19]).id == busybox_image.id
        [layer] = store.layer_dirs(busybox_image.id)
        busybox = layer / "bin" / "busybox"
        assert busybox.is_file() and os.access(busybox, os.X_OK)
        assert os.readlink(layer / "bin" / "sh") == "busybox"
        assert "nobody:x:65534" in (layer / "etc" / "passwd").read_text()
        assert stat.S_IMODE((layer / "tmp").stat().st_mode) == 0o1777
        assert (layer / "proc").is_dir() and (layer / "dev").is_dir()
        assert [i.id for i in store.list()] == [busybox_image.id]
    finally:
        engine.close()


def test_import_is_reproducible_and_idempotent(engine_config: EngineConfig,
                                               busybox_tar: Path,
                                               busybox_image: ImageInfo) -> None:
    engine = LocalEngine(engine_config)
    try:
        again = engine.images.import_rootfs(busybox_tar, "other/name:v1")
        # Same layer: same diff id; the config differs (no Cmd), so the image id differs.
        assert again.layers == busybox_image.layers
        assert again.repo_tags == ("docker.io/other/name:v1",)
        assert len(engine.images.list()) == 2
    finally:
        engine.close()


def test_import_busybox_image_helper(engine_config: EngineConfig,
                                     busybox_image: ImageInfo) -> None:
    from runtime.images.rootfs import import_busybox_image

    engine = LocalEngine(engine_config)
    try:
        info = import_busybox_image(engine.images, ref="busybox:helper")
        assert info.layers == busybox_image.layers
        assert info.config == busybox_image.config
        assert info.repo_tags == ("docker.io/library/busybox:helper",)
    finally:
        engine.close()
