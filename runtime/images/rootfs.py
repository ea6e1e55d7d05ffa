"""A tiny busybox root filesystem tarball, made from the host's static busybox.

Tests and the install script import it as ``busybox:latest`` so everything
works offline (Debian package ``busybox-static`` provides /bin/busybox).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.api import ImageConfig, ImageInfo
from runtime.errors import FailedPrecondition
from runtime.images.imageconfig import DEFAULT_PATH

if TYPE_CHECKING:
    from runtime.images.service import ImageService

DEFAULT_BUSYBOX = Path("/bin/busybox")
# A fixed mtime keeps the tarball (and so the image id) reproducible.
MTIME = 946684800  # 2000-01-01

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
GROUP = "root:x:0:\nnobody:x:65534:\n"
# What `docker run busybox` gets: sh by default, the usual PATH.
BUSYBOX_CONFIG = ImageConfig(env=(DEFAULT_PATH,), cmd=("sh",))
DIRS = {"bin": 0o755, "etc": 0o755, "tmp": 0o1777, "proc": 0o555, "sys": 0o555,
        "dev": 0o755, "root": 0o700, "usr": 0o755, "usr/bin": 0o755, "var": 0o755}


def _applets(busybox: Path) -> list[str]:
    try:
        out = subprocess.run([str(busybox), "--list"], capture_output=True, text=True,
                             check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise FailedPrecondition(f'busybox "{busybox}" cannot list its applets: {exc} '
                                 "(install the busybox-static package)") from exc
    return sorted({a.strip() for a in out.split() if a.strip() and "/" not in a})


def make_busybox_rootfs_tar(dest: Path, *, busybox: Path = DEFAULT_BUSYBOX) -> Path:
    """Write a rootfs tar to ``dest``: bin/busybox, a symlink per applet (bin/sh among
    them), etc/passwd and etc/group (root, nobody), empty tmp proc sys dev root."""
    if not busybox.is_file():
        raise FailedPrecondition(f'busybox "{busybox}" not found (install busybox-static)')
    applets = _applets(busybox)
    if "sh" not in applets:
        applets.append("sh")
    tmp = dest.with_name(dest.name + ".part")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, mode in DIRS.items():
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, MTIME
            tar.addfile(info)
        info = tarfile.TarInfo("bin/busybox")
        info.mode, info.mtime, info.size = 0o755, MTIME, busybox.stat().st_size
        with open(busybox, "rb") as f:
            tar.addfile(info, f)
        for applet in applets:
            if applet == "busybox":
                continue
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname, link.mode, link.mtime = tarfile.SYMTYPE, "busybox", 0o777, MTIME
            tar.addfile(link)
        for name, text in (("etc/passwd", PASSWD), ("etc/group", GROUP),
                           ("etc/hostname", "busybox\n")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.mode, info.mtime, info.size = 0o644, MTIME, len(data)
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(dest)
    return dest


def import_busybox_image(service: ImageService, *, ref: str = "busybox:latest",
                         busybox: Path = DEFAULT_BUSYBOX) -> ImageInfo:
    """Make the rootfs tarball in a temp dir and import it as ``ref`` (Cmd ["sh"], PATH).

    The install script uses this; the test fixtures import the same tarball and config.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="stack-busybox-") as tmp:
        tar = make_busybox_rootfs_tar(Path(tmp) / "busybox-rootfs.tar", busybox=busybox)
        return service.import_rootfs(tar, ref, config=BUSYBOX_CONFIG)
