"""RUN steps in real containers, through the container part.

The container part starts containers from images it finds in an
``ImageStore`` (``runtime.parts``). A build step's file system is not an image
in the store yet, so ``ContainerStepRunner`` gives its own ``ContainerService``
an ImageStore that serves the step's layer stack as a transient image and
hands everything else to the real store. The container's upper dir (its
changes) becomes the step's layer; the container is removed whatever happens.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from runtime.api import (
    ContainerConfig,
    ContainerState,
    ImageConfig,
    ImageInfo,
    Mount,
    ProgressFn,
)
from runtime.config import EngineConfig
from runtime.errors import EngineError, NotFound
from runtime.events import EventLog
from runtime.images.build.layer import write_diff
from runtime.images.build.rootview import RootView
from runtime.metadata import Metadata
from runtime.parts import ImageStore, NetworkDriver, VolumeStore

log = logging.getLogger(__name__)

LABEL_BUILD = "io.stack.build"
STALE_AFTER = 60.0  # seconds
# Mount points runc makes in the root file system when they are missing; they
# are not the step's changes.
RUNC_TARGETS = ("proc", "sys", "dev", "etc/hosts", "etc/hostname", "etc/resolv.conf")

OutputFn = Callable[[str, str], None]  # (stream, line)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStep:
    name: str  # container name
    argv: tuple[str, ...]
    env: Mapping[str, str]
    user: str
    workdir: str
    layers: tuple[Path, ...]  # unpacked layer dirs, lowest first
    network: str  # "host", "none" or "bridge"
    mounts: tuple[Mount, ...] = ()


class StepRunner(Protocol):
    def run(self, step: RunStep, *, output: OutputFn, layer_out: IO[bytes]) -> int:
        """Run ``step``; on exit code 0 write its changes as a layer tar into ``layer_out``.

        Returns the exit code. Leaves no container, mount or temp dir behind.
        """
        ...


class _StepImages:
    """An ImageStore that also serves transient step images (id -> layers)."""

    def __init__(self, store: ImageStore) -> None:
        self.store = store
        self._steps: dict[str, tuple[ImageInfo, list[Path]]] = {}
        self._lock = threading.Lock()

    def register(self, layers: Sequence[Path]) -> str:
        image_id = "sha256:" + secrets.token_hex(32)
        info = ImageInfo(id=image_id, repo_tags=(), repo_digests=(), created=time.time(),
                         size=0, architecture="", os="linux", config=ImageConfig(),
                         layers=())
        with self._lock:
            self._steps[image_id] = (info, list(layers))
        return image_id

    def unregister(self, image_id: str) -> None:
        with self._lock:
            self._steps.pop(image_id, None)

    def get(self, ref: str) -> ImageInfo:
        with self._lock:
            step = self._steps.get(ref)
        return step[0] if step is not None else self.store.get(ref)

    def pull(self, ref: str, *, progress: ProgressFn | None = None) -> ImageInfo:
        return self.store.pull(ref, progress=progress)

    def layer_dirs(self, image_id: str) -> builtins.list[Path]:
        with self._lock:
            step = self._steps.get(image_id)
        return list(step[1]) if step is not None else self.store.layer_dirs(image_id)

    def list(self) -> builtins.list[ImageInfo]:
        return self.store.list()


def runc_made(upper: Path, view: RootView, targets: Sequence[str]) -> set[str]:
    """Paths in ``upper`` that runc created as mount points (absent from the image, empty)."""
    skip: set[str] = set()
    for target in targets:
        path = upper / target
        try:
            st = path.lstat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        if view.exists("/" + target):
            continue
        empty = (st.st_size == 0 if stat.S_ISREG(st.st_mode)
                 else stat.S_ISDIR(st.st_mode) and not any(path.iterdir()))
        if not empty:
            continue
        skip.add(target)
        parts = target.split("/")
        for i in range(len(parts) - 1, 0, -1):
            # A parent made (or copied up unchanged) only to hold mount points goes too.
            parent = "/".join(parts[:i])
            children = {f"{parent}/{c.name}" for c in os.scandir(upper / parent)}
            if not children <= skip:
                break
            lower = view.lookup("/" + parent)
            if lower is not None:
                mine, theirs = (upper / parent).lstat(), lower[1]
                if (mine.st_mode, mine.st_uid, mine.st_gid) != \
                        (theirs.st_mode, theirs.st_uid, theirs.st_gid):
                    break
            skip.add(parent)
    return skip


class ContainerStepRunner:
    def __init__(self, config: EngineConfig, metadata: Metadata, events: EventLog, *,
                 images: ImageStore, volumes: VolumeStore, networks: NetworkDriver) -> None:
        from runtime.containers.service import ContainerService

        self.images = _StepImages(images)
        self.containers = ContainerService(config, metadata, events, images=self.images,
                                           volumes=volumes, networks=networks)

    def sweep(self) -> None:
        """Remove build containers a killed builder left behind (exited over a minute ago:
        a live build removes its own within moments of their exit)."""
        cutoff = time.time() - STALE_AFTER
        for info in self.containers.container_list(all=True, labels={LABEL_BUILD: ""}):
            if info.state in (ContainerState.EXITED, ContainerState.DEAD) \
                    and (info.finished_at or 0) < cutoff:
                log.info("removing stale build container %s", info.name)
                with contextlib.suppress(EngineError):
                    self.containers.container_remove(info.id, force=True)

    def run(self, step: RunStep, *, output: OutputFn, layer_out: IO[bytes]) -> int:
        from runtime.containers.rootfs import Rootfs

        self.sweep()
        image_id = self.images.register(step.layers)
        cid = ""
        try:
            info = self.containers.container_create(ContainerConfig(
                name=step.name, image=image_id, command=step.argv, env=dict(step.env),
                user=step.user or None, working_dir=step.workdir, network_mode=step.network,
                mounts=step.mounts, labels={LABEL_BUILD: "run"}))
            cid = info.id
            self.containers.container_start(cid)
            for entry in self.containers.container_logs(cid, follow=True):
                output(entry.stream, entry.data.decode(errors="replace"))
            code = self.containers.container_wait(cid)
            if code == 0:
                upper = Rootfs(self.containers.bundle_dir(cid)).upper
                targets = [*RUNC_TARGETS, *(m.target.strip("/") for m in step.mounts)]
                skip = runc_made(upper, RootView(step.layers), targets)
                write_diff(upper, layer_out, skip=skip)
            return code
        finally:
            if cid:
                try:
                    self.containers.container_remove(cid, force=True)
                except EngineError as exc:
                    log.warning("build container %s: removal failed: %s", cid[:12], exc)
                    with contextlib.suppress(NotFound):
                        self.containers.container_remove(cid, force=True)
            self.images.unregister(image_id)
