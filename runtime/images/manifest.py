"""OCI and Docker schema2 manifests, indexes and manifest lists; platform selection.

Pure: parses JSON bytes into frozen descriptors and picks a platform; no I/O.
"""

from __future__ import annotations

import json
import platform as _platform
from dataclasses import dataclass
from typing import Any

from runtime.errors import Failed, NotFound

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))

# Layer media types we can unpack, and the compression each implies.
LAYER_COMPRESSION = {
    OCI_LAYER: "none",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "none",
    OCI_LAYER_GZIP: "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_FOREIGN_LAYER: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    "application/vnd.docker.image.rootfs.diff.tar.zstd": "zstd",
    "application/vnd.docker.image.rootfs.diff.tar": "none",
}

_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
            "armv7l": "arm", "armv6l": "arm", "i686": "386", "i386": "386",
            "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def host_platform() -> Platform:
    machine = _platform.machine()
    arch = _GO_ARCH.get(machine, machine)
    variant = {"armv7l": "v7", "armv6l": "v6", "aarch64": "v8", "arm64": "v8"}.get(machine, "")
    return Platform(os="linux", architecture=arch, variant=variant)


def parse_platform(text: str) -> Platform:
    parts = text.split("/")
    return Platform(os=parts[0], architecture=parts[1] if len(parts) > 1 else "amd64",
                    variant=parts[2] if len(parts) > 2 else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: tuple[tuple[str, str], ...] = ()
    urls: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                               "size": self.size}
        if self.platform is not None:
            out["platform"] = {"architecture": self.platform.architecture,
                               "os": self.platform.os}
            if self.platform.variant:
                out["platform"]["variant"] = self.platform.variant
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Index:
    media_type: str
    manifests: tuple[Descriptor, ...]


def _descriptor(raw: Any, what: str) -> Descriptor:
    if not isinstance(raw, dict) or not isinstance(raw.get("digest"), str):
        raise Failed(f"{what}: malformed descriptor")
    plat = raw.get("platform")
    return Descriptor(
        media_type=str(raw.get("mediaType", "")),
        digest=raw["digest"],
        size=int(raw.get("size", 0)),
        platform=Platform(os=str(plat.get("os", "")),
                          architecture=str(plat.get("architecture", "")),
                          variant=str(plat.get("variant", ""))) if isinstance(plat, dict) else None,
        annotations=tuple(sorted((raw.get("annotations") or {}).items())),
        urls=tuple(raw.get("urls") or ()),
    )


def detect_media_type(data: bytes, header: str = "") -> str:
    """The media type of a manifest document: its own field, else the HTTP header, else by shape."""
    doc = _load(data, "manifest")
    mt = doc.get("mediaType") or header.split(";")[0].strip()
    if mt in MANIFEST_TYPES or mt in INDEX_TYPES:
        return str(mt)
    if "manifests" in doc:
        return OCI_INDEX
    if "config" in doc and "layers" in doc:
        return OCI_MANIFEST
    if doc.get("schemaVersion") == 1:
        raise Failed("manifest: Docker schema 1 manifests are not supported (deprecated format)")
    raise Failed(f'manifest: unsupported media type "{mt}"')


def _load(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise Failed(f"{what}: not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise Failed(f"{what}: not a JSON object")
    return doc


def parse_manifest(data: bytes, media_type: str = "") -> Manifest:
    doc = _load(data, "manifest")
    mt = media_type or str(doc.get("mediaType", OCI_MANIFEST))
    layers = tuple(_descriptor(x, "manifest layer") for x in doc.get("layers") or ())
    for layer in layers:
        if layer.media_type not in LAYER_COMPRESSION:
            raise Failed(f'layer {layer.digest}: unsupported media type "{layer.media_type}"')
    return Manifest(media_type=mt, config=_descriptor(doc.get("config"), "manifest config"),
                    layers=layers)


def parse_index(data: bytes, media_type: str = "") -> Index:
    doc = _load(data, "index")
    mt = media_type or str(doc.get("mediaType", OCI_INDEX))
    return Index(media_type=mt,
                 manifests=tuple(_descriptor(x, "index entry") for x in doc.get("manifests") or ()))


def select_platform(index: Index, want: Platform, *, what: str) -> Descriptor:
    """The entry for ``want``: exact variant first, then any variant of the arch."""
    candidates = [d for d in index.manifests
                  if d.platform is not None and d.platform.os == want.os
                  and d.platform.architecture == want.architecture
                  and d.media_type not in INDEX_TYPES]
    exact = [d for d in candidates if d.platform and (d.platform.variant or "") == want.variant]
    pick = exact or candidates
    if not pick:
        # Single-entry indexes without platforms (common for OCI layouts made by tools).
        untagged = [d for d in index.manifests if d.platform is None]
        if len(index.manifests) == 1 and untagged:
            return untagged[0]
        have = ", ".join(sorted({str(d.platform) for d in index.manifests if d.platform}))
        raise NotFound(f'{what}: no image for platform {want} (available: {have or "none"})')
    return pick[0]


def build_manifest(*, config: Descriptor, layers: list[Descriptor],
                   media_type: str = OCI_MANIFEST) -> bytes:
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type,
                           "config": config.to_json(),
                           "layers": [x.to_json() for x in layers]}
    return json.dumps(doc, separators=(",", ":")).encode()
