"""A container's own mounts (binds, named and anonymous volumes, tmpfs, files) as runc mounts.

Volumes come from the VolumeStore: a named volume is made on first use, and an
empty volume receives a copy of what the image has at the mount point (Docker's
copy-up) unless ``nocopy``. Anonymous volumes (a volume mount without a source,
and every VOLUME of the image not covered by a mount) get names when the
container is created, written into its config (``name_anonymous``), so a restart
finds the same data and in-use checks see them. A file mount's bytes travel in the
config (a remote client has no path on our host to give); each start writes them
afresh into the bundle's ``files/`` and binds them read-only, as etc files are.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from runtime.api import LABEL_VOLUME, ContainerConfig, Mount, VolumeConfig
from runtime.containers.rootfs import copy_tree
from runtime.containers.spec import OciMount
from runtime.errors import InvalidArgument, NotFound
from runtime.parts import VolumeStore

log = logging.getLogger(__name__)

LABEL_ANONYMOUS = "io.stack.anonymous"
FILES_DIR = "files"  # in the bundle: the content of file mounts, by index in config.mounts
DEFAULT_FILE_MODE = 0o444  # Compose's, for the secrets and configs it copies in


def anonymous_targets(config: ContainerConfig, image_volumes: Sequence[str]) -> list[str]:
    """Targets that need an anonymous volume, in a stable order (pure)."""
    targets = [m.target for m in config.mounts if m.type == "volume" and not m.source]
    covered = {m.target.rstrip("/") for m in config.mounts}
    targets += [v for v in image_volumes if v.rstrip("/") not in covered]
    return targets


def in_rootfs(rootfs: Path, target: str) -> Path | None:
    """``target`` inside ``rootfs`` when no component is a symlink (a symlink could lead
    out of the container onto the host); None otherwise or when missing."""
    path = rootfs
    for part in Path(target).parts[1:]:
        path = path / part
        if path.is_symlink() or not path.exists():
            return None
    return path


def name_anonymous(config: ContainerConfig, anonymous: Sequence[tuple[str, str]]
                   ) -> tuple[Mount, ...]:
    """``config.mounts`` with every anonymous volume named (target -> name from
    ``anonymous``) and the image's uncovered VOLUMEs added, so that the container's
    config says which volumes it uses (in-use checks, inspect)."""
    names = dict(anonymous)
    out = [dataclasses.replace(m, source=names[m.target])
           if m.type == "volume" and not m.source and m.target in names else m
           for m in config.mounts]
    covered = {m.target.rstrip("/") for m in out}
    out += [Mount(type="volume", source=name, target=target)
            for target, name in anonymous if target.rstrip("/") not in covered]
    return tuple(out)


def prepare(*, config: ContainerConfig, rootfs: Path, bundle: Path, volumes: VolumeStore,
            anonymous: Sequence[tuple[str, str]]) -> list[OciMount]:
    """``config.mounts`` (anonymous volumes already named) as runc mounts; ``anonymous``
    lists the container's own (target, volume name) pairs, labelled as such. File
    mounts are written under ``bundle``."""
    out: list[OciMount] = []
    own = {name for _, name in anonymous}
    for i, m in enumerate(config.mounts):
        if not m.target.startswith("/"):
            raise InvalidArgument(f'container "{config.name}": mount target "{m.target}" '
                                  "must be an absolute path")
        if m.type == "bind":
            out.append(_bind(config.name, m))
        elif m.type == "tmpfs":
            out.append(_tmpfs(m))
        elif m.type == "file":
            out.append(_file(config.name, m, bundle / FILES_DIR / str(i)))
        else:
            if not m.source:
                raise InvalidArgument(f'container "{config.name}": volume mount at '
                                      f'"{m.target}" has no volume')
            out.append(_volume(m, rootfs=rootfs, volumes=volumes, anonymous=m.source in own))
    return out


def _bind(container: str, m: Mount) -> OciMount:
    source = Path(m.source)
    if not source.is_absolute():
        raise InvalidArgument(f'container "{container}": bind source "{m.source}" must be an '
                              "absolute path")
    if not source.exists():
        if not m.create_host_path:
            raise NotFound(f'container "{container}": bind source "{m.source}" does not exist')
        source.mkdir(parents=True, exist_ok=True)
    options = ["rbind", m.propagation or "rprivate"]
    if m.read_only:
        options.append("ro")
    return OciMount(destination=m.target, type="bind", source=str(source), options=tuple(options))


def check_file(container: str, m: Mount) -> None:
    """Refuse at create what ``_file`` could not honour at start."""
    mode = DEFAULT_FILE_MODE if m.file_mode is None else m.file_mode
    if not 0 <= mode <= 0o7777:
        raise InvalidArgument(f'container "{container}": file mount at "{m.target}": '
                              f"mode {mode:o} is not a permission mode (0 to 7777, octal)")
    for what, ident in (("uid", m.file_uid), ("gid", m.file_gid)):
        if ident is not None and not 0 <= ident < 2**32:
            raise InvalidArgument(f'container "{container}": file mount at "{m.target}": '
                                  f"{what} {ident} is out of range")


def _file(container: str, m: Mount, path: Path) -> OciMount:
    check_file(container, m)
    # 0700: the bytes are often a secret; only the bind shows them, in the container
    path.parent.mkdir(mode=0o700, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # write-then-rename: a restart replaces the file even if its mode forbids writing
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(m.content)
        if m.file_uid is not None or m.file_gid is not None:  # else ours: root, as Compose
            os.fchown(fd, -1 if m.file_uid is None else m.file_uid,
                      -1 if m.file_gid is None else m.file_gid)
        os.fchmod(fd, DEFAULT_FILE_MODE if m.file_mode is None else m.file_mode)
    os.replace(tmp, path)
    return OciMount(destination=m.target, type="bind", source=str(path),
                    options=("rbind", "rprivate", "ro"))


def _tmpfs(m: Mount) -> OciMount:
    # Docker's defaults for every tmpfs (short and long form alike); "exec" lifts noexec
    options = ["nosuid", "nodev", "exec" if m.tmpfs_exec else "noexec"]
    if m.tmpfs_size is not None:
        options.append(f"size={m.tmpfs_size}")
    if m.tmpfs_mode is not None:
        options.append(f"mode={m.tmpfs_mode:o}")
    if m.read_only:
        options.append("ro")
    return OciMount(destination=m.target, type="tmpfs", source="tmpfs", options=tuple(options))


def _volume(m: Mount, *, rootfs: Path, volumes: VolumeStore, anonymous: bool) -> OciMount:
    name = m.source
    labels = {LABEL_ANONYMOUS: "true", LABEL_VOLUME: m.target} if anonymous else {}
    try:
        volumes.get(name)
    except NotFound:
        volumes.create(VolumeConfig(name=name, labels=labels))
    data = volumes.data_dir(name)
    data.mkdir(parents=True, exist_ok=True)
    if not m.nocopy and not any(os.scandir(data)):
        source = in_rootfs(rootfs, m.target)
        if source is not None and source.is_dir():
            log.debug("copying image content at %s into volume %s", m.target, name)
            copy_tree(source, data)
    options = ["rbind", "rprivate"]
    if m.read_only:
        options.append("ro")
    return OciMount(destination=m.target, type="bind", source=str(data), options=tuple(options))
