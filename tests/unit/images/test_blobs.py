"""The blob store publishes only verified content."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from runtime.errors import Failed, NotFound
from runtime.images.blobs import WRITEBACK_STEP, BlobStore, sha256_digest


def test_put_and_read(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    digest = store.put(b"hello")
    assert digest == "sha256:" + hashlib.sha256(b"hello").hexdigest()
    assert store.read(digest) == b"hello"
    assert store.size(digest) == 5
    assert list(store.digests()) == [digest]
    assert store.put(b"hello") == digest  # idempotent


def test_wrong_digest_is_thrown_away(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    expected = sha256_digest(b"good")
    with pytest.raises(Failed) as info:
        store.put(b"evil", expected=expected)
    assert info.value.message == (
        f"blob {expected}: digest mismatch (got {sha256_digest(b'evil')}); "
        "the downloaded data was thrown away")
    assert not store.has(expected)
    assert list(store.digests()) == []
    assert list(store.ingest_dir.iterdir()) == []


def test_size_mismatch(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(Failed, match="size mismatch"):
        store.put_file(io.BytesIO(b"abc"), size=4)
    assert list(store.digests()) == []


def test_resumable_writer_keeps_partial_bytes(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"x" * 1000
    digest = sha256_digest(data)
    with pytest.raises(RuntimeError), store.writer(expected=digest, resumable=True) as w:
        w.write(data[:300])
        raise RuntimeError("connection dropped")
    with store.writer(expected=digest, resumable=True) as w:
        assert w.offset == 300
        w.write(data[300:])
        w.commit()
    assert store.read(digest) == data
    assert list(store.ingest_dir.iterdir()) == []


def test_missing_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    digest = sha256_digest(b"none")
    with pytest.raises(NotFound, match=f"blob {digest} not found in the local store"):
        store.read(digest)


def test_one_resumable_writer_per_digest(tmp_path: Path) -> None:
    """A second writer of the same digest waits, then finds the blob done."""
    import threading

    store = BlobStore(tmp_path)
    data = b"y" * 10_000
    digest = sha256_digest(data)
    first = store.writer(expected=digest, resumable=True)
    first.write(data[:5000])
    seen: list[bool] = []

    def second() -> None:
        with store.writer(expected=digest, resumable=True) as w:
            seen.append(w.done)

    t = threading.Thread(target=second)
    t.start()
    t.join(timeout=0.2)
    assert t.is_alive()  # blocked on the first writer's lock
    first.write(data[5000:])
    first.commit()
    t.join(timeout=10)
    assert seen == [True]
    assert store.read(digest) == data
    assert list(store.ingest_dir.iterdir()) == []


def test_big_blobs_resumed_across_writebacks(tmp_path: Path) -> None:
    """Large writes are handed to the kernel for writing out as they come; the bytes
    are the same, and a resumed writer carries on after a partial that was."""
    store = BlobStore(tmp_path)
    data = os.urandom(WRITEBACK_STEP * 2 + 12_345)
    digest = sha256_digest(data)
    piece = 200_000
    with pytest.raises(RuntimeError), store.writer(expected=digest, resumable=True) as w:
        for start in range(0, WRITEBACK_STEP + piece, piece):
            w.write(data[start:start + piece])
        raise RuntimeError("connection dropped")
    with store.writer(expected=digest, resumable=True) as w:
        for start in range(w.offset, len(data), piece):
            w.write(data[start:start + piece])
        w.commit(size=len(data))
    assert store.read(digest) == data
