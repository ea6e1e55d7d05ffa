"""System-wide views and housekeeping: info, version, disk usage, prune.

These are not part of the per-object ``Engine`` API; they are computed over
it (plus the state root on disk), so the same ``LocalSystem`` serves stackd's
``/info``, ``/version``, ``/system/df`` and ``/system/prune`` routes and the
CLI's in-process mode (``STACK_ENGINE=local``). ``SystemApi`` is what the CLI
asks of either.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from runtime import api
from runtime.config import EngineConfig
from runtime.errors import EngineError

log = logging.getLogger(__name__)

API_VERSION = "1"
CgroupMode = Literal["v1", "v2", "hybrid", "none"]


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionInfo:
    version: str
    api_version: str
    python: str
    os: str
    arch: str
    kernel: str
    runc: str  # first line of `runc --version`, "" when missing
    conmon: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemInfo:
    version: VersionInfo
    state_root: str
    run_dir: str
    socket: str
    cgroup_mode: CgroupMode
    containers: int
    containers_running: int
    containers_paused: int
    containers_stopped: int
    images: int
    networks: int
    volumes: int
    address_pool: str
    storage_used: int  # bytes allocated under the state root
    daemon_pid: int  # 0: no daemon (in-process engine)
    uptime: float  # seconds the daemon has run


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageEntry:
    kind: Literal["images", "containers", "volumes"]
    total: int
    active: int  # in use by a (running, for containers) container
    size: int
    reclaimable: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DiskUsage:
    entries: tuple[UsageEntry, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneReport:
    containers: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    space_reclaimed: int = 0


class SystemApi(Protocol):
    def version(self) -> VersionInfo: ...
    def system_info(self) -> SystemInfo: ...
    def system_df(self) -> DiskUsage: ...
    def system_prune(self, *, all: bool = False, volumes: bool = False) -> PruneReport: ...


def package_version() -> str:
    """The installed package's version (runtime never imports orchestrator)."""
    import importlib.metadata  # here: the CLI imports this module on every run

    try:
        return importlib.metadata.version("stack")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _tool_version(program: str) -> str:
    try:
        out = subprocess.run([program, "--version"], capture_output=True, text=True,
                             timeout=5, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.strip().splitlines()[0] if out.strip() else ""


def cgroup_mode(*, mounts: str | None = None) -> CgroupMode:
    """v2 when /sys/fs/cgroup is cgroup2; hybrid when v1 with a unified hierarchy beside it."""
    if mounts is None:
        try:
            mounts = Path("/proc/self/mounts").read_text()
        except OSError:
            return "none"
    points = {}
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            points[parts[1]] = parts[2]
    if points.get("/sys/fs/cgroup") == "cgroup2":
        return "v2"
    if points.get("/sys/fs/cgroup/unified") == "cgroup2":
        return "hybrid"
    if any(fs == "cgroup" for fs in points.values()):
        return "v1"
    return "none"


def disk_size(path: Path) -> int:
    """Bytes allocated under ``path`` (not following symlinks, each inode once)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(path, onerror=lambda _exc: None):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


class Inventory(Protocol):
    """The part of ``runtime.api.Engine`` that system views need."""

    def container_list(self, *, all: bool = False,
                       labels: Mapping[str, str] | None = None) -> list[api.ContainerInfo]: ...
    def image_list(self, *, labels: Mapping[str, str] | None = None) -> list[api.ImageInfo]: ...
    def network_list(self, *, labels: Mapping[str, str] | None = None
                     ) -> list[api.NetworkInfo]: ...
    def volume_list(self, *, labels: Mapping[str, str] | None = None) -> list[api.VolumeInfo]: ...
    def container_remove(self, ref: str, *, force: bool = False,
                         volumes: bool = False) -> None: ...
    def image_remove(self, ref: str, *, force: bool = False) -> list[str]: ...
    def network_remove(self, ref: str) -> None: ...
    def volume_remove(self, name: str, *, force: bool = False) -> None: ...


class LocalSystem:
    """``SystemApi`` over an engine; ``daemon_pid``/``started`` describe the hosting daemon."""

    def __init__(self, engine: Inventory, config: EngineConfig, *, daemon_pid: int = 0,
                 started: float | None = None) -> None:
        self.engine = engine
        self.config = config
        self.daemon_pid = daemon_pid
        self.started = time.time() if started is None else started

    def version(self) -> VersionInfo:
        import platform

        uname = platform.uname()
        return VersionInfo(
            version=package_version(), api_version=API_VERSION, python=sys.version.split()[0],
            os=uname.system.lower(), arch=uname.machine, kernel=uname.release,
            runc=_tool_version(self.config.runtime), conmon=_tool_version(self.config.conmon))

    def system_info(self) -> SystemInfo:
        containers = self.engine.container_list(all=True)
        states = [c.state for c in containers]
        running = sum(s in (api.ContainerState.RUNNING, api.ContainerState.RESTARTING)
                      for s in states)
        paused = sum(s == api.ContainerState.PAUSED for s in states)
        return SystemInfo(
            version=self.version(),
            state_root=str(self.config.state_root), run_dir=str(self.config.run_dir),
            socket=str(self.config.socket_path), cgroup_mode=cgroup_mode(),
            containers=len(containers), containers_running=running, containers_paused=paused,
            containers_stopped=len(containers) - running - paused,
            images=len(self.engine.image_list()), networks=len(self.engine.network_list()),
            volumes=len(self.engine.volume_list()), address_pool=self.config.address_pool,
            storage_used=disk_size(self.config.state_root), daemon_pid=self.daemon_pid,
            uptime=time.time() - self.started if self.daemon_pid else 0.0)

    def system_df(self) -> DiskUsage:
        containers = self.engine.container_list(all=True)
        used_images = {c.image_id for c in containers}
        images = self.engine.image_list()
        image_size = sum(i.size for i in images)
        idle_images = sum(i.size for i in images if i.id not in used_images)

        running = [c for c in containers if c.state in _ACTIVE]
        sizes = {c.id: disk_size(self.config.containers_dir / c.id) for c in containers}
        idle_containers = sum(s for cid, s in sizes.items()
                              if cid not in {c.id for c in running})

        volumes = self.engine.volume_list()
        mounted = _mounted_volumes(containers)
        vsizes = {v.name: disk_size(Path(v.mountpoint)) for v in volumes}
        idle_volumes = sum(s for name, s in vsizes.items() if name not in mounted)
        return DiskUsage(entries=(
            UsageEntry(kind="images", total=len(images),
                       active=sum(i.id in used_images for i in images),
                       size=image_size, reclaimable=idle_images),
            UsageEntry(kind="containers", total=len(containers), active=len(running),
                       size=sum(sizes.values()), reclaimable=idle_containers),
            UsageEntry(kind="volumes", total=len(volumes),
                       active=sum(v.name in mounted for v in volumes),
                       size=sum(vsizes.values()), reclaimable=idle_volumes),
        ))

    def system_prune(self, *, all: bool = False, volumes: bool = False) -> PruneReport:
        """Remove stopped containers, unused networks, dangling (``all``: unused) images and,
        with ``volumes``, unused volumes. Objects that vanish or refuse meanwhile are skipped."""
        before = disk_size(self.config.state_root)
        removed_containers = []
        for c in self.engine.container_list(all=True):
            if c.state in _ACTIVE:
                continue
            if _attempt(f'container "{c.name}"', self.engine.container_remove, c.id):
                removed_containers.append(c.id)
        remaining = self.engine.container_list(all=True)

        removed_networks = []
        for n in self.engine.network_list():
            if n.containers or n.name in _PREDEFINED_NETWORKS:
                continue
            if _attempt(f'network "{n.name}"', self.engine.network_remove, n.id):
                removed_networks.append(n.name)

        used_images = {c.image_id for c in remaining}
        removed_images: list[str] = []
        for i in self.engine.image_list():
            if i.id in used_images or (i.repo_tags and not all):
                continue
            gone = _attempt(f'image "{i.id}"', self.engine.image_remove, i.id)
            if isinstance(gone, list):
                removed_images.extend(gone)

        removed_volumes = []
        if volumes:
            mounted = _mounted_volumes(remaining)
            for v in self.engine.volume_list():
                if v.name in mounted or v.in_use_by:
                    continue
                if _attempt(f'volume "{v.name}"', self.engine.volume_remove, v.name):
                    removed_volumes.append(v.name)
        return PruneReport(containers=tuple(removed_containers), networks=tuple(removed_networks),
                           images=tuple(removed_images), volumes=tuple(removed_volumes),
                           space_reclaimed=max(0, before - disk_size(self.config.state_root)))


_ACTIVE = (api.ContainerState.RUNNING, api.ContainerState.PAUSED, api.ContainerState.RESTARTING)
# Networks the engine makes itself and that prune leaves alone (like Docker's "bridge").
_PREDEFINED_NETWORKS = frozenset({"bridge", "host", "none"})


def _mounted_volumes(containers: list[api.ContainerInfo]) -> set[str]:
    return {m.source for c in containers for m in c.config.mounts
            if m.type == "volume" and m.source}


def _attempt(what: str, action: Callable[[str], object], ref: str) -> object:
    """``action(ref)``, or False when the engine refuses (logged: prune skips, never aborts)."""
    try:
        result = action(ref)
    except EngineError as exc:
        log.info("prune: skipped %s: %s", what, exc.message)
        return False
    return True if result is None else result
