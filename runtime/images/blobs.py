"""The content-addressed blob store: ``blobs/sha256/<hex>``, verified on write.

Invariant: a file under ``blobs/sha256/`` always holds exactly the bytes whose
sha256 is its name. Writers stream into ``ingest/`` (hashing as they go),
fsync, compare the digest, and only then rename into place; a mismatch throws
the bytes away. A partial download keeps its ingest file (``<hex>.partial``)
so a retry can resume from where it stopped.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO

from runtime.errors import Failed, InvalidArgument, NotFound
from runtime.images.reference import is_digest

log = logging.getLogger(__name__)

CHUNK = 1 << 20
# Written blobs are handed to the kernel for writing out every this many bytes, so
# that commit's fsync waits for the last few MiB only, not for the whole blob.
WRITEBACK_STEP = 4 << 20


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
        self._written_back = 0
        self.committed: str | None = None
        if self.resumable and expected is not None:
            self.path = store.ingest_dir / f"{_hex(expected)}.partial"
            self._file: BinaryIO = self._open_locked(self.path)
            if store.has(expected):
                # Another writer (thread or process) finished it while we waited; the
                # partial we hold was made afresh by our open: drop it.
                self.path.unlink()
                self._close()
                self.committed = expected
                return
            while chunk := self._file.read(CHUNK):
                self._hash.update(chunk)
                self.size += len(chunk)
            self._written_back = self.size
        else:
            fd, name = tempfile.mkstemp(dir=store.ingest_dir, prefix="blob-")
            self.path = Path(name)
            self._file = os.fdopen(fd, "wb")

    @staticmethod
    def _open_locked(path: Path) -> BinaryIO:
        """Open the partial file under an exclusive flock: one writer per digest at a time
        (threads and processes alike), so two pulls of one layer never interleave bytes."""
        while True:
            f = open(path, "a+b")  # noqa: SIM115 (closed in _close())
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                same = os.stat(path).st_ino == os.fstat(f.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                f.seek(0)
                return f
            # The holder published it (renamed our inode away) meanwhile: open afresh.
            f.close()

    @property
    def done(self) -> bool:
        """True when the blob is in the store (committed by this or another writer)."""
        return self.committed is not None

    @property
    def offset(self) -> int:
        """Bytes already held (a resumed download asks for the rest)."""
        return self.size

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)
        if self.size - self._written_back >= WRITEBACK_STEP:
            self._start_writeback()

    def _start_writeback(self) -> None:
        """Start writing out what came so far, without waiting for it.

        A blob is rarely read back soon after it is written (a pull unpacks the
        stream as it comes), so we tell the kernel we no longer need these pages;
        for pages not yet on disk, Linux starts writing them out (it cannot drop
        them before), which is what commit's fsync would otherwise wait for at once.
        """
        self._file.flush()
        with contextlib.suppress(OSError):  # advice only: never a reason to fail
            os.posix_fadvise(self._file.fileno(), self._written_back,
                             self.size - self._written_back, os.POSIX_FADV_DONTNEED)
        self._written_back = self.size

    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def discard(self) -> None:
        """Throw the bytes away (also a resumable writer's: they are bad).

        Unlinks before closing: the flock is held until the name is gone.
        """
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._close()

    def commit(self, *, size: int | None = None) -> str:
        """Verify and publish; a wrong digest or size raises ``Failed`` and discards the bytes."""
        if self.committed is not None:
            return self.committed
        self._file.flush()
        os.fsync(self._file.fileno())
        digest = self.digest()
        if self.expected is not None and digest != self.expected:
            self.discard()
            raise Failed(f"blob {self.expected}: digest mismatch (got {digest}); "
                         "the downloaded data was thrown away")
        if size is not None and self.size != size:
            self.discard()
            raise Failed(f"blob {digest}: size mismatch (expected {size} bytes, got {self.size})")
        final = self.store.path(digest)
        os.replace(self.path, final)  # still under the flock of a resumable writer
        self._close()
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

    def has_partial(self, digest: str) -> bool:
        """A resumable download of ``digest`` was interrupted and kept its bytes."""
        return (self.ingest_dir / f"{_hex(digest)}.partial").is_file()

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

    def put_file(self, src: IO[bytes], *, expected: str | None = None,
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

    def clear_ingest(self, *, older_than: float = 3600.0,
                     partial_older_than: float = 86400.0) -> None:
        """Drop leftovers of interrupted writes: temp files older than an hour (younger
        ones may belong to a write in progress in another process) and resumable
        partials older than a day."""
        now = time.time()
        for entry in self.ingest_dir.iterdir():
            limit = partial_older_than if entry.name.endswith(".partial") else older_than
            with contextlib.suppress(FileNotFoundError):
                if now - entry.stat().st_mtime > limit:
                    entry.unlink()
