"""A streamed layer download: every byte the unpacker sees is stored first, in pieces,
and the bytes that came before a broken transfer are kept for the resumed download."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.errors import Unavailable
from runtime.images.blobs import BlobStore, sha256_digest
from runtime.images.pull import PIECE, _TeeReader
from runtime.images.unpack import GZIP_INPUT


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.mark.parametrize("size", [1_000, 65_536, 300_000])
def test_everything_read_is_stored_first(tmp_path: Path, size: int) -> None:
    store = BlobStore(tmp_path)
    data = os.urandom(1_000_000)
    seen: list[int] = []
    with store.writer(expected=sha256_digest(data), resumable=True) as w:
        tee = _TeeReader(chunks(data, size), w, seen.append)
        got = [tee.read(5), tee.read(GZIP_INPUT)]
        assert len(got[0]) == 5 and 0 < len(got[1]) <= GZIP_INPUT
        assert w.offset >= 5 + len(got[1])  # stored before it was handed out
        while piece := tee.read(GZIP_INPUT):
            got.append(piece)
        assert b"".join(got) == data
        w.commit(size=len(data))
    assert seen == sorted(seen) and seen[-1] == len(data)
    if size < PIECE:  # small network chunks are joined: few, big steps
        assert len(seen) <= len(data) // PIECE + 1


def test_network_chunks_reach_the_decompressor_whole(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = os.urandom(2_000_000)
    with store.writer() as w:
        tee = _TeeReader(chunks(data, 65_536), w, lambda n: None)
        pieces = list(iter(lambda: tee.read(GZIP_INPUT), b""))
    assert b"".join(pieces) == data
    assert all(len(p) >= PIECE for p in pieces[:-1])


def test_bytes_before_a_broken_transfer_are_kept(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = os.urandom(500_000)

    def broken() -> Iterator[bytes]:
        yield data[:40_000]
        yield data[40_000:70_000]
        raise Unavailable("download interrupted")

    digest = sha256_digest(data)
    with pytest.raises(Unavailable), store.writer(expected=digest, resumable=True) as w:
        _TeeReader(broken(), w, lambda n: None).drain()
    with store.writer(expected=digest, resumable=True) as w:
        assert w.offset == 70_000
        w.write(data[70_000:])
        w.commit()
    assert store.read(digest) == data
