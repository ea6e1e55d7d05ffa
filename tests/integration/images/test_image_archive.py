"""Import, load and save: docker save archives, OCI archives and layouts, rootfs tarballs."""

from __future__ import annotations

import gzip
import shutil
import tarfile
from pathlib import Path

import pytest

from runtime.api import ImageInfo
from runtime.engine import LocalEngine
from runtime.errors import InvalidArgument
from tests.integration.images.imagebuild import layer_tar, store_test_image

pytestmark = pytest.mark.root


@pytest.mark.parametrize("format", ["docker", "oci"])
def test_save_remove_load_keeps_the_image(engine: LocalEngine, busybox_image: ImageInfo,
                                          tmp_path: Path, format: str) -> None:
    other = store_test_image(engine.images, [layer_tar([("a", b"1")]), layer_tar([("b", b"2")])],
                             "test/other:7", compression="zstd")
    engine.image_tag("busybox", "test/alias:1")
    manifest_before = engine.images.lookup("busybox").manifest_digest
    archive = tmp_path / f"images-{format}.tar"
    engine.image_save(["busybox", "test/alias:1", "test/other:7"], str(archive),
                      format="oci" if format == "oci" else "docker")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert ("manifest.json" in names) == (format == "docker")
    assert ("index.json" in names) == (format == "oci")
    for image in (busybox_image.id, other.id):
        engine.images.image_remove(image, force=True)
    assert engine.image_list() == []
    loaded = engine.image_load(str(archive))
    assert sorted(i.id for i in loaded) == sorted({busybox_image.id, other.id})
    busybox = engine.image_inspect("busybox")
    assert set(busybox.repo_tags) == {"docker.io/library/busybox:latest",
                                      "docker.io/test/alias:1"}
    assert busybox.config.cmd == ("sh",)
    assert engine.image_inspect("test/other:7").layers == other.layers
    if format == "oci":  # OCI keeps the blobs as they were: same manifest digest
        assert engine.images.lookup("busybox").manifest_digest == manifest_before
    [layer] = engine.images.layer_dirs(busybox.id)
    assert (layer / "bin" / "busybox").is_file()


def test_import_detects_what_it_gets(engine: LocalEngine, busybox_image: ImageInfo,
                                     busybox_tar: Path, tmp_path: Path) -> None:
    gz = tmp_path / "rootfs.tar.gz"
    with open(busybox_tar, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    [from_gz] = engine.image_import(str(gz), ref="imported/gz:1")
    assert from_gz.layers == busybox_image.layers  # same tar inside: same diff id
    archive = tmp_path / "bb.tar"
    engine.image_save(["busybox"], str(archive))
    [renamed] = engine.image_import(str(archive), ref="renamed/bb:2")
    assert renamed.id == busybox_image.id
    assert "docker.io/renamed/bb:2" in renamed.repo_tags
    with pytest.raises(InvalidArgument) as info:
        engine.image_import(str(busybox_tar))
    assert info.value.message == (f'"{busybox_tar}" is a rootfs tarball: give a name for the '
                                  "image (stack image import FILE NAME)")
    with pytest.raises(InvalidArgument, match="neither a docker save archive nor an OCI layout"):
        engine.image_load(str(busybox_tar))


def test_history_and_prune(engine: LocalEngine, busybox_image: ImageInfo) -> None:
    [step] = engine.image_history("busybox")
    assert step.created_by == "stack image import busybox-rootfs.tar"
    assert step.layer == busybox_image.layers[0]
    first = store_test_image(engine.images, [layer_tar([("v", b"1")])], "test/app:1")
    second = store_test_image(engine.images, [layer_tar([("v", b"2")])], "test/app:1")
    # The tag moved: the first image is now dangling, and prune removes only it.
    assert engine.image_inspect(first.id).repo_tags == ()
    assert [s.created_by for s in engine.image_history("test/app:1")] == ["test layer 0"]
    assert engine.images.image_prune() == [first.id]
    assert {i.id for i in engine.image_list()} == {busybox_image.id, second.id}
    assert sorted(engine.images.image_prune(all=True, in_use={busybox_image.id})) == [second.id]
    assert [i.id for i in engine.image_list()] == [busybox_image.id]
