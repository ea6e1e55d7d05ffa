"""Import and export: ``docker save`` archives, OCI image layouts and OCI archives.

    load  (auto-detected)   docker save tar (manifest.json), OCI archive (oci-layout +
                            index.json), an OCI layout directory; tar may be gzip/zstd
    save  format "docker"   manifest.json + <config hex>.json + <diff hex>/layer.tar
          format "oci"      oci-layout + index.json + blobs/sha256/* (tags as annotations)

Every blob read from an archive goes through the verified blob store; OCI
blobs keep their digests, so an image keeps its id and manifest digest across
save and load. Archive member names are looked up, never extracted to disk.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from runtime.api import ImageInfo
from runtime.errors import Failed, InvalidArgument, NotFound
from runtime.images.compress import store_layer
from runtime.images.imageconfig import parse_config
from runtime.images.manifest import (
    INDEX_TYPES,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    build_manifest,
    detect_media_type,
    host_platform,
    parse_index,
    parse_manifest,
    select_platform,
)
from runtime.images.reference import parse_reference
from runtime.images.unpack import decompressed

if TYPE_CHECKING:
    from runtime.images.records import ImageRecord
    from runtime.images.service import ImageService

log = logging.getLogger(__name__)

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


@dataclass(frozen=True, slots=True)
class _Source:
    """Named files of an archive or a layout directory, opened on demand."""

    names: frozenset[str]
    opener: Callable[[str], AbstractContextManager[IO[bytes]]]

    def has(self, name: str) -> bool:
        return name in self.names

    def read(self, name: str) -> bytes:
        with self.opener(name) as f:
            return f.read()


def _norm(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def _open_source(path: Path, stack: ExitStack) -> _Source:
    if path.is_dir():
        root = path.resolve()
        names = frozenset(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

        def open_dir(name: str) -> AbstractContextManager[IO[bytes]]:
            target = (root / name).resolve()
            if root not in target.parents or not target.is_file():
                raise InvalidArgument(f'OCI layout "{path}": bad blob path "{name}"')
            return open(target, "rb")

        return _Source(names, open_dir)
    spool = None
    with open(path, "rb") as raw:
        head = raw.read(4)
    if head[:2] == b"\x1f\x8b" or head == b"\x28\xb5\x2f\xfd":
        # Compressed archives are unpacked to a seekable temp file once.
        spool = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 (stack closes)
        with open(path, "rb") as raw:
            shutil.copyfileobj(decompressed(raw), spool)
        spool.seek(0)
    try:
        if spool is not None:
            tar = stack.enter_context(tarfile.open(fileobj=spool, mode="r:"))  # noqa: SIM115
        else:
            tar = stack.enter_context(tarfile.open(path, "r:"))  # noqa: SIM115
    except tarfile.TarError as exc:
        raise InvalidArgument(f'"{path}" is not a tar archive: {exc}') from exc
    members = {_norm(m.name): m for m in tar.getmembers() if m.isfile()}

    def open_member(name: str) -> AbstractContextManager[IO[bytes]]:
        member = members.get(name)
        f = tar.extractfile(member) if member is not None else None
        if f is None:
            raise InvalidArgument(f'archive "{path}": missing entry "{name}"')
        return nullcontext(f)

    return _Source(frozenset(members), open_member)


def detect(path: Path) -> str:
    """"docker", "oci" or "rootfs" for the archive or directory at ``path``."""
    if not path.exists():
        raise NotFound(f'archive "{path}" not found')
    with ExitStack() as stack:
        try:
            src = _open_source(path, stack)
        except InvalidArgument:
            return "rootfs"  # not a plain tar: let the rootfs importer judge it
        if src.has("manifest.json"):
            return "docker"
        if src.has("oci-layout") and src.has("index.json"):
            return "oci"
        return "rootfs"


def load(service: ImageService, path: Path, *, ref: str | None = None) -> list[ImageInfo]:
    with ExitStack() as stack:
        src = _open_source(path, stack)
        if src.has("manifest.json"):
            return _load_docker(service, src, path, ref)
        if src.has("oci-layout") and src.has("index.json"):
            return _load_oci(service, src, path, ref)
        raise InvalidArgument(f'"{path}" is neither a docker save archive nor an OCI layout')


def _json(src: _Source, name: str, path: Path) -> Any:
    try:
        return json.loads(src.read(name))
    except ValueError as exc:
        raise InvalidArgument(f'archive "{path}": {name} is not valid JSON') from exc


def _load_docker(service: ImageService, src: _Source, path: Path,
                 ref: str | None) -> list[ImageInfo]:
    entries = _json(src, "manifest.json", path)
    if not isinstance(entries, list) or not entries:
        raise InvalidArgument(f'archive "{path}": manifest.json lists no images')
    out = []
    for entry in entries:
        config_bytes = src.read(_norm(entry["Config"]))
        config_digest = service.blobs.put(config_bytes)
        parsed = parse_config(config_bytes)
        layers = []
        for layer_name in entry.get("Layers") or []:
            with src.opener(_norm(layer_name)) as f:
                layers.append(store_layer(service.blobs, f, what=f'archive "{path}": {layer_name}'))
        if [x.diff_id for x in layers] != list(parsed.diff_ids):
            raise Failed(f'archive "{path}": layers do not match the image config diff ids')
        manifest = build_manifest(
            config=Descriptor(media_type=OCI_CONFIG, digest=config_digest,
                              size=len(config_bytes)),
            layers=[Descriptor(media_type=x.media_type, digest=x.digest, size=x.size)
                    for x in layers])
        tags = [parse_reference(t).tagged() for t in entry.get("RepoTags") or []]
        if ref is not None and len(entries) == 1:
            tags = [parse_reference(ref).tagged()]
        out.append(service.store_image(manifest=manifest, media_type=OCI_MANIFEST,
                                       tags=tuple(tags), action="load",
                                       name=tags[0] if tags else config_digest))
    return out


def _blob_name(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"blobs/{algo}/{hexpart}"


def _copy_blob(service: ImageService, src: _Source, desc: Descriptor) -> None:
    if service.blobs.has(desc.digest):
        return
    with src.opener(_blob_name(desc.digest)) as f:
        service.blobs.put_file(f, expected=desc.digest, size=desc.size or None)


def _tag_for(desc: Descriptor, ref: str | None, single: bool) -> tuple[str, ...]:
    if ref is not None and single:
        return (parse_reference(ref).tagged(),)
    annotations = dict(desc.annotations)
    name = annotations.get(CONTAINERD_NAME) or annotations.get(REF_NAME, "")
    if not name or ("/" not in name and ":" not in name):
        return ()  # a bare tag without a repository name: stays untagged
    try:
        return (parse_reference(name).tagged(),)
    except InvalidArgument:
        return ()


def _load_oci(service: ImageService, src: _Source, path: Path,
              ref: str | None) -> list[ImageInfo]:
    index = parse_index(src.read("index.json"), OCI_INDEX)
    if not index.manifests:
        raise InvalidArgument(f'OCI layout "{path}": index.json lists no images')
    out: dict[str, ImageInfo] = {}
    for entry in index.manifests:
        tags = _tag_for(entry, ref, len(index.manifests) == 1)
        desc = entry
        data = src.read(_blob_name(desc.digest))
        media_type = detect_media_type(data, desc.media_type)
        while media_type in INDEX_TYPES:
            service.blobs.put(data, expected=desc.digest)
            desc = select_platform(parse_index(data, media_type), host_platform(),
                                   what=f'OCI layout "{path}"')
            data = src.read(_blob_name(desc.digest))
            media_type = detect_media_type(data, desc.media_type)
        service.blobs.put(data, expected=desc.digest)
        manifest = parse_manifest(data, media_type)
        for blob in (manifest.config, *manifest.layers):
            _copy_blob(service, src, blob)
        info = service.store_image(manifest=data, media_type=media_type, tags=tags,
                                   action="load", name=tags[0] if tags else desc.digest)
        out[info.id] = info  # one entry per tag in the index: report each image once
    return list(out.values())


# --- save --------------------------------------------------------------------------------


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, name: str, f: IO[bytes], size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    tar.addfile(info, f)


def save(service: ImageService, refs: Sequence[str], dest: Path, *, format: str) -> None:
    if format not in ("docker", "oci"):
        raise InvalidArgument(f'unknown archive format "{format}" (use docker or oci)')
    if not refs:
        raise InvalidArgument("save needs at least one image")
    chosen: list[tuple[ImageRecord, list[str]]] = []
    for ref in refs:
        record = service.lookup(ref)
        names = [t for t in record.tags if t == _maybe_tag(ref)] or list(record.tags)
        for seen, seen_names in chosen:
            if seen.id == record.id:
                seen_names.extend(n for n in names if n not in seen_names)
                break
        else:
            chosen.append((record, names))
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            if format == "oci":
                _save_oci(service, tar, chosen)
            else:
                _save_docker(service, tar, chosen)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _maybe_tag(ref: str) -> str | None:
    try:
        parsed = parse_reference(ref)
    except InvalidArgument:
        return None
    return parsed.tagged() if not parsed.digest else None


def _familiar(name: str) -> str:
    return parse_reference(name).familiar()


def _save_docker(service: ImageService, tar: tarfile.TarFile,
                 chosen: list[tuple[ImageRecord, list[str]]]) -> None:
    entries = []
    written: set[str] = set()
    for record, names in chosen:
        config_name = f"{record.id.removeprefix('sha256:')}.json"
        if config_name not in written:
            _add_bytes(tar, config_name, record.config_json.encode())
            written.add(config_name)
        layer_names = []
        for layer in record.layers:
            name = f"{layer.diff_id.removeprefix('sha256:')}/layer.tar"
            if name not in written:
                with tempfile.TemporaryFile() as plain, service.blobs.open(layer.digest) as blob:
                    shutil.copyfileobj(decompressed(blob), plain)
                    size = plain.tell()
                    plain.seek(0)
                    _add_file(tar, name, plain, size)
                written.add(name)
            layer_names.append(name)
        entries.append({"Config": config_name, "RepoTags": [_familiar(n) for n in names],
                        "Layers": layer_names})
    _add_bytes(tar, "manifest.json", json.dumps(entries).encode())


def _save_oci(service: ImageService, tar: tarfile.TarFile,
              chosen: list[tuple[ImageRecord, list[str]]]) -> None:
    written: set[str] = set()
    manifests = []
    for record, names in chosen:
        manifest = service.blobs.read(record.manifest_digest)
        digests = [record.manifest_digest, record.id, *(x.digest for x in record.layers)]
        for digest in digests:
            if digest in written:
                continue
            with service.blobs.open(digest) as f:
                _add_file(tar, _blob_name(digest), f, service.blobs.size(digest))
            written.add(digest)
        base = {"mediaType": record.manifest_media_type, "digest": record.manifest_digest,
                "size": len(manifest)}
        plat = parse_config(record.config_json.encode())
        base["platform"] = {"architecture": plat.architecture, "os": plat.os}
        for name in names or [""]:
            entry = dict(base)
            if name:
                entry["annotations"] = {CONTAINERD_NAME: name,
                                        REF_NAME: parse_reference(name).tag or "latest"}
            manifests.append(entry)
    _add_bytes(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
    _add_bytes(tar, "index.json", json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                              "manifests": manifests}).encode())
