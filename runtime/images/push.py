"""Push: every blob the image names (skipped when the registry has it, mounted from
another repository of the same registry when we know one, else uploaded,
monolithic or in chunks), then the manifest under the tag."""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from runtime.api import ProgressFn
from runtime.errors import EngineError, InvalidArgument
from runtime.images.pull import MAX_PARALLEL, Report, reporter
from runtime.images.reference import parse_reference
from runtime.images.registry import RegistryClient

if TYPE_CHECKING:
    from runtime.images.service import ImageService

log = logging.getLogger(__name__)

# Blobs up to this size go in one PUT; bigger ones in PATCH chunks of this size.
CHUNK_SIZE = 32 << 20


def _push_blob(service: ImageService, client: RegistryClient, repo: str, digest: str,
               size: int, mount_from: list[str], chunk_size: int, report: Report) -> None:
    scope = f"repository:{repo}:pull,push"
    if client.blob_exists(repo, digest, scope=scope):
        report(digest, "exists", size, size)
        return
    for source in mount_from:
        try:
            if client.mount_blob(repo, digest, source):
                report(digest, "mounted", size, size)
                return
        except EngineError as exc:  # a failed mount only costs us the upload
            log.debug("mount of %s from %s failed: %s", digest, source, exc)
    report(digest, "uploading", 0, size)
    client.upload_blob(repo, digest, size, lambda: service.blobs.open(digest),
                       chunk_size=chunk_size,
                       on_progress=lambda n: report(digest, "uploading", n, size))
    report(digest, "done", size, size)


def push_image(service: ImageService, ref: str, *, progress: ProgressFn | None = None,
               chunk_size: int = CHUNK_SIZE) -> str:
    """Push local image ``ref`` to the registry its name says; returns the manifest digest."""
    target = parse_reference(ref)
    if target.digest:
        raise InvalidArgument(f'cannot push "{ref}": push a tag, not a digest')
    record = service.lookup(target.tagged())
    report = reporter(ref, progress)
    # Repositories of the same registry that already hold this image: mount sources.
    mount_from = sorted({
        parsed.repository for parsed in (parse_reference(n.split("@")[0]) for n in record.digests)
        if parsed.registry == target.registry and parsed.repository != target.repository})
    blobs = [(record.id, len(record.config_json.encode()))]
    blobs += [(x.digest, x.size) for x in record.layers]
    with service.registry_client(target.registry) as client:
        repo = target.repository
        with ThreadPoolExecutor(max_workers=MAX_PARALLEL, thread_name_prefix="push") as pool:
            futures = [pool.submit(_push_blob, service, client, repo, digest,
                                   service.blobs.size(digest), mount_from, chunk_size, report)
                       for digest, _ in blobs]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in done if f.exception() is not None]
            if failed:
                for f in futures:
                    f.cancel()
                raise failed[0].exception()  # type: ignore[misc]
        manifest = service.blobs.read(record.manifest_digest)
        digest = client.put_manifest(repo, target.tag or "latest", manifest,
                                     record.manifest_media_type)
    service.records.add_digest(record.id, target.with_digest(digest))
    service.events.emit("image", "push", record.id, {"name": target.tagged()})
    report("", "done", 0, 0)
    return digest
