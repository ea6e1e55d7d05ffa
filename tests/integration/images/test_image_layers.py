"""Unpacked layers as overlayfs sees them: whiteouts, opaque dirs, owners, xattrs."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from runtime.engine import LocalEngine
from tests.integration.images.imagebuild import store_test_image

pytestmark = pytest.mark.root


def _tar(entries: list[tarfile.TarInfo], data: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info in entries:
            payload = data.get(info.name)
            if payload is not None:
                info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return buf.getvalue()


def _entry(name: str, *, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, uid: int = 0,
           gid: int = 0, xattrs: dict[str, str] | None = None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid = kind, mode, uid, gid
    info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in (xattrs or {}).items()}
    return info


@pytest.fixture
def mountpoint(tmp_path: Path) -> Path:
    path = tmp_path / "merged"
    path.mkdir()
    try:
        yield path  # type: ignore[misc]
    finally:
        subprocess.run(["umount", str(path)], capture_output=True, check=False)


def test_whiteouts_hide_lower_content_in_a_real_overlay(engine: LocalEngine,
                                                        mountpoint: Path) -> None:
    lower = _tar([_entry("d", kind=tarfile.DIRTYPE, mode=0o755), _entry("d/a"), _entry("d/b"),
                  _entry("x"), _entry("opq", kind=tarfile.DIRTYPE, mode=0o755),
                  _entry("opq/old"),
                  _entry("owned", uid=1234, gid=5678, mode=0o640,
                         xattrs={"user.note": "kept", "trusted.overlay.redirect": "/evil"})],
                 {"d/a": b"a", "d/b": b"b", "x": b"x", "opq/old": b"old", "owned": b"o"})
    upper = _tar([_entry("d/.wh.a"), _entry(".wh.x"), _entry("opq/.wh..wh..opq"),
                  _entry("opq/new")], {"d/.wh.a": b"", ".wh.x": b"", "opq/.wh..wh..opq": b"",
                                        "opq/new": b"new"})
    info = store_test_image(engine.images, [lower, upper], "test/whiteouts:1")
    bottom, top = engine.images.layer_dirs(info.id)
    # The upper layer dir holds overlay's own whiteout forms.
    wh = os.lstat(top / "d" / "a")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == os.makedev(0, 0)
    assert os.getxattr(top / "opq", "trusted.overlay.opaque") == b"y"
    owned = os.lstat(bottom / "owned")
    assert (owned.st_uid, owned.st_gid, stat.S_IMODE(owned.st_mode)) == (1234, 5678, 0o640)
    assert os.getxattr(bottom / "owned", "user.note") == b"kept"
    assert "trusted.overlay.redirect" not in os.listxattr(bottom / "owned")
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={top}:{bottom}", str(mountpoint)], check=True)
    assert sorted(os.listdir(mountpoint / "d")) == ["b"]
    assert not (mountpoint / "x").exists()
    assert sorted(os.listdir(mountpoint / "opq")) == ["new"]
    assert (mountpoint / "owned").read_bytes() == b"o"


def test_remove_collects_blobs_and_layers(engine: LocalEngine) -> None:
    from tests.integration.images.imagebuild import layer_tar

    info = store_test_image(engine.images, [layer_tar([("f", b"1")]), layer_tar([("g", b"2")])],
                            "test/gc:1", compression="zstd")
    dirs = engine.images.layer_dirs(info.id)
    assert all(d.is_dir() for d in dirs)
    assert engine.images.image_remove("test/gc:1") == [
        "untagged: docker.io/test/gc:1", f"deleted: {info.id}"]
    assert not any(d.exists() for d in dirs)
    assert list(engine.images.blobs.digests()) == []
