"""A container's root file system: an overlay of the image's layers and its own upper dir.

Layout under ``<containers_dir>/<id>/``: ``upper/`` (the container's changes; lives
until the container is removed), ``work/`` (overlayfs scratch), ``merged/`` (the
mount point runc gets as root.path). Mounted at start, unmounted when the
container has exited; ``mount`` and ``unmount`` are idempotent so reconciliation
may call them again after a crash.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from runtime.errors import Failed

log = logging.getLogger(__name__)

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
MS_RDONLY = 1
MNT_DETACH = 2
# The kernel takes at most one page of mount options.
_MAX_OPTIONS = 4000


def is_mounted(path: Path) -> bool:
    """Whether ``path`` is a mount point in our mount namespace (from /proc/self/mountinfo)."""
    target = os.fsencode(os.path.realpath(path))
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            fields = line.split(b" ")
            # Field 5 is the mount point with spaces etc. octal-escaped.
            if len(fields) > 4 and _unescape(fields[4]) == target:
                return True
    return False


def _unescape(field: bytes) -> bytes:
    return field.replace(b"\\040", b" ").replace(b"\\011", b"\t").replace(
        b"\\012", b"\n").replace(b"\\134", b"\\")


class Rootfs:
    def __init__(self, container_dir: Path) -> None:
        self.dir = container_dir
        self.upper = container_dir / "upper"
        self.work = container_dir / "work"
        self.merged = container_dir / "merged"
        self.empty_lower = container_dir / "lower-empty"

    def mount(self, lower_dirs: Sequence[Path]) -> Path:
        """Mount the overlay (``lower_dirs`` lowest first) on ``merged``; return it."""
        for d in (self.upper, self.work, self.merged):
            d.mkdir(parents=True, exist_ok=True)
        if is_mounted(self.merged):
            return self.merged
        lowers = list(lower_dirs)
        if not lowers:  # overlayfs needs at least one lower dir
            self.empty_lower.mkdir(exist_ok=True)
            lowers = [self.empty_lower]
        # overlayfs lists the TOP lower dir first.
        lowerdir = ":".join(str(p).replace(":", "\\:") for p in reversed(lowers))
        options = f"lowerdir={lowerdir},upperdir={self.upper},workdir={self.work}"
        if len(options) > _MAX_OPTIONS:
            raise Failed(f"rootfs {self.merged}: too many image layers ({len(lowers)}) for one "
                         "overlay mount")
        rc = _libc.mount(b"overlay", os.fsencode(self.merged), b"overlay", 0,
                         options.encode())
        if rc != 0:
            err = ctypes.get_errno()
            raise Failed(f"rootfs {self.merged}: overlay mount failed: {os.strerror(err)}")
        log.debug("mounted overlay at %s", self.merged)
        return self.merged

    def unmount(self) -> None:
        """Idempotent. Falls back to a lazy unmount when something still holds it busy."""
        if not self.merged.exists() or not is_mounted(self.merged):
            return
        path = os.fsencode(self.merged)
        if _libc.umount2(path, 0) != 0:
            err = ctypes.get_errno()
            log.warning("rootfs %s busy (%s): detaching lazily", self.merged, os.strerror(err))
            if _libc.umount2(path, MNT_DETACH) != 0:
                err = ctypes.get_errno()
                raise Failed(f"rootfs {self.merged}: unmount failed: {os.strerror(err)}")


def copy_tree(source: Path, destination: Path) -> None:
    """Copy ``source``'s content into ``destination`` keeping owners, modes, links, xattrs
    (a volume's first-use copy-up). ``cp -a`` does exactly this and is everywhere."""
    if not source.is_dir():
        return
    destination.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["cp", "-a", "--", f"{source}/.", f"{destination}/"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise Failed(f"copy of {source} into {destination} failed: {proc.stderr.strip()}")
