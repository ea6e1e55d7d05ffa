"""The image part: content-addressed OCI store, registry client, import/export.

The engine uses ``service.ImageService``; the rest are its private parts:
``reference`` (parse names), ``blobs`` (verified content store), ``records``
(SQLite rows), ``unpack`` (layer tar -> overlay lowerdir), ``registry`` /
``auth`` (OCI distribution client), ``archive`` (docker save / OCI layout),
``rootfs`` (the test busybox rootfs).
"""
