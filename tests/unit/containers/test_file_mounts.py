"""File mounts (secrets and configs sent as bytes): written into the bundle, bound
read-only, kept in the container record and sent through the API as base64."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from runtime.api import ContainerConfig, Mount
from runtime.containers import codec, mounts
from runtime.daemon import codec as api_codec
from runtime.errors import InvalidArgument

SECRET = Mount(type="file", target="/run/secrets/token", read_only=True, content=b"t0k\x00en")


def _prepare(tmp_path: Path, *ms: Mount) -> list[tuple[str, str, tuple[str, ...]]]:
    config = ContainerConfig(name="c", image="busybox", mounts=ms)
    out = mounts.prepare(config=config, rootfs=tmp_path / "rootfs", bundle=tmp_path,
                         volumes=None, anonymous=())  # type: ignore[arg-type]  # no volumes here
    return [(o.destination, o.source, o.options) for o in out]


def test_written_into_the_bundle_and_bound_read_only(tmp_path: Path) -> None:
    conf = Mount(type="file", target="/app.conf", content=b"k=v\n", file_mode=0o640,
                 file_uid=os.getuid(), file_gid=os.getgid())
    got = _prepare(tmp_path, SECRET, conf)
    assert got == [("/run/secrets/token", str(tmp_path / "files/0"), ("rbind", "rprivate", "ro")),
                   ("/app.conf", str(tmp_path / "files/1"), ("rbind", "rprivate", "ro"))]
    assert (tmp_path / "files/0").read_bytes() == b"t0k\x00en"
    assert stat.S_IMODE((tmp_path / "files/0").stat().st_mode) == 0o444  # Compose's default
    assert stat.S_IMODE((tmp_path / "files/1").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "files").stat().st_mode) == 0o700
    # a restart writes them afresh, their read-only mode notwithstanding
    _prepare(tmp_path, Mount(type="file", target="/run/secrets/token", content=b"new"))
    assert (tmp_path / "files/0").read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path / "files")) == ["0", "1"]


def test_bad_mode_or_ids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r'file mount at "/x": mode 10000 is not a '):
        mounts.check_file("c", Mount(type="file", target="/x", file_mode=0o10000))
    with pytest.raises(InvalidArgument, match='container "c": file mount at "/x": uid -1 is out'):
        mounts.check_file("c", Mount(type="file", target="/x", file_uid=-1))


def test_bytes_survive_the_record_and_the_wire() -> None:
    config = ContainerConfig(name="c", image="busybox", mounts=(SECRET,))
    stored = json.loads(json.dumps(codec.to_data(config)))
    assert codec.from_data(ContainerConfig, stored) == config
    wire = json.loads(json.dumps(api_codec.encode(config)))
    assert wire["mounts"][0]["content"] == "dDBrAGVu"  # base64
    assert api_codec.decode(ContainerConfig, wire) == config
