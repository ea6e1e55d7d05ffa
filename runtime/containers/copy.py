"""Paths inside a container, seen from the host (for ``stack container cp``).

A path is looked up in the container's bundle (config.json): the longest bind-mount
destination that contains it wins (volumes, /etc/hosts, ...), else the rootfs.
Symlinks are resolved inside the container's view, never on the host, so a link
to ``/etc/shadow`` in the image cannot reach the host's file.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

from runtime.errors import InvalidArgument, NotFound

MAX_LINKS = 40


def host_path(bundle: Path, path: str) -> Path:
    """The host path for container path ``path`` (the rootfs must be mounted)."""
    config = bundle / "config.json"
    # A container that never ran has no config.json yet: only its rootfs then.
    spec: dict[str, Any] = (json.loads(config.read_text()) if config.exists()
                            else {"root": {"path": str(bundle / "merged")}})
    root = Path(spec["root"]["path"])
    binds = [(m["destination"].rstrip("/") or "/", Path(m["source"]))
             for m in spec.get("mounts", []) if m.get("type") == "bind"]
    if not path.startswith("/"):
        raise InvalidArgument(f'container path "{path}" must be absolute')
    current = "/"
    parts = [p for p in path.split("/") if p]
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = posixpath.dirname(current.rstrip("/")) or "/"
            continue
        if part == ".":
            continue
        candidate = posixpath.join(current, part)
        on_host = _map(candidate, root, binds)
        if on_host.is_symlink():
            links += 1
            if links > MAX_LINKS:
                raise InvalidArgument(f'container path "{path}": too many symlinks')
            target = str(on_host.readlink())
            parts = [p for p in target.split("/") if p] + parts
            current = "/" if target.startswith("/") else current
            continue
        current = candidate
    result = _map(current, root, binds)
    if not result.exists():
        raise NotFound(f'path "{path}" not found in the container')
    return result


def _map(path: str, root: Path, binds: list[tuple[str, Path]]) -> Path:
    best = None
    for dest, source in binds:
        if (path == dest or path.startswith(dest.rstrip("/") + "/")) and (
                best is None or len(dest) > len(best[0])):
            best = (dest, source)
    if best is None:
        return root / path.lstrip("/")
    rest = path[len(best[0]):].lstrip("/")
    return best[1] / rest if rest else best[1]
