"""Turn a layer tar stream into a stored, compressed blob, computing both digests.

The blob digest (compressed bytes, what manifests and registries name) and the
diff id (uncompressed tar, what image configs name) come out of one pass.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from typing import IO, Any, cast

import zstandard

from runtime.errors import InvalidArgument
from runtime.images.blobs import CHUNK, BlobStore
from runtime.images.manifest import OCI_LAYER_GZIP
from runtime.images.unpack import decompressed


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredLayer:
    digest: str
    diff_id: str
    size: int
    media_type: str


class _BlobSink:
    """A file-like target for GzipFile that feeds a BlobWriter."""

    def __init__(self, write: object) -> None:
        self.write = write

    def flush(self) -> None:
        pass


def store_layer(blobs: BlobStore, stream: IO[bytes], *, what: str,
                level: int = 1) -> StoredLayer:
    """Read a tar (plain, gzip or zstd) and store it gzip-compressed (mtime 0: reproducible).

    Level 1 by default: several times faster than 6 for ~10 % more bytes, and these
    layers are made locally (imports, builds) where time matters more than size.
    """
    diff = hashlib.sha256()
    with blobs.writer() as w:
        try:
            tar = decompressed(stream)
            with gzip.GzipFile(fileobj=cast(Any, _BlobSink(w.write)), mode="wb",
                               compresslevel=level, mtime=0) as gz:
                while chunk := tar.read(CHUNK):
                    diff.update(chunk)
                    gz.write(chunk)
        except (EOFError, gzip.BadGzipFile, zstandard.ZstdError) as exc:
            raise InvalidArgument(f"{what}: corrupt compressed data: {exc}") from exc
        size = w.size
        digest = w.commit()
    return StoredLayer(digest=digest, diff_id="sha256:" + diff.hexdigest(), size=size,
                       media_type=OCI_LAYER_GZIP)
