"""config.json (OCI runtime spec) from a ContainerConfig and its image's config.

Pure: no I/O. The service resolves everything that needs the file system (the
user in the image's /etc/passwd, volume directories, the network namespace)
and passes the results in; this module only decides what runc is told.

Security defaults follow Docker: its 14 default capabilities, no_new_privileges
when asked, masked and read-only /proc paths, our seccomp profile
(runtime.containers.seccomp), all devices denied except runc's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from runtime.api import ContainerConfig, ImageConfig
from runtime.containers import seccomp
from runtime.containers.users import ResolvedUser
from runtime.errors import InvalidArgument

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
INIT_PATH_IN_CONTAINER = "/sbin/docker-init"
CPU_PERIOD = 100_000  # microseconds, the kernel's and Docker's default

DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

# Every capability by number (capability.h); "ALL" means those the running kernel knows.
ALL_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

_RLIMITS = {
    "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
    "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
    "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC",
    "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME",
    "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK", "as": "RLIMIT_AS",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class OciMount:
    """A mount as runc wants it (already resolved to host paths)."""

    destination: str
    type: str
    source: str
    options: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"destination": self.destination, "type": self.type, "source": self.source,
                "options": list(self.options)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Namespaces:
    """``network``: a netns path to join, "new" for a fresh one (lo only), "host" for none."""

    network: str
    hostname: str


def process_args(config: ContainerConfig, image: ImageConfig) -> list[str]:
    """Docker's rules: ``command`` replaces CMD; an ``entrypoint`` override also drops CMD."""
    entrypoint = config.entrypoint if config.entrypoint is not None else image.entrypoint
    if config.command is not None:
        cmd: tuple[str, ...] | None = config.command
    elif config.entrypoint is not None:
        cmd = None
    else:
        cmd = image.cmd
    args = [*(entrypoint or ()), *(cmd or ())]
    if not args:
        raise InvalidArgument(f'container "{config.name}": no command specified '
                              "(the image has neither ENTRYPOINT nor CMD)")
    return args


def process_env(config: ContainerConfig, image: ImageConfig, *, hostname: str,
                home: str) -> list[str]:
    """Image env, then the config's over it; PATH, HOSTNAME, HOME (and TERM for a tty) defaults."""
    env: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    for item in image.env:
        key, _, value = item.partition("=")
        env[key] = value
    env.update(config.env)
    env.setdefault("HOME", home)
    if config.tty:
        env.setdefault("TERM", "xterm")
    return [f"{k}={v}" for k, v in env.items()]


def capabilities(config: ContainerConfig) -> list[str]:
    """The effective set: default (or all when privileged), then drops, then adds."""
    def norm(name: str) -> str:
        name = name.upper()
        return name if name.startswith("CAP_") or name == "ALL" else f"CAP_{name}"

    if config.privileged:
        return list(ALL_CAPABILITIES)
    caps = set(DEFAULT_CAPABILITIES)
    drop = {norm(c) for c in config.cap_drop}
    add = {norm(c) for c in config.cap_add}
    for name in (drop | add) - {"ALL"}:
        if name not in ALL_CAPABILITIES:
            raise InvalidArgument(f'container "{config.name}": unknown capability "{name}"')
    caps = set() if "ALL" in drop else caps - drop
    caps |= set(ALL_CAPABILITIES) if "ALL" in add else add
    return [c for c in ALL_CAPABILITIES if c in caps]


def default_mounts(config: ContainerConfig) -> list[OciMount]:
    shm = config.shm_size or DEFAULT_SHM_SIZE
    sys_opts = ("nosuid", "noexec", "nodev") + (() if config.privileged else ("ro",))
    mounts = [
        OciMount(destination="/proc", type="proc", source="proc",
                 options=("nosuid", "noexec", "nodev")),
        OciMount(destination="/dev", type="tmpfs", source="tmpfs",
                 options=("nosuid", "strictatime", "mode=755", "size=65536k")),
        OciMount(destination="/dev/pts", type="devpts", source="devpts",
                 options=("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")),
        OciMount(destination="/dev/shm", type="tmpfs", source="shm",
                 options=("nosuid", "noexec", "nodev", "mode=1777", f"size={shm}")),
        OciMount(destination="/dev/mqueue", type="mqueue", source="mqueue",
                 options=("nosuid", "noexec", "nodev")),
        OciMount(destination="/sys", type="sysfs", source="sysfs", options=sys_opts),
        OciMount(destination="/sys/fs/cgroup", type="cgroup", source="cgroup",
                 options=("nosuid", "noexec", "nodev", "relatime", "ro")),
    ]
    return mounts


def resources(config: ContainerConfig, *, has_swap_accounting: bool) -> dict[str, Any]:
    r = config.resources
    out: dict[str, Any] = {"devices": [{"allow": config.privileged, "access": "rwm"}]}
    memory: dict[str, int] = {}
    if r.memory is not None:
        memory["limit"] = r.memory
        if has_swap_accounting:
            # Docker: without memory_swap the container may use as much swap as memory.
            memory["swap"] = r.memory_swap if r.memory_swap is not None else 2 * r.memory
    if r.memory_reservation is not None:
        memory["reservation"] = r.memory_reservation
    if memory:
        out["memory"] = memory
    cpu: dict[str, Any] = {}
    if r.cpus is not None:
        if r.cpus <= 0:
            raise InvalidArgument(f'container "{config.name}": cpus must be positive, not {r.cpus}')
        cpu["quota"] = int(r.cpus * CPU_PERIOD)
        cpu["period"] = CPU_PERIOD
    if r.cpu_shares is not None:
        cpu["shares"] = r.cpu_shares
    if r.cpuset_cpus:
        cpu["cpus"] = r.cpuset_cpus
    if cpu:
        out["cpu"] = cpu
    if r.pids_limit is not None:
        out["pids"] = {"limit": r.pids_limit}
    return out


def rlimits(config: ContainerConfig) -> list[dict[str, Any]]:
    # No defaults of our own: the container inherits the engine's limits, like runc does.
    limits: dict[str, tuple[int, int]] = {}
    for u in config.ulimits:
        name = _RLIMITS.get(u.name.lower())
        if name is None:
            raise InvalidArgument(f'container "{config.name}": unknown ulimit "{u.name}"')
        limits[name] = (u.soft, u.hard)
    return [{"type": k, "soft": s, "hard": h} for k, (s, h) in limits.items()]


# Docker's defaults for a container with a network namespace of its own: any user may bind
# ports below 1024 and send ICMP echo (images running as non-root on :80 rely on it).
DEFAULT_NET_SYSCTLS: Final = {"net.ipv4.ip_unprivileged_port_start": "0",
                              "net.ipv4.ping_group_range": "0 2147483647"}


def sysctls(config: ContainerConfig) -> dict[str, str]:
    """The config's sysctls over Docker's network defaults; those only where the container
    owns its network namespace (not on the host's, not on another container's)."""
    mode = config.network_mode or "bridge"
    own_netns = mode != "host" and not mode.startswith("container:")
    return {**(DEFAULT_NET_SYSCTLS if own_netns else {}), **config.sysctls}


def build_spec(
    *,
    config: ContainerConfig,
    image: ImageConfig,
    rootfs: Path,
    user: ResolvedUser,
    namespaces: Namespaces,
    mounts: Sequence[OciMount],
    cgroups_path: str,
    init_binary: Path | None,
    has_swap_accounting: bool,
    extra_env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The whole config.json. ``mounts`` are the container's own (etc files, volumes, tmpfs)."""
    args = process_args(config, image)
    if config.init:
        if init_binary is None:
            raise InvalidArgument(f'container "{config.name}": init requested but no init '
                                  "binary (tini) is installed")
        args = [INIT_PATH_IN_CONTAINER, "--", *args]
    caps = capabilities(config)
    working_dir = config.working_dir or image.working_dir or "/"
    if not working_dir.startswith("/"):
        raise InvalidArgument(f'container "{config.name}": working_dir "{working_dir}" '
                              "must be an absolute path")
    env = process_env(config, image, hostname=namespaces.hostname, home=user.home)
    env += [f"{k}={v}" for k, v in (extra_env or {}).items()]
    no_new_privs = "no-new-privileges" in config.security_opt or any(
        o in ("no-new-privileges:true", "no-new-privileges=true") for o in config.security_opt)

    all_mounts = default_mounts(config)
    if init_binary is not None and config.init:
        all_mounts.append(OciMount(destination=INIT_PATH_IN_CONTAINER, type="bind",
                                   source=str(init_binary), options=("bind", "ro", "nosuid")))
    # Parents before children, so that /data is mounted before /data/logs.
    all_mounts += sorted(mounts, key=lambda m: m.destination.rstrip("/").count("/"))

    ns: list[dict[str, str]] = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    if namespaces.network == "new":
        ns.append({"type": "network"})
    elif namespaces.network != "host":
        ns.append({"type": "network", "path": namespaces.network})

    linux: dict[str, Any] = {
        "namespaces": ns,
        "resources": resources(config, has_swap_accounting=has_swap_accounting),
        "cgroupsPath": cgroups_path,
        "sysctl": sysctls(config),
    }
    if not config.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
        if "seccomp=unconfined" not in config.security_opt:
            linux["seccomp"] = seccomp.default_profile(caps)

    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": config.tty,
            "user": {"uid": user.uid, "gid": user.gid,
                     **({"additionalGids": list(user.additional_gids)}
                        if user.additional_gids else {})},
            "args": args,
            "env": env,
            "cwd": working_dir,
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "rlimits": rlimits(config),
            "noNewPrivileges": no_new_privs,
        },
        "root": {"path": str(rootfs), "readonly": config.read_only},
        "hostname": namespaces.hostname,
        "mounts": [m.to_json() for m in all_mounts],
        "linux": linux,
    }
