"""Image references, parsed and normalised the way Docker does.

    busybox                    -> docker.io/library/busybox:latest
    user/app:1.0               -> docker.io/user/app:1.0
    host:5000/a/b:tag          -> host:5000/a/b:tag
    name@sha256:<64 hex>       -> docker.io/library/name@sha256:...

The first path component is a registry host only when it contains "." or ":"
or is "localhost" (Docker's rule). Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.errors import InvalidArgument

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
# Docker Hub's API lives on another host than its name.
DOCKER_HUB_API = "registry-1.docker.io"

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_SHA256 = re.compile(r"^sha256:[a-f0-9]{64}$")
_HOST = re.compile(r"^(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reference:
    registry: str  # "docker.io", "host:5000"
    repository: str  # "library/busybox", "a/b"
    tag: str | None = None
    digest: str | None = None  # "sha256:..."

    @property
    def name(self) -> str:
        """registry/repository, e.g. "docker.io/library/busybox"."""
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.registry == DEFAULT_REGISTRY else self.registry

    def tagged(self) -> str:
        """"name:tag" (the default tag when the reference has none)."""
        return f"{self.name}:{self.tag or DEFAULT_TAG}"

    def with_digest(self, digest: str) -> str:
        return f"{self.name}@{digest}"

    def familiar(self) -> str:
        """Short form a user would type: "busybox:latest", "host:5000/a/b:tag"."""
        name = self.name
        if self.registry == DEFAULT_REGISTRY:
            name = self.repository.removeprefix("library/")
        if self.digest and not self.tag:
            return f"{name}@{self.digest}"
        return f"{name}:{self.tag or DEFAULT_TAG}"

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def is_digest(value: str) -> bool:
    return bool(_SHA256.match(value))


def parse_reference(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise ``text``; ``InvalidArgument`` names the bad reference.

    With ``default_tag`` a reference with neither tag nor digest gets "latest".
    """
    ref = text.strip()
    if not ref or ref != text or any(c.isspace() for c in ref):
        raise InvalidArgument(f'invalid image reference "{text}": empty or contains whitespace')
    digest: str | None = None
    if "@" in ref:
        ref, _, digest = ref.partition("@")
        if not _DIGEST.match(digest):
            raise InvalidArgument(f'invalid image reference "{text}": bad digest "{digest}"')
        if digest.startswith("sha256:") and not _SHA256.match(digest):
            raise InvalidArgument(
                f'invalid image reference "{text}": sha256 digest must be 64 lowercase hex chars')
    tag: str | None = None
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:  # a ":" after the last "/" starts the tag, not a port
        ref, tag = ref[:colon], ref[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidArgument(f'invalid image reference "{text}": bad tag "{tag}"')
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, path = first, rest
        if not _HOST.match(registry):
            raise InvalidArgument(f'invalid image reference "{text}": bad registry "{registry}"')
    else:
        registry, path = DEFAULT_REGISTRY, ref
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    for component in path.split("/"):
        if not _COMPONENT.match(component):
            raise InvalidArgument(
                f'invalid image reference "{text}": repository name must be lowercase '
                "letters, digits and separators (. _ __ -)")
    if len(path) > 255:
        raise InvalidArgument(f'invalid image reference "{text}": repository name too long')
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(registry=registry, repository=path, tag=tag, digest=digest)
