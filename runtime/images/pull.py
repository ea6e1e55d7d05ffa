"""Pull: manifest (through an index to this platform), config, layers in parallel.

Layers download on a thread pool, biggest first. A fresh layer is streamed: the bytes
go to the blob store and, in the same pass, through the decompressor into the
unpacker, so nothing is read twice; the layer becomes visible only after its
blob digest and its diff id are both verified (a bad one is thrown away,
``Failed``). A broken transfer keeps its bytes and resumes with a Range
request, then unpacks from the stored blob. Layers already in the store are
skipped. The record is written last, so an image is visible only when
everything it names is on disk. With ``unpack=False`` (``ImageService.fetch``)
only blobs are fetched, like ``skopeo copy``; layers unpack on first use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, cast

from runtime.api import ImageInfo, ProgressFn, PullProgress
from runtime.errors import Failed, Unavailable
from runtime.images.blobs import BlobWriter
from runtime.images.imageconfig import chain_ids, parse_config
from runtime.images.manifest import (
    INDEX_TYPES,
    Descriptor,
    host_platform,
    parse_index,
    parse_manifest,
    select_platform,
)
from runtime.images.records import LayerRecord
from runtime.images.reference import Reference
from runtime.images.registry import RegistryClient
from runtime.images.unpack import GZIP_INPUT

if TYPE_CHECKING:
    from runtime.images.service import ImageService

log = logging.getLogger(__name__)

MAX_PARALLEL = 4  # uploads (push) at once
# Layers pulled at once. Each streams into its own unpacker, so a layer that waits
# for a free slot is unpacked alone at the end while the other cores idle: with
# room for all of an image's layers (most have fewer than this; skopeo uses 6),
# downloads and unpacks overlap from the first byte to the last.
PULL_PARALLEL = 6
ATTEMPTS = 3
# Network chunks (64 KiB from httpcore) are joined into pieces of at least this before
# they are stored, hashed and decompressed: each of those steps lets go of the GIL and
# takes it back, a cost per call. A piece plus one more chunk still fits one read of
# the decompressor (GZIP_INPUT), so pieces reach it whole, not sliced again.
PIECE = GZIP_INPUT * 3 // 4

Report = Callable[[str, str, int, int], None]  # layer, status, current, total


@dataclass(slots=True)
class Ledger:
    """What one pull wrote (blobs, layer dirs), to take back if the pull fails.

    Known limit: a concurrent pull that found these blobs present and skipped them
    loses them too if this pull fails before recording its image (no leases yet).
    """

    blobs: set[str] = field(default_factory=set)
    layers: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrote(self, *, blob: str = "", layer: str = "") -> None:
        with self.lock:
            if blob:
                self.blobs.add(blob)
            if layer:
                self.layers.add(layer)


def reporter(ref: str, progress: ProgressFn | None) -> Report:
    """A thread-safe progress reporter (the callback is called from worker threads)."""
    lock = threading.Lock()

    def report(layer: str, status: str, current: int = 0, total: int = 0) -> None:
        if progress is None:
            return
        with lock:
            progress(PullProgress(ref=ref, layer=layer, status=status, current=current,
                                  total=total))

    return report


def fetch_blob(service: ImageService, client: RegistryClient, repo: str, desc: Descriptor,
               report: Report, ledger: Ledger) -> None:
    """Download ``desc`` into the blob store (verified), resuming and retrying transfers."""
    if service.blobs.has(desc.digest):
        report(desc.digest, "exists", desc.size, desc.size)
        return
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with service.blobs.writer(expected=desc.digest, resumable=True) as w:
                if w.done:  # fetched meanwhile by another pull
                    report(desc.digest, "exists", desc.size, desc.size)
                    return
                report(desc.digest, "downloading", w.offset, desc.size)
                client.download_blob(repo, desc.digest, w, on_progress=lambda n: report(
                    desc.digest, "downloading", n, desc.size))
                report(desc.digest, "verifying", w.offset, desc.size)
                w.commit(size=desc.size if desc.size > 0 else None)
                ledger.wrote(blob=desc.digest)
            return
        except Unavailable as exc:
            if attempt == ATTEMPTS:
                raise
            log.info("retrying %s (attempt %d): %s", desc.digest, attempt + 1, exc)
            time.sleep(0.2 * attempt)


class _TeeReader:
    """A file-like view of a download that also stores it: every byte the unpacker
    reads is first written to the blob writer (which hashes it).

    ``read(n)`` returns at most one piece (network chunks joined up to PIECE), fewer
    than ``n`` bytes before the end as a raw stream may: the piece itself when it
    fits, so the bytes are not copied again on their way to the decompressor.
    """

    def __init__(self, chunks: Iterator[bytes], writer: BlobWriter,
                 on_progress: Callable[[int], None]) -> None:
        self._chunks = chunks
        self._writer = writer
        self._progress = on_progress
        self._buf = b""
        self._pos = 0

    def _fill(self) -> bool:
        """Next piece (network chunks joined up to PIECE) into the buffer; False at the end.

        Bytes that came before a broken transfer are stored all the same: a resumed
        download asks for what follows them.
        """
        parts: list[bytes] = []
        size = 0
        try:
            while size < PIECE and (chunk := next(self._chunks, None)) is not None:
                parts.append(chunk)
                size += len(chunk)
        finally:
            if parts:
                piece = parts[0] if len(parts) == 1 else b"".join(parts)
                self._writer.write(piece)
                self._progress(self._writer.offset)
                self._buf, self._pos = piece, 0
        return bool(parts)

    def read(self, n: int = -1) -> bytes:
        if n == 0:
            return b""
        if n < 0:
            rest = [self._buf[self._pos:]]
            while self._fill():
                rest.append(self._buf)
            self._buf, self._pos = b"", 0
            return b"".join(rest)
        while self._pos >= len(self._buf):
            if not self._fill():
                return b""
        if self._pos == 0 and len(self._buf) <= n:
            out, self._buf = self._buf, b""
            return out
        out = self._buf[self._pos:self._pos + n]
        self._pos += len(out)
        return out

    def drain(self) -> None:
        while self._fill():
            pass
        self._buf, self._pos = b"", 0

    def close(self) -> None:
        """Stop the download (closes the HTTP response of an unfinished transfer)."""
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


def _stream_layer(service: ImageService, client: RegistryClient, repo: str,
                  desc: Descriptor, layer: LayerRecord, report: Report, ledger: Ledger) -> bool:
    """Download and unpack in one pass (no second read of the blob); the layer is
    published only once the blob's digest and the diff id are both verified.

    False when another pull fetched the blob meanwhile (the caller unpacks from it).
    """
    with service.blobs.writer(expected=desc.digest, resumable=True) as w:
        if w.done:
            return False
        tee = _TeeReader(client.blob_chunks(repo, desc.digest), w,
                         lambda n: report(desc.digest, "downloading", n, desc.size))

        def finish() -> None:
            tee.drain()
            report(desc.digest, "verifying", w.offset, desc.size)
            w.commit(size=desc.size if desc.size > 0 else None)
            ledger.wrote(blob=desc.digest, layer=layer.chain_id)

        report(desc.digest, "downloading", 0, desc.size)
        try:
            # The tee is read-only and file-like enough for the unpacker (read(n) only).
            service.layers.unpack(layer.chain_id, cast(IO[bytes], tee), diff_id=layer.diff_id,
                                  what=f"layer {desc.digest}", before_publish=finish)
            if w.committed is None:  # unpacked meanwhile by someone else: keep the blob too
                finish()
        except Unavailable:
            raise  # the writer keeps the bytes that came, for a resumed download
        except BaseException:
            w.discard()
            raise
        finally:
            tee.close()
    return True


def _layer(service: ImageService, client: RegistryClient, repo: str, desc: Descriptor,
           layer: LayerRecord, report: Report, unpack: bool, ledger: Ledger) -> None:
    if (unpack and not service.blobs.has(desc.digest)
            and not service.blobs.has_partial(desc.digest)
            and not service.layers.has(layer.chain_id)):
        try:
            if _stream_layer(service, client, repo, desc, layer, report, ledger):
                report(desc.digest, "done", desc.size, desc.size)
                return
        except Unavailable as exc:
            log.info("download of %s broke (%s); resuming", desc.digest, exc)
    fetch_blob(service, client, repo, desc, report, ledger)
    if unpack and not service.layers.has(layer.chain_id):
        report(desc.digest, "extracting", desc.size, desc.size)
        ledger.wrote(layer=layer.chain_id)
        service.ensure_layer(layer)
    report(desc.digest, "done", desc.size, desc.size)


def pull_image(service: ImageService, ref: Reference, *, what: str,
               progress: ProgressFn | None = None, unpack: bool = True) -> ImageInfo:
    """Pull ``ref``; on failure, blobs and layers this pull added and no image names
    are removed again, so a failed pull leaves the store as it found it."""
    ledger = Ledger()
    try:
        return _pull(service, ref, what=what, progress=progress, unpack=unpack, ledger=ledger)
    except BaseException:
        service.forget_unreferenced(blobs=ledger.blobs, layers=ledger.layers)
        raise


def _pull(service: ImageService, ref: Reference, *, what: str,
          progress: ProgressFn | None, unpack: bool, ledger: Ledger) -> ImageInfo:
    report = reporter(what, progress)
    with service.registry_client(ref.registry) as client:
        repo = ref.repository
        data, media_type, digest = client.get_manifest(repo, ref.digest or ref.tag or "latest",
                                                       what=what)
        top_digest = digest
        if media_type in INDEX_TYPES:
            chosen = select_platform(parse_index(data, media_type), host_platform(),
                                     what=f'image "{what}"')
            data, media_type, digest = client.get_manifest(repo, chosen.digest, what=what)
            if media_type in INDEX_TYPES:
                raise Failed(f'image "{what}": nested indexes are not supported')
        manifest = parse_manifest(data, media_type)
        if not service.blobs.has(manifest.config.digest):
            service.blobs.put(client.get_blob(repo, manifest.config.digest, what=what),
                              expected=manifest.config.digest)
            ledger.wrote(blob=manifest.config.digest)
        parsed = parse_config(service.blobs.read(manifest.config.digest))
        if len(parsed.diff_ids) != len(manifest.layers):
            raise Failed(f'image "{what}": manifest has {len(manifest.layers)} layers but its '
                         f"config names {len(parsed.diff_ids)}")
        layers = [LayerRecord(digest=d.digest, media_type=d.media_type, size=d.size,
                              diff_id=diff, chain_id=chain)
                  for d, diff, chain in zip(manifest.layers, parsed.diff_ids,
                                            chain_ids(parsed.diff_ids), strict=True)]
        for d in manifest.layers:
            report(d.digest, "waiting", 0, d.size)
        if layers:
            # Biggest first: past PULL_PARALLEL layers, the long ones must not start last.
            work = sorted(zip(manifest.layers, layers, strict=True), key=lambda x: -x[0].size)
            with ThreadPoolExecutor(max_workers=min(PULL_PARALLEL, len(layers)),
                                    thread_name_prefix="pull") as pool:
                futures = [pool.submit(_layer, service, client, repo, d, layer, report, unpack,
                                       ledger)
                           for d, layer in work]
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                failed = [f for f in done if f.exception() is not None]
                if failed:
                    for f in futures:
                        f.cancel()
                    raise failed[0].exception()  # type: ignore[misc]
        tags = (ref.tagged(),) if ref.tag else ()
        if not service.blobs.has(digest):
            ledger.wrote(blob=digest)  # store_image writes the manifest blob
        info = service.store_image(manifest=data, media_type=media_type, tags=tags,
                                   digests=(ref.with_digest(top_digest),), action="pull",
                                   name=ref.tagged() if ref.tag else ref.with_digest(top_digest),
                                   unpack=unpack)
        report("", "done", 0, 0)
        return info

