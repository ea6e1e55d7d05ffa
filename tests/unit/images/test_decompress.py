"""Layer compression is sniffed from the bytes, and gzip is read strictly."""

from __future__ import annotations

import gzip
import io
import os

import pytest
import zstandard

from runtime.images.unpack import decompressed


def read_all(data: bytes) -> bytes:
    return decompressed(io.BytesIO(data)).read()


def test_plain_gzip_zstd() -> None:
    payload = os.urandom(3_000_000) + b"text" * 100_000
    assert read_all(payload) == payload
    assert read_all(gzip.compress(payload)) == payload
    assert read_all(zstandard.ZstdCompressor().compress(payload)) == payload


def test_gzip_members_and_padding() -> None:
    data = gzip.compress(b"one ") + gzip.compress(b"two") + b"\0" * 1024
    assert read_all(data) == b"one two"


def test_small_reads_return_everything() -> None:
    payload = b"abc" * 50_000
    reader = decompressed(io.BytesIO(gzip.compress(payload)))
    got = b"".join(iter(lambda: reader.read(7), b""))
    assert got == payload


def test_truncated_gzip_is_an_error() -> None:
    data = gzip.compress(os.urandom(100_000))
    with pytest.raises(EOFError, match="ends before the end of its gzip stream"):
        read_all(data[: len(data) // 2])


def test_corrupt_gzip_crc_is_an_error() -> None:
    data = bytearray(gzip.compress(b"hello world" * 100))
    data[-8] ^= 0xFF  # the CRC32 in the trailer
    with pytest.raises(gzip.BadGzipFile, match=r"corrupt gzip data: .*incorrect data check"):
        read_all(bytes(data))
