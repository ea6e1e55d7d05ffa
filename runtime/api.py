"""The engine API: one typed interface for images, containers, networks and volumes.

The orchestrator talks to the engine only through ``Engine`` (a Protocol) and
the frozen dataclasses below. Two implementations must pass one shared
contract test suite (tests/contract/): the in-process engine
(``runtime.engine.LocalEngine``) and, once the daemon lands, the HTTP client to
``stackd``. Errors are the categories of ``runtime.errors``.

Every object carries labels; a project's objects are found by
``LABEL_PROJECT`` (and ``LABEL_SERVICE`` / ``LABEL_NUMBER`` for containers).
Durations are float seconds; sizes are bytes; times are UNIX float seconds.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from runtime.values import Value

# --- labels -----------------------------------------------------------------

LABEL_PREFIX = "io.stack."
LABEL_PROJECT = "io.stack.project"
LABEL_SERVICE = "io.stack.service"
LABEL_NUMBER = "io.stack.number"
LABEL_CONFIG_HASH = "io.stack.config-hash"
LABEL_ONEOFF = "io.stack.oneoff"
LABEL_NETWORK = "io.stack.network"
LABEL_VOLUME = "io.stack.volume"
LABEL_PROJECT_DIR = "io.stack.project.working-dir"
LABEL_PROJECT_FILES = "io.stack.project.config-files"
LABEL_DEPENDS_ON = "io.stack.depends-on"
LABEL_IMAGE = "io.stack.image"  # the image reference the config asked for
LABEL_VERSION = "io.stack.version"


# frozen, kw_only, slots, as every domain object; eq, hash and repr from Value (values.py)


# --- images -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Healthcheck(Value):
    """``test`` is ("CMD", arg...), ("CMD-SHELL", "cmd") or ("NONE",)."""

    test: tuple[str, ...]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0
    start_interval: float = 5.0


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ImageConfig(Value):
    """The runtime part of an OCI image config."""

    env: tuple[str, ...] = ()  # "KEY=value", as in the image
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    user: str = ""
    working_dir: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    exposed_ports: tuple[str, ...] = ()  # "80/tcp"
    volumes: tuple[str, ...] = ()
    stop_signal: str = ""
    healthcheck: Healthcheck | None = None
    shell: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ImageInfo(Value):
    id: str  # "sha256:<config digest>"
    repo_tags: tuple[str, ...]  # normalised: "docker.io/library/busybox:latest"
    repo_digests: tuple[str, ...]  # "docker.io/library/busybox@sha256:..."
    created: float
    size: int  # sum of compressed layer sizes
    architecture: str
    os: str
    config: ImageConfig
    layers: tuple[str, ...]  # diff ids, lowest first


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class PullProgress(Value):
    """One progress report while pulling or pushing; ``layer`` is a digest or ''."""

    ref: str
    layer: str
    # pull: "waiting" | "downloading" | "verifying" | "extracting" | "done" | "exists"
    # push: "uploading" | "mounted" (cross-repository) | "exists" | "done"
    status: str
    current: int = 0
    total: int = 0


ProgressFn = Callable[[PullProgress], None]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class BuildProgress(Value):
    """One report while building: a step starts, is cached, prints a line, ends or fails."""

    step: int  # 1-based number across the build ("#3"); 0 for build-wide messages
    total: int
    status: Literal["start", "cached", "output", "done", "error", "info"]
    text: str  # "[build 2/4] RUN make", one output line, or a message
    stage: str = ""
    location: str = ""  # "Dockerfile:7"
    duration: float = 0.0


BuildProgressFn = Callable[[BuildProgress], None]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ImageHistoryEntry(Value):
    """One step of an image's history (newest first, like ``docker history``)."""

    created: float
    created_by: str
    size: int  # bytes of the layer this step made; 0 for an empty layer
    comment: str = ""
    layer: str = ""  # diff id, "" for an empty layer


ImageArchiveFormat = Literal["docker", "oci"]


# --- volumes ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class VolumeConfig(Value):
    name: str
    driver: str = "local"
    driver_opts: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class VolumeInfo(Value):
    name: str
    driver: str
    mountpoint: str
    labels: Mapping[str, str]
    created_at: float
    in_use_by: tuple[str, ...] = ()  # container ids


# --- networks ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class IpamPool(Value):
    subnet: str  # "10.89.3.0/24" or "fd00::/64"
    gateway: str | None = None
    ip_range: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class NetworkConfig(Value):
    name: str
    driver: str = "bridge"
    internal: bool = False
    enable_ipv6: bool = False
    ipam: tuple[IpamPool, ...] = ()  # empty: one IPv4 /24 from the engine's pool
    mtu: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class NetworkInfo(Value):
    id: str
    name: str
    driver: str
    bridge: str  # Linux interface name
    internal: bool
    enable_ipv6: bool
    ipam: tuple[IpamPool, ...]  # as allocated (subnet and gateway always set)
    mtu: int | None
    labels: Mapping[str, str]
    created_at: float
    containers: tuple[str, ...] = ()  # attached container ids


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class EndpointConfig(Value):
    """A container's attachment to one network."""

    network: str  # name or id
    aliases: tuple[str, ...] = ()
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    mac_address: str | None = None
    priority: int = 0


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class EndpointInfo(Value):
    network: str  # network name
    network_id: str
    interface: str  # inside the container: eth0, eth1, ...
    ipv4_address: str | None  # "10.89.3.2/24"
    ipv6_address: str | None
    mac_address: str
    gateway: str | None
    aliases: tuple[str, ...]


# --- containers -------------------------------------------------------------


class ContainerState(enum.StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    EXITED = "exited"
    DEAD = "dead"


class HealthStatus(enum.StrEnum):
    NONE = "none"  # no healthcheck
    STARTING = "starting"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


# "file": a file the client sends (``content``), which the engine writes into the
# container's bundle and binds read-only at ``target``: secrets and configs whose
# source is not a file on the daemon's host (Compose's ``environment:``/``content:``).
MountType = Literal["bind", "volume", "tmpfs", "file"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Mount(Value):
    type: MountType
    target: str
    source: str = ""  # host path (bind), volume name (volume; "" = anonymous), unused for tmpfs
    read_only: bool = False
    create_host_path: bool = True  # bind: make the host dir when missing
    propagation: str | None = None  # bind: rprivate, rshared, ...
    nocopy: bool = False  # volume: do not copy image content into a new volume
    tmpfs_size: int | None = None
    tmpfs_mode: int | None = None
    tmpfs_exec: bool = False  # tmpfs: allow running files from it (Docker mounts noexec)
    content: bytes = field(default=b"", repr=False)  # file: the bytes (often a secret)
    file_mode: int | None = None  # file: permission bits; None = 0o444, as Compose
    file_uid: int | None = None  # file: owner; None = 0 (root), as Compose
    file_gid: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class PortBinding(Value):
    container_port: int
    protocol: Literal["tcp", "udp", "sctp"] = "tcp"
    host_ip: str = ""  # "" = all addresses
    host_port: int | None = None  # None = pick a free ephemeral port


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Ulimit(Value):
    name: str  # "nofile", "nproc", ...
    soft: int
    hard: int


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Resources(Value):
    memory: int | None = None  # bytes
    memory_reservation: int | None = None
    memory_swap: int | None = None
    cpus: float | None = None
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None
    pids_limit: int | None = None


RestartName = Literal["no", "always", "on-failure", "unless-stopped"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class RestartPolicy(Value):
    name: RestartName = "no"
    max_attempts: int | None = None  # on-failure:N, deploy.restart_policy.max_attempts
    delay: float | None = None  # first back-off (deploy.restart_policy.delay)
    window: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ContainerConfig(Value):
    """What to create. ``None`` means "the image's value" where the image has one."""

    name: str
    image: str
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # over the image's env
    labels: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    working_dir: str | None = None
    hostname: str | None = None  # default: first 12 chars of the id
    domainname: str | None = None
    tty: bool = False
    stdin_open: bool = False
    init: bool = False
    read_only: bool = False
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    mounts: tuple[Mount, ...] = ()
    shm_size: int | None = None
    sysctls: Mapping[str, str] = field(default_factory=dict)
    ulimits: tuple[Ulimit, ...] = ()
    resources: Resources = field(default_factory=Resources)
    stop_signal: str | None = None
    stop_timeout: float | None = None  # default 10 s
    # "bridge" (attach to ``networks``; the engine's default network when empty),
    # "none", "host", "container:<name-or-id>"
    network_mode: str = "bridge"
    networks: tuple[EndpointConfig, ...] = ()
    ports: tuple[PortBinding, ...] = ()
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    extra_hosts: tuple[tuple[str, str], ...] = ()  # (hostname, ip)
    healthcheck: Healthcheck | None = None  # None: the image's; ("NONE",): disabled
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    auto_remove: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class HealthLogEntry(Value):
    start: float
    end: float
    exit_code: int
    output: str


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ContainerInfo(Value):
    id: str  # 64 hex chars
    name: str
    image: str  # the reference asked for
    image_id: str
    config: ContainerConfig
    state: ContainerState
    pid: int | None
    exit_code: int | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    restart_count: int = 0
    health: HealthStatus = HealthStatus.NONE
    health_log: tuple[HealthLogEntry, ...] = ()
    networks: tuple[EndpointInfo, ...] = ()
    ports: tuple[PortBinding, ...] = ()  # as bound (host_port always set)
    error: str = ""  # why it is dead / failed to start

    @property
    def labels(self) -> Mapping[str, str]:
        return self.config.labels


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class LogEntry(Value):
    stream: Literal["stdout", "stderr"]
    time: float
    data: bytes  # one line, without its newline; ``partial`` when the line goes on
    partial: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ExecResult(Value):
    exit_code: int
    stdout: bytes
    stderr: bytes


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ContainerStats(Value):
    cpu_seconds: float
    memory_usage: int
    memory_limit: int | None
    pids: int


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ProcessInfo(Value):
    pid: int
    user: str
    command: str


# --- events -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Event(Value):
    time: float
    type: Literal["container", "image", "network", "volume"]
    action: str  # create, start, die, stop, destroy, health_status, pull, ...
    id: str
    attributes: Mapping[str, str] = field(default_factory=dict)  # name, labels, exitCode, ...


# --- the engine -------------------------------------------------------------


class Engine(Protocol):
    """Everything the orchestrator may ask of the engine. Thread-safe."""

    # images
    def image_list(self, *, labels: Mapping[str, str] | None = None) -> list[ImageInfo]: ...
    def image_inspect(self, ref: str) -> ImageInfo: ...
    def image_pull(self, ref: str, *, progress: ProgressFn | None = None) -> ImageInfo: ...
    def image_push(self, ref: str, *, progress: ProgressFn | None = None) -> None: ...
    def image_tag(self, source: str, target: str) -> None: ...
    def image_remove(self, ref: str, *, force: bool = False) -> list[str]: ...
    def image_build(self, context: str, *, dockerfile: str | None = None,
                    dockerfile_text: str | None = None,
                    build_args: Mapping[str, str] | None = None, target: str = "",
                    labels: Mapping[str, str] | None = None, tags: Sequence[str] = (),
                    no_cache: bool = False, pull: bool = False, network: str = "host",
                    progress: BuildProgressFn | None = None) -> ImageInfo:
        """Build a Dockerfile (a path, relative to ``context`` or absolute, or inline text)."""
        ...
    def image_import(self, path: str, *, ref: str | None = None) -> list[ImageInfo]:
        """A rootfs tarball (needs ``ref``), a ``docker save`` archive or an OCI layout/archive."""
        ...
    def image_load(self, path: str) -> list[ImageInfo]:
        """A ``docker save`` archive or an OCI archive/layout, with the tags it carries."""
        ...
    def image_save(self, refs: Sequence[str], dest: str, *,
                   format: ImageArchiveFormat = "docker") -> None: ...
    def image_history(self, ref: str) -> list[ImageHistoryEntry]: ...
    def image_prune(self, *, all: bool = False) -> list[str]:
        """Remove dangling images (all unused ones with ``all``); returns removed ids."""
        ...
    def image_login(self, registry: str, *, username: str, password: str) -> str: ...
    def image_logout(self, registry: str) -> bool: ...

    # containers
    def container_create(self, config: ContainerConfig) -> ContainerInfo: ...
    def container_start(self, ref: str) -> None: ...
    def container_stop(self, ref: str, *, signal: str | None = None,
                       timeout: float | None = None) -> None: ...
    def container_restart(self, ref: str, *, timeout: float | None = None) -> None: ...
    def container_kill(self, ref: str, *, signal: str = "KILL") -> None: ...
    def container_pause(self, ref: str) -> None: ...
    def container_unpause(self, ref: str) -> None: ...
    def container_remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None: ...
    def container_inspect(self, ref: str) -> ContainerInfo: ...
    def container_list(self, *, all: bool = False,
                       labels: Mapping[str, str] | None = None) -> list[ContainerInfo]: ...
    def container_logs(self, ref: str, *, follow: bool = False, since: float | None = None,
                       tail: int | None = None) -> Iterator[LogEntry]: ...
    def container_exec(self, ref: str, cmd: Sequence[str], *, env: Mapping[str, str] | None = None,
                       user: str | None = None, workdir: str | None = None,
                       stdin: bytes | None = None) -> ExecResult: ...
    def container_wait(self, ref: str, *, timeout: float | None = None) -> int: ...
    def container_stats(self, ref: str) -> ContainerStats: ...
    def container_top(self, ref: str) -> list[ProcessInfo]: ...

    # networks
    def network_create(self, config: NetworkConfig) -> NetworkInfo: ...
    def network_remove(self, ref: str) -> None: ...
    def network_inspect(self, ref: str) -> NetworkInfo: ...
    def network_list(self, *, labels: Mapping[str, str] | None = None) -> list[NetworkInfo]: ...
    def network_connect(self, ref: str, container: str, endpoint: EndpointConfig) -> None: ...
    def network_disconnect(self, ref: str, container: str) -> None: ...

    # volumes
    def volume_create(self, config: VolumeConfig) -> VolumeInfo: ...
    def volume_remove(self, name: str, *, force: bool = False) -> None: ...
    def volume_inspect(self, name: str) -> VolumeInfo: ...
    def volume_list(self, *, labels: Mapping[str, str] | None = None) -> list[VolumeInfo]: ...

    # events
    def events(self, *, since: float | None = None, until: float | None = None,
               filters: Mapping[str, str] | None = None) -> Iterator[Event]: ...


def labels_match(labels: Mapping[str, str], wanted: Mapping[str, str] | None) -> bool:
    """Label filter used by every ``*_list``: each wanted key present; a value of '' matches any."""
    if not wanted:
        return True
    return all(k in labels and (v == "" or labels[k] == v) for k, v in wanted.items())
