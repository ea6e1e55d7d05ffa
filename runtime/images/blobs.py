"""The content-addressed blob store: ``blobs/sha256/<hex>``, verified on write.

Invariant: a file under ``blobs/sha256/`` always holds exactly the bytes whose
sha256 is its name. Writers stream into ``ingest/`` (hashing as they go),
fsync, compare the digest, and only then rename into place; a mismatch throws
the bytes away. A partial download keeps its ingest file (``<hex>.partial``)
so a retry can resume from where it stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from runtime.errors import Failed, InvalidArgument, NotFound
from runtime.images.reference import is_digest

log = logging.getLogger(__name__)

CHUNK = 1 << 20


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _hex(digest: str) -> str:
    if not is_digest(digest):
        raise InvalidArgument(f'digest "{digest}" is not a sha256 digest')
    return digest.removeprefix("sha256:")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobWriter:
    """Streams bytes into an ingest file, hashing them; ``commit`` verifies and publishes.

    Use as a context manager: leaving without ``commit`` discards the bytes,
    except for a resumable writer, which keeps them for the next attempt.
    """

    def __init__(self, store: BlobStore, *, expected: str | None, resumable: bool) -> None:
        self.store = store
        self.expected = expected
        self.resumable = resumable and expected is not None
        self._hash = hashlib.sha256()
        self.size = 0
        self.committed: str | None = None
        if self.resumable and expected is not None:
            self.path = store.ingest_dir / f"{_hex(expected)}.partial"
            self._file: BinaryIO = open(self.path, "a+b")  # noqa: SIM115 (closed in close())
            self._file.seek(0)
            while chunk := self._file.read(CHUNK):
                self._hash.update(chunk)
                self.size += len(chunk)
        else:
            fd, name = tempfile.mkstemp(dir=store.ingest_dir, prefix="blob-")
            self.path = Path(name)
            self._file = os.fdopen(fd, "wb")

    @property
    def offset(self) -> int:
        """Bytes already held (a resumed download asks for the rest)."""
        return self.size

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def discard(self) -> None:
        """Throw the bytes away (also a resumable writer's: they are bad)."""
        self._close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def commit(self, *, size: int | None = None) -> str:
        """Verify and publish; a wrong digest or size raises ``Failed`` and discards the bytes."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._close()
        digest = self.digest()
        if self.expected is not None and digest != self.expected:
            self.discard()
            raise Failed(f"blob {self.expected}: digest mismatch (got {digest}); "
                         "the downloaded data was thrown away")
        if size is not None and self.size != size:
            self.discard()
            raise Failed(f"blob {digest}: size mismatch (expected {size} bytes, got {self.size})")
        final = self.store.path(digest)
        os.replace(self.path, final)
        fsync_dir(final.parent)
        self.committed = digest
        return digest

    def _close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.committed is None:
            if self.resumable and exc[0] is not None:
                self._close()  # keep the partial bytes for a retry
            else:
                self.discard()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blob_dir = root / "blobs" / "sha256"
        self.ingest_dir = root / "ingest"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.ingest_dir.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.blob_dir / _hex(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} not found in the local store") from exc

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} not found in the local store") from exc

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def writer(self, *, expected: str | None = None, resumable: bool = False) -> BlobWriter:
        return BlobWriter(self, expected=expected, resumable=resumable)

    def put(self, data: bytes, *, expected: str | None = None) -> str:
        """Store ``data`` (verified against ``expected`` when given); returns its digest."""
        digest = sha256_digest(data)
        if self.has(digest) and (expected is None or expected == digest):
            return digest
        with self.writer(expected=expected) as w:
            w.write(data)
            return w.commit()

    def put_file(self, src: BinaryIO, *, expected: str | None = None,
                 size: int | None = None) -> str:
        with self.writer(expected=expected) as w:
            while chunk := src.read(CHUNK):
                w.write(chunk)
            return w.commit(size=size)

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(digest).unlink()

    def digests(self) -> Iterator[str]:
        for entry in os.scandir(self.blob_dir):
            yield f"sha256:{entry.name}"

    def clear_ingest(self) -> None:
        """Drop leftovers of interrupted writes (not resumable partials younger than a day)."""
        for entry in self.ingest_dir.iterdir():
            if entry.name.startswith("blob-"):
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
