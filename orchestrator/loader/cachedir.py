"""The loader's on-disk caches: where they live and how they stay bounded.

The caches (validation results in ``valid/``, loaded projects in
``projects/``, and the orchestrator's memo of empty plans in ``plans/``) live under ``$XDG_CACHE_HOME/stack`` (default ~/.cache/stack).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def cache_dir(name: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stack" / name


def prune(directory: Path, *, limit: int) -> None:
    """Past ``limit`` entries, drop the least recently used half."""
    entries = list(os.scandir(directory))
    if len(entries) <= limit:
        return
    entries.sort(key=lambda e: e.stat().st_mtime)
    for entry in entries[: len(entries) - limit // 2]:
        with contextlib.suppress(OSError):
            os.unlink(entry.path)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` so that a reader sees the old content or the new, never a part."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
