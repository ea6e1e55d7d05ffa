"""Layer unpacking: contents kept exactly, hostile tars refused with nothing left behind."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
import zstandard

from runtime.errors import Failed, InvalidArgument
from runtime.images.unpack import LayerStore
from tests.unit.images.layertar import Entry, diff_id, make_tar

CHAIN = "sha256:" + "c" * 64


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the layer store that no layer may touch."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret").write_text("keep")
    return path


@pytest.fixture
def store(tmp_path: Path) -> LayerStore:
    return LayerStore(tmp_path / "layers")


def unpack(store: LayerStore, data: bytes) -> Path:
    return store.unpack(CHAIN, io.BytesIO(data), diff_id=diff_id(data), what="layer L")


def test_contents_modes_links(store: LayerStore) -> None:
    data = make_tar([
        Entry("etc", tarfile.DIRTYPE, mode=0o755),
        Entry("etc/app.conf", data=b"conf", mode=0o600),
        Entry("bin/tool", data=b"#!/bin/sh\n", mode=0o4755),
        Entry("bin/alias", tarfile.SYMTYPE, linkname="tool", mode=0o777),
        Entry("bin/abs", tarfile.SYMTYPE, linkname="/etc/app.conf", mode=0o777),
        Entry("bin/hard", tarfile.LNKTYPE, linkname="bin/tool"),
        Entry("ro", tarfile.DIRTYPE, mode=0o555),
        Entry("ro/file", data=b"x"),
        Entry("fifo", tarfile.FIFOTYPE, mode=0o600),
    ])
    layer = unpack(store, data)
    assert layer == store.path(CHAIN) and store.has(CHAIN)
    assert (layer / "etc/app.conf").read_bytes() == b"conf"
    assert stat.S_IMODE((layer / "etc/app.conf").stat().st_mode) == 0o600
    assert stat.S_IMODE((layer / "bin/tool").stat().st_mode) == 0o4755
    assert os.readlink(layer / "bin/alias") == "tool"
    assert os.readlink(layer / "bin/abs") == "/etc/app.conf"  # kept, never followed here
    assert (layer / "bin/hard").stat().st_ino == (layer / "bin/tool").stat().st_ino
    assert stat.S_IMODE((layer / "ro").stat().st_mode) == 0o555
    assert (layer / "ro/file").read_bytes() == b"x"
    assert stat.S_ISFIFO((layer / "fifo").lstat().st_mode)
    assert (layer / "etc/app.conf").stat().st_mtime == 1_600_000_000
    assert [p.name for p in store.root.iterdir()] == [CHAIN[7:]]


@pytest.mark.parametrize("compress", [gzip.compress, zstandard.ZstdCompressor().compress])
def test_compressed_layers(store: LayerStore, compress: object) -> None:
    plain = make_tar([Entry("a.txt", data=b"hello")])
    packed = compress(plain)  # type: ignore[operator]
    layer = store.unpack(CHAIN, io.BytesIO(packed), diff_id=diff_id(plain), what="layer L")
    assert (layer / "a.txt").read_text() == "hello"


def test_diff_id_mismatch_leaves_nothing(store: LayerStore) -> None:
    data = make_tar([Entry("a.txt", data=b"hello")])
    with pytest.raises(Failed, match="content does not match the image config"):
        store.unpack(CHAIN, io.BytesIO(data), diff_id="sha256:" + "0" * 64, what="layer L")
    assert list(store.root.iterdir()) == []


def test_unpacked_once(store: LayerStore) -> None:
    first = unpack(store, make_tar([Entry("a", data=b"1")]))
    again = unpack(store, make_tar([Entry("b", data=b"2")]))
    assert first == again and not (again / "b").exists()


HOSTILE = {
    "parent traversal": ([Entry("../evil", data=b"x")],
                         'refused entry "../evil": path escapes the layer directory (..)'),
    "nested traversal": ([Entry("a/../../evil", data=b"x")],
                         'refused entry "a/../../evil": path escapes the layer directory (..)'),
    "absolute path": ([Entry("/tmp/evil", data=b"x")],
                      'refused entry "/tmp/evil": path is absolute'),
    "write through absolute symlink": (
        [Entry("link", tarfile.SYMTYPE, linkname="{outside}"),
         Entry("link/pwned", data=b"x")],
        'refused entry "link/pwned": "link" is a symlink or not a directory'),
    "write through relative symlink": (
        [Entry("d", tarfile.DIRTYPE, mode=0o755),
         Entry("d/up", tarfile.SYMTYPE, linkname="../../outside"),
         Entry("d/up/pwned", data=b"x")],
        'refused entry "d/up/pwned": "up" is a symlink or not a directory'),
    "hardlink outside": ([Entry("hl", tarfile.LNKTYPE, linkname="../outside/secret")],
                         'refused entry "hl": hardlink target "../outside/secret" escapes the '
                         'layer directory (..)'),
    "hardlink absolute": ([Entry("hl", tarfile.LNKTYPE, linkname="{outside}/secret")],
                          'refused entry "hl": hardlink target "{outside}/secret" is absolute'),
    "hardlink through symlink": (
        [Entry("s", tarfile.SYMTYPE, linkname="{outside}"),
         Entry("hl", tarfile.LNKTYPE, linkname="s/secret")],
        'refused entry "hl": "s" is a symlink or not a directory'),
    "whiteout of ..": ([Entry("d/.wh..", data=b"")],
                       'refused entry "d/.wh..": whiteout of an invalid name'),
    "device node": ([Entry("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0)],
                    'refused entry "dev/sda": device nodes are not allowed in layers'),
    "char device": ([Entry("dev/mem", tarfile.CHRTYPE, devmajor=1, devminor=1)],
                    'refused entry "dev/mem": device nodes are not allowed in layers'),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_tar_is_refused(case: str, store: LayerStore, outside: Path) -> None:
    entries, problem = HOSTILE[case]
    for e in entries:
        e.linkname = e.linkname.format(outside=outside)
        e.name = e.name.format(outside=outside)
    before = sorted(p.name for p in outside.parent.iterdir())
    with pytest.raises(InvalidArgument) as info:
        unpack(store, make_tar(entries))
    assert info.value.message.startswith("layer L: ")
    assert problem.format(outside=outside) in info.value.message
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == "keep"
    assert sorted(p.name for p in outside.parent.iterdir()) == before
    assert list(store.root.iterdir()) == []  # no temp dir, no half layer


def test_garbage_is_not_a_layer(store: LayerStore) -> None:
    with pytest.raises(InvalidArgument, match="layer L: not a valid layer archive"):
        store.unpack(CHAIN, io.BytesIO(gzip.compress(b"not a tar" * 100)),
                     diff_id="sha256:" + "0" * 64, what="layer L")
    assert list(store.root.iterdir()) == []


def test_later_entries_replace_earlier_ones(store: LayerStore) -> None:
    data = make_tar([
        Entry("d", tarfile.DIRTYPE, mode=0o700),
        Entry("d/f", data=b"old"),
        Entry("d", tarfile.SYMTYPE, linkname="elsewhere"),  # a dir replaced by a symlink
        Entry("x", data=b"first"),
        Entry("x", data=b"second"),
    ])
    layer = unpack(store, data)
    assert os.readlink(layer / "d") == "elsewhere"
    assert (layer / "x").read_bytes() == b"second"
