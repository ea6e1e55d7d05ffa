"""The image part: content-addressed OCI store, registry client, import/export.

The engine uses ``service.ImageService``; the rest are its parts:
    reference    parse and normalise image names (pure)
    manifest     manifests, indexes, platform selection (pure)
    imageconfig  the image config document (pure)
    blobs        the verified content-addressed blob store
    records      image rows in SQLite
    unpack       layer tar -> overlay lowerdir, safely
    compress     a tar stream -> a stored gzip layer blob
    registry     one registry over HTTP (OCI distribution spec); auth: credentials, tokens
    pull, push   the transfers, layers in parallel
    archive      docker save / OCI layout import and export
    rootfs       the busybox rootfs used by tests and the install script
    build/       the Dockerfile builder (its own package)
"""
