"""ImageService: the engine's image part (store, pull/push, import/export).

Implements ``runtime.parts.ImageStore`` (get, pull, layer_dirs, list) for the
container part and the ``image_*`` methods of ``runtime.api.Engine``, which
``LocalEngine`` delegates to. Thread-safe: blob and layer writes are atomic
renames, records change in single transactions.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Mapping, Sequence, Set
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.api import (
    ImageArchiveFormat,
    ImageConfig,
    ImageHistoryEntry,
    ImageInfo,
    ProgressFn,
    labels_match,
)
from runtime.config import EngineConfig
from runtime.errors import Conflict, InvalidArgument, NotFound
from runtime.events import EventLog
from runtime.images.blobs import BlobStore
from runtime.images.compress import store_layer
from runtime.images.imageconfig import (
    build_config,
    chain_ids,
    format_time,
    parse_config,
    parse_time,
)
from runtime.images.manifest import (
    OCI_CONFIG,
    OCI_MANIFEST,
    Descriptor,
    build_manifest,
    host_platform,
    parse_manifest,
)
from runtime.images.records import ImageRecord, ImageRecords, LayerRecord
from runtime.images.reference import DEFAULT_REGISTRY, Reference, is_digest, parse_reference
from runtime.images.unpack import LayerStore
from runtime.metadata import Metadata

if TYPE_CHECKING:
    from runtime.images.registry import RegistryClient

log = logging.getLogger(__name__)

MIN_ID_PREFIX = 4


class ImageService:
    def __init__(self, config: EngineConfig, metadata: Metadata, events: EventLog) -> None:
        self.config = config
        self.events = events
        self.blobs = BlobStore(config.images_dir)
        self.layers = LayerStore(config.images_dir / "layers")
        self.records = ImageRecords(metadata)

    # --- lookup ----------------------------------------------------------------

    def _find(self, ref: str) -> ImageRecord | None:
        if is_digest(ref):
            return self.records.find(ref)
        try:
            parsed = parse_reference(ref)
        except InvalidArgument:
            parsed = None
        if parsed is not None:
            image_id = (self.records.by_digest(parsed.with_digest(parsed.digest))
                        if parsed.digest else self.records.by_tag(parsed.tagged()))
            if image_id is not None:
                return self.records.find(image_id)
        prefix = ref.removeprefix("sha256:")
        if len(prefix) >= MIN_ID_PREFIX and all(c in "0123456789abcdef" for c in prefix):
            ids = self.records.by_prefix(prefix)
            if len(ids) > 1:
                raise Conflict(f'image id prefix "{ref}" is ambiguous: matches {len(ids)} images')
            if ids:
                return self.records.find(ids[0])
        if parsed is None:
            parse_reference(ref)  # re-raise the reference error for a clear message
        return None

    def lookup(self, ref: str) -> ImageRecord:
        record = self._find(ref)
        if record is None:
            raise NotFound(f'image "{ref}" not found')
        return record

    def info(self, record: ImageRecord) -> ImageInfo:
        parsed = parse_config(record.config_json.encode())
        return ImageInfo(
            id=record.id, repo_tags=record.tags, repo_digests=record.digests,
            created=parsed.created, size=record.size, architecture=parsed.architecture,
            os=parsed.os, config=parsed.config, layers=tuple(x.diff_id for x in record.layers))

    # --- parts.ImageStore --------------------------------------------------------

    def get(self, ref: str) -> ImageInfo:
        return self.info(self.lookup(ref))

    def list(self) -> builtins.list[ImageInfo]:
        return [self.info(r) for r in self.records.all()]

    def layer_dirs(self, image_id: str) -> builtins.list[Path]:
        """Unpacked layer dirs, lowest first; unpacks any layer missing on disk."""
        record = self.lookup(image_id)
        return [self.ensure_layer(layer) for layer in record.layers]

    def pull(self, ref: str, *, progress: ProgressFn | None = None) -> ImageInfo:
        return self.image_pull(ref, progress=progress)

    def ensure_layer(self, layer: LayerRecord) -> Path:
        if self.layers.has(layer.chain_id):
            return self.layers.path(layer.chain_id)
        with self.blobs.open(layer.digest) as blob:
            return self.layers.unpack(layer.chain_id, blob, diff_id=layer.diff_id,
                                      what=f"layer {layer.digest}")

    # --- Engine: image_* ---------------------------------------------------------

    def image_list(self, *, labels: Mapping[str, str] | None = None) -> builtins.list[ImageInfo]:
        return [i for i in self.list() if labels_match(i.config.labels, labels)]

    def image_inspect(self, ref: str) -> ImageInfo:
        return self.get(ref)

    def image_pull(self, ref: str, *, progress: ProgressFn | None = None) -> ImageInfo:
        from runtime.images.pull import pull_image

        return pull_image(self, parse_reference(ref), what=ref, progress=progress)

    def fetch(self, ref: str, *, progress: ProgressFn | None = None) -> ImageInfo:
        """Pull without unpacking (download and verify only, like ``skopeo copy``);
        the layers are unpacked when ``layer_dirs`` first needs them."""
        from runtime.images.pull import pull_image

        return pull_image(self, parse_reference(ref), what=ref, progress=progress,
                          unpack=False)

    def image_push(self, ref: str, *, progress: ProgressFn | None = None) -> None:
        from runtime.images.push import push_image

        push_image(self, ref, progress=progress)

    def image_tag(self, source: str, target: str) -> None:
        record = self.lookup(source)
        name = parse_reference(target).tagged()
        if parse_reference(target).digest:
            raise InvalidArgument(f'cannot tag "{source}" as "{target}": a tag may not '
                                  "carry a digest")
        self.records.tag(record.id, name)
        self.events.emit("image", "tag", record.id, {"name": name})

    def image_remove(self, ref: str, *, force: bool = False,
                     in_use: Set[str] = frozenset()) -> builtins.list[str]:
        """Untag ``ref``; delete the image once no tag is left. Like Docker: a name of an
        image with other tags only untags; an id with several tags needs ``force``; an
        image a container uses (``in_use``, forced by the caller) is only untagged and
        stays as a dangling image, so the container keeps its layers.

        Returns what was done: "untagged: <name>", "deleted: <id>".
        """
        record = self.lookup(ref)
        named = self._tag_of(ref)
        if named is not None and named in record.tags and len(record.tags) > 1:
            self.records.untag(named)
            self.events.emit("image", "untag", record.id, {"name": named})
            return [f"untagged: {named}"]
        if len(record.tags) > 1 and not force:
            raise Conflict(f'image "{ref}" is referenced by several tags '
                           f'({", ".join(record.tags)}): remove them by name or use --force')
        out: list[str] = []
        for tag in record.tags:
            self.records.untag(tag)
            out.append(f"untagged: {tag}")
            self.events.emit("image", "untag", record.id, {"name": tag})
        if record.id not in in_use:
            out.append(f"deleted: {record.id}")
            self._delete(record)
        return out

    def _tag_of(self, ref: str) -> str | None:
        if is_digest(ref):
            return None
        try:
            parsed = parse_reference(ref)
        except InvalidArgument:
            return None
        return None if parsed.digest else parsed.tagged()

    def _delete(self, record: ImageRecord) -> None:
        self.records.delete(record.id)
        self.events.emit("image", "delete", record.id,
                         {"name": record.tags[0] if record.tags else record.id})
        # Only what this image named: blobs another process is pulling right now (not
        # yet recorded) must not be taken for garbage.
        self.forget_unreferenced(
            blobs={record.manifest_digest, record.id, *(x.digest for x in record.layers)},
            layers={x.chain_id for x in record.layers})

    def _referenced(self) -> tuple[set[str], set[str]]:
        """(blob digests, layer chain ids) that some image record names."""
        blobs: set[str] = set()
        layers: set[str] = set()
        for r in self.records.all():
            blobs.update((r.manifest_digest, r.id))
            for layer in r.layers:
                blobs.add(layer.digest)
                layers.add(layer.chain_id)
        # Layer blobs the build step cache names stay, so rebuilds can reuse them.
        from runtime.images.build.cache import BuildCache

        blobs |= BuildCache(self.records.md).blobs()
        return blobs, layers

    def _collect_garbage(self, *, older_than: float = 3600.0) -> None:
        """Drop blobs and layer dirs no image names, once they are ``older_than`` seconds
        (younger ones may belong to a pull or build in progress in another process)."""
        cutoff = time.time() - older_than

        def old(path: Path) -> bool:
            try:
                return path.stat().st_mtime < cutoff
            except FileNotFoundError:
                return False

        self.forget_unreferenced(
            blobs={d for d in self.blobs.digests() if old(self.blobs.path(d))},
            layers={c for c in self.layers.chain_ids() if old(self.layers.path(c))})

    def forget_unreferenced(self, *, blobs: Set[str], layers: Set[str]) -> None:
        """Remove those of ``blobs`` and ``layers`` that no image record names."""
        keep_blobs, keep_layers = self._referenced()
        for digest in blobs - keep_blobs:
            self.blobs.delete(digest)
        for chain in layers - keep_layers:
            self.layers.remove(chain)

    # --- import / export / housekeeping -------------------------------------------------

    def image_import(self, path: str, *, ref: str | None = None) -> builtins.list[ImageInfo]:
        """Auto-detects a docker save archive, an OCI layout/archive or a rootfs tarball."""
        from runtime.images import archive

        source = Path(path)
        kind = archive.detect(source)
        if kind == "rootfs":
            if ref is None:
                raise InvalidArgument(f'"{path}" is a rootfs tarball: give a name for the image '
                                      "(stack image import FILE NAME)")
            return [self.import_rootfs(source, ref)]
        return archive.load(self, source, ref=ref)

    def image_load(self, path: str) -> builtins.list[ImageInfo]:
        from runtime.images import archive

        return archive.load(self, Path(path))

    def image_save(self, refs: Sequence[str], dest: str, *,
                   format: ImageArchiveFormat = "docker") -> None:
        from runtime.images import archive

        archive.save(self, refs, Path(dest), format=format)

    def image_history(self, ref: str) -> builtins.list[ImageHistoryEntry]:
        """Newest first; each non-empty history step is matched to its layer."""
        record = self.lookup(ref)
        parsed = parse_config(record.config_json.encode())
        layers = iter(record.layers)
        out = []
        history = parsed.history or tuple({"created_by": ""} for _ in record.layers)
        for step in history:
            layer = None if step.get("empty_layer") else next(layers, None)
            out.append(ImageHistoryEntry(
                created=parse_time(step.get("created")), created_by=str(step.get("created_by", "")),
                size=layer.size if layer else 0, comment=str(step.get("comment", "")),
                layer=layer.diff_id if layer else ""))
        return out[::-1]

    def image_prune(self, *, all: bool = False,
                    in_use: Set[str] = frozenset()) -> builtins.list[str]:
        """Remove images without tags (every image not ``in_use`` with ``all``)."""
        removed = []
        for record in self.records.all():
            if record.id in in_use or (record.tags and not all):
                continue
            self._delete(record)
            removed.append(record.id)
        self._collect_garbage()
        self.blobs.clear_ingest()
        self.layers.clean_temp()
        return removed

    # --- registries --------------------------------------------------------------------

    def registry_client(self, registry: str) -> RegistryClient:
        """A client for ``registry`` with its credentials, TLS trust and insecure setting.

        A per-registry CA is read from ``<state root>/certs.d/<host>/ca.crt`` (Docker's
        layout), else ``$SSL_CERT_FILE``, else the system store.
        """
        from runtime.images import auth
        from runtime.images.registry import RegistryClient

        ca = self.config.state_root / "certs.d" / registry / "ca.crt"
        return RegistryClient(registry, creds=auth.lookup(registry),
                              insecure=registry in self.config.insecure_registries,
                              ca_file=ca if ca.is_file() else None)

    def image_login(self, registry: str, *, username: str, password: str) -> str:
        """Check the credentials against ``registry`` and store them; returns the file used."""
        from runtime.images import auth

        auth.validate_login(username, password)
        registry = _registry_name(registry)
        creds = auth.Credentials(username=username, password=password)
        client = self.registry_client(registry)
        client.auth.creds = creds
        with client:
            client.ping()
        return str(auth.store(registry, creds))

    def image_logout(self, registry: str) -> bool:
        """Forget stored credentials for ``registry``; False when there were none."""
        from runtime.images import auth

        return auth.remove(_registry_name(registry))

    # --- storing images ------------------------------------------------------------

    def store_image(self, *, manifest: bytes, media_type: str, tags: tuple[str, ...] = (),
                    digests: tuple[str, ...] = (), action: str, name: str,
                    unpack: bool = True) -> ImageInfo:
        """Record an image whose manifest, config and layer blobs are all in the store.

        Unpacks the layers first (unless ``unpack`` is False: then ``layer_dirs``
        unpacks them on first use), so a recorded image is ready to run.
        """
        manifest_digest = self.blobs.put(manifest)
        parsed_manifest = parse_manifest(manifest, media_type)
        config_bytes = self.blobs.read(parsed_manifest.config.digest)
        parsed = parse_config(config_bytes)
        if len(parsed.diff_ids) != len(parsed_manifest.layers):
            raise InvalidArgument(f'image "{name}": manifest has {len(parsed_manifest.layers)} '
                                  f"layers but its config names {len(parsed.diff_ids)}")
        layers = tuple(
            LayerRecord(digest=d.digest, media_type=d.media_type, size=d.size,
                        diff_id=diff_id, chain_id=chain)
            for d, diff_id, chain in zip(parsed_manifest.layers, parsed.diff_ids,
                                         chain_ids(parsed.diff_ids), strict=True))
        for layer in layers if unpack else ():
            self.ensure_layer(layer)
        record = ImageRecord(
            id=parsed_manifest.config.digest, manifest_digest=manifest_digest,
            manifest_media_type=media_type, config_json=config_bytes.decode(),
            layers=layers, size=sum(x.size for x in layers), added=time.time())
        moved = self.records.save(record, tags=tags, digests=digests)
        for tag, previous in moved:
            self.events.emit("image", "untag", previous, {"name": tag})
        # Images that lost their last tag here stay, dangling (Docker's <none>): `prune`.
        self.events.emit("image", action, record.id, {"name": name})
        return self.get(record.id)

    def import_rootfs(self, tar_path: Path, ref: str, *,
                      config: ImageConfig | None = None) -> ImageInfo:
        """Make a one-layer image from a rootfs tarball (plain, gzip or zstd), like
        ``docker import``; tags it ``ref``."""
        target = parse_reference(ref)
        try:
            with open(tar_path, "rb") as f:
                layer = store_layer(self.blobs, f, what=f'rootfs tarball "{tar_path}"')
        except FileNotFoundError as exc:
            raise NotFound(f'rootfs tarball "{tar_path}" not found') from exc
        plat = host_platform()
        now = time.time()
        config_bytes = build_config(
            config=config or ImageConfig(), diff_ids=[layer.diff_id],
            architecture=plat.architecture, os_name=plat.os, created=now,
            history=[{"created": format_time(now),
                      "created_by": f"stack image import {tar_path.name}"}])
        config_digest = self.blobs.put(config_bytes)
        manifest = build_manifest(
            config=Descriptor(media_type=OCI_CONFIG, digest=config_digest,
                              size=len(config_bytes)),
            layers=[Descriptor(media_type=layer.media_type, digest=layer.digest,
                               size=layer.size)])
        return self.store_image(manifest=manifest, media_type=OCI_MANIFEST,
                                tags=_tags(target), action="import", name=target.tagged())


def _registry_name(text: str) -> str:
    """"https://host:5000/" or "host:5000" -> "host:5000"; Docker Hub names -> "docker.io"."""
    host = text.strip().removeprefix("https://").removeprefix("http://").split("/")[0]
    if host in ("", "docker.io", "index.docker.io", "registry-1.docker.io"):
        return DEFAULT_REGISTRY
    return host


def _tags(ref: Reference) -> tuple[str, ...]:
    return () if ref.digest and not ref.tag else (ref.tagged(),)


if TYPE_CHECKING:
    from runtime.parts import ImageStore

    def _is_an_image_store(service: ImageService) -> ImageStore:
        """Checked by mypy: the container part may use an ImageService as its ImageStore."""
        return service
