"""Build multi-layer test images straight into an ImageService store (helpers, no tests)."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import time
from collections.abc import Sequence

import zstandard

from runtime.api import ImageConfig, ImageInfo
from runtime.images.blobs import sha256_digest
from runtime.images.imageconfig import DEFAULT_PATH, build_config
from runtime.images.manifest import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    Descriptor,
    build_manifest,
    host_platform,
)
from runtime.images.service import ImageService

FileSpec = tuple[str, bytes]  # (path, content); content b"<dir>" makes a directory


def layer_tar(files: Sequence[FileSpec]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.mtime = 1_600_000_000
            if data == b"<dir>":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def random_layer(size: int, *, seed: int) -> bytes:
    """An incompressible layer of about ``size`` bytes (urandom: real transfer sizes)."""
    del seed
    return layer_tar([(f"data/blob-{time.monotonic_ns()}.bin", os.urandom(size))])


def store_test_image(service: ImageService, layers: Sequence[bytes], ref: str, *,
                     compression: str = "gzip", docker: bool = False,
                     config: ImageConfig | None = None) -> ImageInfo:
    """Store an image made of ``layers`` (plain tars) compressed as asked, tagged ``ref``."""
    descriptors = []
    diff_ids = []
    for tar in layers:
        if compression == "gzip":
            blob, mt = gzip.compress(tar, mtime=0), DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP
        elif compression == "zstd":
            blob, mt = zstandard.ZstdCompressor().compress(tar), OCI_LAYER_ZSTD
        else:
            blob, mt = tar, OCI_LAYER
        descriptors.append(Descriptor(media_type=mt, digest=service.blobs.put(blob),
                                      size=len(blob)))
        diff_ids.append(sha256_digest(tar))
    plat = host_platform()
    config_bytes = build_config(config=config or ImageConfig(env=(DEFAULT_PATH,)),
                                diff_ids=diff_ids, architecture=plat.architecture,
                                os_name="linux", created=time.time(),
                                history=[{"created_by": f"test layer {i}"}
                                         for i in range(len(layers))])
    config_desc = Descriptor(media_type=DOCKER_CONFIG if docker else OCI_CONFIG,
                             digest=service.blobs.put(config_bytes), size=len(config_bytes))
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = build_manifest(config=config_desc, layers=descriptors, media_type=media_type)
    return service.store_image(manifest=manifest, media_type=media_type,
                               tags=(service_ref(ref),), action="import", name=ref)


def service_ref(ref: str) -> str:
    from runtime.images.reference import parse_reference

    return parse_reference(ref).tagged()
