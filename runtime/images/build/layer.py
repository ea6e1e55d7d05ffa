"""Layer tars made by the builder: from an overlay upper dir (RUN) or from file lists (COPY).

An overlay upper dir marks deletions its own way; OCI layers another. Here
overlay whiteouts (a 0/0 character device) become ``.wh.<name>`` entries and
an opaque directory (xattr ``trusted.overlay.opaque=y``) gets a
``.wh..wh..opq`` entry, the reverse of what ``runtime.images.unpack`` does.
Entries are written sorted with numeric owners and no user names, so the
same tree always makes the same tar (and the same diff id).
"""

from __future__ import annotations

import io
import logging
import os
import stat
import tarfile
from collections.abc import Container
from pathlib import Path
from typing import IO

from runtime.errors import Failed

log = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_OVERLAY_XATTRS = (b"trusted.overlay.", b"user.overlay.")


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: Path) -> bool:
    for name in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _xattrs(path: Path) -> dict[str, str]:
    """Extended attributes worth keeping (security.capability, user.*), as PAX records."""
    out: dict[str, str] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in names:
        if name.encode().startswith(_OVERLAY_XATTRS) or name.startswith("trusted."):
            continue
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        out["SCHILY.xattr." + name] = value.decode("latin-1")
    return out


class LayerWriter:
    """Writes OCI layer entries into a tar stream, deterministic and with numeric owners."""

    def __init__(self, out: IO[bytes]) -> None:
        self.tar = tarfile.open(fileobj=out, mode="w|",  # noqa: SIM115 (closed in close())
                                format=tarfile.PAX_FORMAT)
        self._links: dict[tuple[int, int], str] = {}
        self.names: set[str] = set()

    def close(self) -> None:
        self.tar.close()

    def _info(self, name: str, *, mode: int, uid: int, gid: int, mtime: float) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.mode = stat.S_IMODE(mode)
        info.uid, info.gid = uid, gid
        info.uname = info.gname = ""
        info.mtime = int(mtime)
        return info

    def directory(self, name: str, *, mode: int = 0o755, uid: int = 0, gid: int = 0,
                  mtime: float = 0) -> None:
        info = self._info(name.rstrip("/") + "/", mode=mode, uid=uid, gid=gid, mtime=mtime)
        info.type = tarfile.DIRTYPE
        self.tar.addfile(info)
        self.names.add(name.rstrip("/"))

    def data(self, name: str, content: bytes, *, mode: int = 0o644, uid: int = 0, gid: int = 0,
             mtime: float = 0) -> None:
        info = self._info(name, mode=mode, uid=uid, gid=gid, mtime=mtime)
        info.size = len(content)
        self.tar.addfile(info, io.BytesIO(content))
        self.names.add(name)

    def whiteout(self, name: str) -> None:
        parent, _, leaf = name.rpartition("/")
        self.data(f"{parent}/{WHITEOUT_PREFIX}{leaf}" if parent else WHITEOUT_PREFIX + leaf, b"",
                  mode=0o600)

    def opaque(self, directory: str) -> None:
        self.data(f"{directory}/{OPAQUE_MARKER}", b"", mode=0o600)

    def path(self, name: str, host: Path, *, st: os.stat_result | None = None,
             uid: int | None = None, gid: int | None = None, mode: int | None = None,
             xattrs: bool = True) -> None:
        """One file system object (not recursive); owner and mode overridable (COPY --chown)."""
        st = st or host.lstat()
        info = self._info(name, mode=st.st_mode if mode is None else mode,
                          uid=st.st_uid if uid is None else uid,
                          gid=st.st_gid if gid is None else gid, mtime=st.st_mtime)
        if xattrs:
            info.pax_headers = {**info.pax_headers, **_xattrs(host)}
        fileobj = None
        if stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
            info.name = name.rstrip("/") + "/"
        elif stat.S_ISLNK(st.st_mode):
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(host)
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self._links:
                info.type = tarfile.LNKTYPE
                info.linkname = self._links[key]
            else:
                if st.st_nlink > 1:
                    self._links[key] = name
                info.size = st.st_size
                fileobj = open(host, "rb")  # noqa: SIM115 (closed below)
        elif stat.S_ISFIFO(st.st_mode):
            info.type = tarfile.FIFOTYPE
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        else:
            log.debug("layer: skipping %s (socket or unknown type)", host)
            return
        try:
            self.tar.addfile(info, fileobj)
        except OSError as exc:
            raise Failed(f'layer: cannot add "{name}": {exc}') from exc
        finally:
            if fileobj is not None:
                fileobj.close()
        self.names.add(name.rstrip("/"))


def write_diff(upper: Path, out: IO[bytes], *, skip: Container[str] = ()) -> int:
    """Tar an overlay upper dir as an OCI layer; returns the number of entries.

    ``skip`` holds paths (relative, no leading "/") that runc made as mount
    points and that were not in the image: they are not part of the step's
    changes.
    """
    writer = LayerWriter(out)
    count = 0

    def walk(directory: Path, rel: str) -> None:
        nonlocal count
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise Failed(f'layer: cannot read "{directory}": {exc}') from exc
        for entry in entries:
            name = f"{rel}/{entry.name}" if rel else entry.name
            if name in skip:
                continue
            st = entry.stat(follow_symlinks=False)
            host = Path(entry.path)
            if _is_whiteout(st):
                writer.whiteout(name)
                count += 1
                continue
            writer.path(name, host, st=st)
            count += 1
            if stat.S_ISDIR(st.st_mode):
                if _is_opaque(host):
                    writer.opaque(name)
                    count += 1
                walk(host, name)

    try:
        walk(upper, "")
    finally:
        writer.close()
    return count
