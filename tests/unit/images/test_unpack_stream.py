"""Layers unpack the same however the bytes arrive: in any piece sizes (as from a
network), compressed or not, with long names, sparse files and trailing padding."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from runtime.errors import InvalidArgument
from runtime.images.unpack import LayerStore, _TarStream
from tests.unit.images.layertar import Entry, diff_id, make_tar

CHAIN = "sha256:" + "d" * 64


class Dribble(io.RawIOBase):
    """A stream that hands out at most ``most`` bytes per read, like a socket."""

    def __init__(self, data: bytes, most: int) -> None:
        self._data = io.BytesIO(data)
        self._most = most

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._data.read(self._most if n < 0 else min(n, self._most))


def sample_tar(big: int) -> bytes:
    return make_tar([
        Entry("d", tarfile.DIRTYPE, mode=0o755),
        Entry("d/" + "long-name-" * 20, data=b"past the 100 bytes of a ustar name"),
        Entry("d/empty", data=b""),
        Entry("d/odd", data=b"x" * 777),  # not a multiple of 512: padding follows
        Entry("d/big", data=os.urandom(big) + b"text " * big),
        Entry("d/hard", tarfile.LNKTYPE, linkname="d/odd"),
        Entry("d/xattr", data=b"x", xattrs={"user.note": "kept"}),
    ])


COMPRESSIONS: dict[str, Callable[[bytes], bytes]] = {
    "plain": lambda data: data,
    "gzip": gzip.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


@pytest.mark.parametrize("compression", sorted(COMPRESSIONS))
@pytest.mark.parametrize(("most", "big"), [(1, 3_000), (7, 20_000), (511, 100_000),
                                           (65_536, 3_000_000)])
def test_any_piece_sizes_give_the_same_layer(tmp_path: Path, compression: str, most: int,
                                             big: int) -> None:
    plain = sample_tar(big)
    store = LayerStore(tmp_path / "layers")
    layer = store.unpack(CHAIN, Dribble(COMPRESSIONS[compression](plain), most),
                         diff_id=diff_id(plain), what="layer L")
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        for member in tar:
            path = layer / member.name
            if member.isreg() and not member.islnk():
                source = tar.extractfile(member)
                assert source is not None
                assert path.read_bytes() == source.read(), member.name
    assert (layer / "d/hard").stat().st_ino == (layer / "d/odd").stat().st_ino
    if os.geteuid() == 0 or _user_xattrs(tmp_path):
        assert os.getxattr(layer / "d/xattr", "user.note") == b"kept"


def _user_xattrs(path: Path) -> bool:
    probe = path / "probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.probe", b"1")
    except OSError:
        return False
    return True


def test_padding_after_the_archive_is_part_of_the_diff_id(tmp_path: Path) -> None:
    plain = make_tar([Entry("a", data=b"a")]) + b"\0" * 20_000
    store = LayerStore(tmp_path / "layers")
    layer = store.unpack(CHAIN, io.BytesIO(gzip.compress(plain)),
                         diff_id="sha256:" + hashlib.sha256(plain).hexdigest(), what="layer L")
    assert (layer / "a").read_bytes() == b"a"


def test_truncated_file_data_is_refused(tmp_path: Path) -> None:
    plain = make_tar([Entry("a", data=os.urandom(50_000))])
    store = LayerStore(tmp_path / "layers")
    with pytest.raises(InvalidArgument, match="layer L: not a valid layer archive"):
        store.unpack(CHAIN, Dribble(gzip.compress(plain[:30_000]), 4096),
                     diff_id=diff_id(plain), what="layer L")
    assert list(store.root.iterdir()) == []


@pytest.mark.parametrize("fmt", ["gnu", "posix"])
def test_sparse_files(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse", "wb") as f:
        f.truncate(3 << 20)
        f.seek(1 << 20)
        f.write(b"middle")
        f.seek((3 << 20) - 4)
        f.write(b"tail")
    archive = tmp_path / "layer.tar"
    subprocess.run(["tar", "--sparse", f"--format={fmt}", "-cf", str(archive), "-C", str(src),
                    "sparse"], check=True)
    data = archive.read_bytes()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getmember("sparse").issparse()
    store = LayerStore(tmp_path / "layers")
    layer = store.unpack(CHAIN, Dribble(gzip.compress(data), 10_000), diff_id=diff_id(data),
                         what="layer L")
    assert (layer / "sparse").read_bytes() == (src / "sparse").read_bytes()


def test_tar_stream_reads_across_pieces_and_only_seeks_forward() -> None:
    pieces = iter([b"abc", b"", b"defgh", b"ij"])  # b"" ends the stream early, as at EOF
    stream = _TarStream(lambda: next(pieces, b""))
    assert stream.read(2) == b"ab"
    assert stream.read(0) == b""
    assert stream.read(2) == b"c"  # fewer only at the end
    assert stream.read(2) == b""
    assert stream.tell() == 3
    whole = iter([b"abc", b"defgh", b"ij"])
    stream = _TarStream(lambda: next(whole, b""))
    assert stream.read(4) == b"abcd"
    assert bytes(stream.view(10)) == b"efgh"  # in place, up to the end of a piece
    assert stream.seek(9) == 9
    with pytest.raises(OSError, match="only seeks forward"):
        stream.seek(3)
    assert stream.read() == b"j"
    stream.drain()
    assert stream.hash.hexdigest() == hashlib.sha256(b"abcdefghij").hexdigest()
