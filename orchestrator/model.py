"""The typed stack model: what every stage after the loader's bind sees.

Frozen dataclasses (equality, hash and repr from ``runtime.values.Value``) and enums
only. Units are fixed so later code never parses
strings again: durations are float seconds, sizes are int bytes, paths of bind
mounts and build contexts are absolute. ``None`` means "not set" (the image's
or the engine's default applies); empty tuples / mappings mean "none".

Service is shaped after ``runtime.api.ContainerConfig`` so that turning one
into the other is a field-by-field copy plus resource names.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from runtime.values import Value

# A JSON value, for `x-` extensions and the few driver-specific blobs we carry
# through untouched.
JsonValue = Union[None, bool, int, float, str, tuple["JsonValue", ...], Mapping[str, "JsonValue"]]  # noqa: UP007

EMPTY: Mapping[str, str] = {}


def _empty_map() -> Mapping[str, str]:
    return {}


def _empty_ext() -> Mapping[str, JsonValue]:
    return {}


class Protocol(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"
    SCTP = "sctp"


class PortMode(enum.StrEnum):
    INGRESS = "ingress"
    HOST = "host"


class MountType(enum.StrEnum):
    BIND = "bind"
    VOLUME = "volume"
    TMPFS = "tmpfs"
    NPIPE = "npipe"
    CLUSTER = "cluster"
    IMAGE = "image"


class Condition(enum.StrEnum):
    """depends_on conditions."""

    STARTED = "service_started"
    HEALTHY = "service_healthy"
    COMPLETED = "service_completed_successfully"


class PullPolicy(enum.StrEnum):
    ALWAYS = "always"
    NEVER = "never"
    MISSING = "missing"
    IF_NOT_PRESENT = "if_not_present"
    BUILD = "build"
    DAILY = "daily"
    WEEKLY = "weekly"
    REFRESH = "refresh"  # unused by compose itself; kept for forward compatibility


class RestartCondition(enum.StrEnum):
    """deploy.restart_policy.condition."""

    NONE = "none"
    ON_FAILURE = "on-failure"
    ANY = "any"


# --- services ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Port(Value):
    """One published or exposed port. ``published`` stays a string because it
    may be a range ("8000-8010") that the engine picks from; ``None`` means an
    ephemeral host port."""

    target: int
    published: str | None = None
    host_ip: str | None = None
    protocol: Protocol = Protocol.TCP
    mode: PortMode = PortMode.INGRESS
    name: str | None = None
    app_protocol: str | None = None

    def published_range(self) -> tuple[int, int] | None:
        """(first, last) host port, or None when the engine chooses."""
        if self.published is None or self.published == "":
            return None
        first, _, last = self.published.partition("-")
        return int(first), int(last or first)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class BindOptions(Value):
    propagation: str | None = None
    create_host_path: bool = True
    selinux: str | None = None  # "z" | "Z"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class VolumeOptions(Value):
    nocopy: bool = False
    subpath: str | None = None
    labels: Mapping[str, str] = field(default_factory=_empty_map)  # for a volume made on the fly


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class TmpfsOptions(Value):
    size: int | None = None  # bytes
    mode: int | None = None  # as written (compose prints 1777 for 1777)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class VolumeMount(Value):
    """A mount. ``source`` is an absolute host path (bind), a volume KEY of the
    stack's top-level ``volumes`` or ``None`` for an anonymous volume."""

    type: MountType
    target: str
    source: str | None = None
    read_only: bool = False
    consistency: str | None = None
    bind: BindOptions | None = None
    volume: VolumeOptions | None = None
    tmpfs: TmpfsOptions | None = None
    image_subpath: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ServiceNetwork(Value):
    """A service's attachment to a network key of the stack."""

    aliases: tuple[str, ...] = ()
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    link_local_ips: tuple[str, ...] = ()
    mac_address: str | None = None
    priority: int = 0
    gw_priority: int = 0
    interface_name: str | None = None
    driver_opts: Mapping[str, str] = field(default_factory=_empty_map)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class DependsOn(Value):
    condition: Condition = Condition.STARTED
    required: bool = True
    restart: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Healthcheck(Value):
    """``test`` is ("CMD", ...), ("CMD-SHELL", cmd) or ("NONE",); ``disable``
    turns the image's healthcheck off too."""

    test: tuple[str, ...] = ()
    interval: float | None = None
    timeout: float | None = None
    retries: int | None = None
    start_period: float | None = None
    start_interval: float | None = None
    disable: bool = False

    @property
    def disabled(self) -> bool:
        """``disable: true`` or ``test: [NONE]``: no healthcheck, not even the image's."""
        return self.disable or self.test[:1] == ("NONE",)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Ulimit(Value):
    soft: int
    hard: int
    # written as one number (`nofile: 65536`): printed back that way, as compose does;
    # not part of equality, both forms mean the same limits
    single: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Device(Value):
    source: str
    target: str
    permissions: str = "rwm"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class GenericResource(Value):
    kind: str
    value: int


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class DeviceRequest(Value):
    capabilities: tuple[str, ...] = ()
    driver: str | None = None
    count: int | None = None  # -1: all
    device_ids: tuple[str, ...] = ()
    options: Mapping[str, str] = field(default_factory=_empty_map)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ResourceSpec(Value):
    cpus: float | None = None
    memory: int | None = None  # bytes
    pids: int | None = None
    devices: tuple[DeviceRequest, ...] = ()
    generic_resources: tuple[GenericResource, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Resources(Value):
    limits: ResourceSpec | None = None
    reservations: ResourceSpec | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class RestartPolicy(Value):
    condition: RestartCondition | None = None
    delay: float | None = None
    max_attempts: int | None = None
    window: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class UpdateConfig(Value):
    parallelism: int | None = None
    delay: float | None = None
    failure_action: str | None = None
    monitor: float | None = None
    max_failure_ratio: float | None = None
    order: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Placement(Value):
    constraints: tuple[str, ...] = ()
    preferences: tuple[str, ...] = ()  # spread expressions
    max_replicas_per_node: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Deploy(Value):
    mode: str | None = None  # replicated | global | replicated-job | global-job
    replicas: int | None = None
    labels: Mapping[str, str] = field(default_factory=_empty_map)
    resources: Resources | None = None
    restart_policy: RestartPolicy | None = None
    update_config: UpdateConfig | None = None
    rollback_config: UpdateConfig | None = None
    placement: Placement | None = None
    endpoint_mode: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class BuildSecret(Value):
    """A secret/ssh given to a build: ``source`` is a secret key (or ssh id)."""

    source: str
    target: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Build(Value):
    context: str  # absolute path, or a URL (git, http)
    dockerfile: str | None = None  # relative to context, as compose keeps it
    dockerfile_inline: str | None = None
    args: Mapping[str, str | None] = field(default_factory=dict)
    ssh: tuple[str, ...] = ()  # "default" or "id=path"
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    additional_contexts: Mapping[str, str] = field(default_factory=_empty_map)
    extra_hosts: tuple[tuple[str, str], ...] = ()
    isolation: str | None = None
    labels: Mapping[str, str] = field(default_factory=_empty_map)
    network: str | None = None
    no_cache: bool = False
    pull: bool = False
    secrets: tuple[BuildSecret, ...] = ()
    shm_size: int | None = None
    tags: tuple[str, ...] = ()
    target: str | None = None
    ulimits: Mapping[str, Ulimit] = field(default_factory=dict)
    platforms: tuple[str, ...] = ()
    privileged: bool = False
    entitlements: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class FileReference(Value):
    """A service's use of a top-level secret or config."""

    source: str
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Logging(Value):
    driver: str | None = None
    options: Mapping[str, str] = field(default_factory=_empty_map)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class BlkioDevice(Value):
    path: str
    rate: int  # bytes/s, or IO/s, or weight


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class BlkioConfig(Value):
    weight: int | None = None
    weight_device: tuple[BlkioDevice, ...] = ()
    device_read_bps: tuple[BlkioDevice, ...] = ()
    device_write_bps: tuple[BlkioDevice, ...] = ()
    device_read_iops: tuple[BlkioDevice, ...] = ()
    device_write_iops: tuple[BlkioDevice, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Hook(Value):
    """post_start / pre_stop: a command run inside the container."""

    command: tuple[str, ...]
    user: str | None = None
    privileged: bool = False
    working_dir: str | None = None
    environment: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class WatchRule(Value):
    path: str
    action: str  # sync | rebuild | restart | sync+restart | sync+exec
    target: str | None = None
    ignore: tuple[str, ...] = ()
    include: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Develop(Value):
    watch: tuple[WatchRule, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class CredentialSpec(Value):
    config: str | None = None
    file: str | None = None
    registry: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Service(Value):
    """One service. ``environment`` already holds env_file contents (environment
    wins); a ``None`` value is a variable named without a value that the
    environment did not have (compose keeps it, the engine drops it)."""

    name: str
    image: str | None = None
    build: Build | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: Mapping[str, str | None] = field(default_factory=dict)
    env_files: tuple[str, ...] = ()  # absolute paths read into environment
    labels: Mapping[str, str] = field(default_factory=_empty_map)
    annotations: Mapping[str, str] = field(default_factory=_empty_map)
    container_name: str | None = None
    hostname: str | None = None
    domainname: str | None = None
    user: str | None = None
    working_dir: str | None = None
    tty: bool = False
    stdin_open: bool = False
    init: bool | None = None
    read_only: bool = False
    privileged: bool = False
    attach: bool = True
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    group_add: tuple[str, ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    volumes_from: tuple[str, ...] = ()  # "service[:ro]" or "container:name[:ro]"
    tmpfs: tuple[str, ...] = ()
    shm_size: int | None = None
    sysctls: Mapping[str, str] = field(default_factory=_empty_map)
    ulimits: Mapping[str, Ulimit] = field(default_factory=dict)
    storage_opt: Mapping[str, str] = field(default_factory=_empty_map)
    devices: tuple[Device, ...] = ()
    gpus: tuple[DeviceRequest, ...] = ()  # `gpus: all` is one request with count -1
    device_cgroup_rules: tuple[str, ...] = ()
    # resources outside deploy
    cpu_count: int | None = None
    cpu_percent: float | None = None
    cpu_shares: int | None = None
    cpu_period: int | None = None
    cpu_quota: int | None = None
    cpu_rt_period: int | None = None  # microseconds
    cpu_rt_runtime: int | None = None
    cpus: float | None = None
    cpuset: str | None = None
    mem_limit: int | None = None
    mem_reservation: int | None = None
    mem_swappiness: int | None = None
    memswap_limit: int | None = None  # -1: unlimited
    oom_kill_disable: bool = False
    oom_score_adj: int | None = None
    pids_limit: int | None = None
    blkio_config: BlkioConfig | None = None
    cgroup: str | None = None
    cgroup_parent: str | None = None
    # namespaces and isolation
    ipc: str | None = None
    pid: str | None = None
    uts: str | None = None
    userns_mode: str | None = None
    isolation: str | None = None
    runtime: str | None = None
    platform: str | None = None
    # networking
    network_mode: str | None = None  # None: attach to ``networks``
    networks: Mapping[str, ServiceNetwork] = field(default_factory=dict)
    ports: tuple[Port, ...] = ()
    expose: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    extra_hosts: tuple[tuple[str, str], ...] = ()  # (hostname, ip)
    links: tuple[str, ...] = ()  # "service[:alias]"
    external_links: tuple[str, ...] = ()
    mac_address: str | None = None
    # lifecycle
    depends_on: Mapping[str, DependsOn] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    restart: str | None = None  # no | always | on-failure[:N] | unless-stopped
    stop_signal: str | None = None
    stop_grace_period: float | None = None
    post_start: tuple[Hook, ...] = ()
    pre_stop: tuple[Hook, ...] = ()
    deploy: Deploy | None = None
    scale: int | None = None
    pull_policy: PullPolicy | None = None
    profiles: tuple[str, ...] = ()
    secrets: tuple[FileReference, ...] = ()
    configs: tuple[FileReference, ...] = ()
    logging: Logging | None = None
    credential_spec: CredentialSpec | None = None
    develop: Develop | None = None
    extensions: Mapping[str, JsonValue] = field(default_factory=_empty_ext)

    @property
    def replicas(self) -> int:
        """How many containers: ``scale`` wins over ``deploy.replicas``; default 1."""
        if self.scale is not None:
            return self.scale
        if self.deploy is not None and self.deploy.replicas is not None:
            return self.deploy.replicas
        return 1


# --- top-level resources ----------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class IpamConfig(Value):
    subnet: str | None = None
    ip_range: str | None = None
    gateway: str | None = None
    aux_addresses: Mapping[str, str] = field(default_factory=_empty_map)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Ipam(Value):
    driver: str | None = None
    config: tuple[IpamConfig, ...] = ()
    options: Mapping[str, str] = field(default_factory=_empty_map)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Network(Value):
    """A network of the stack; ``name`` is the engine-side name
    (``<project>_<key>`` unless set or external)."""

    key: str
    name: str
    driver: str | None = None
    driver_opts: Mapping[str, str] = field(default_factory=_empty_map)
    ipam: Ipam = field(default_factory=Ipam)
    external: bool = False
    internal: bool = False
    attachable: bool = False
    enable_ipv4: bool | None = None
    enable_ipv6: bool | None = None
    labels: Mapping[str, str] = field(default_factory=_empty_map)
    extensions: Mapping[str, JsonValue] = field(default_factory=_empty_ext)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Volume(Value):
    key: str
    name: str
    driver: str | None = None
    driver_opts: Mapping[str, str] = field(default_factory=_empty_map)
    external: bool = False
    labels: Mapping[str, str] = field(default_factory=_empty_map)
    extensions: Mapping[str, JsonValue] = field(default_factory=_empty_ext)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class FileObject(Value):
    """A top-level secret or config. Exactly one source is set unless external:
    ``file`` (absolute path), ``environment`` (a variable name) or ``content``."""

    key: str
    name: str
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: bool = False
    driver: str | None = None
    driver_opts: Mapping[str, str] = field(default_factory=_empty_map)
    template_driver: str | None = None
    labels: Mapping[str, str] = field(default_factory=_empty_map)
    extensions: Mapping[str, JsonValue] = field(default_factory=_empty_ext)


Secret = FileObject
Config = FileObject


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Stack(Value):
    """A loaded, normalised, checked stack. Mappings iterate in sorted key order."""

    name: str
    project_directory: Path
    files: tuple[Path, ...] = ()
    services: Mapping[str, Service] = field(default_factory=dict)
    networks: Mapping[str, Network] = field(default_factory=dict)
    volumes: Mapping[str, Volume] = field(default_factory=dict)
    secrets: Mapping[str, FileObject] = field(default_factory=dict)
    configs: Mapping[str, FileObject] = field(default_factory=dict)
    extensions: Mapping[str, JsonValue] = field(default_factory=_empty_ext)
