"""Docker's command-line short syntax for container settings, parsed into API types.

Pure functions (no I/O): ``-v``, ``-p``, ``-e``, ``--tmpfs``, ``--ulimit``, sizes
like ``64m``. Used by ``stack container run/create``; errors are InvalidArgument
naming the flag value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from runtime.api import Mount, PortBinding, RestartPolicy, Ulimit
from runtime.errors import InvalidArgument

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """``512``, ``64m``, ``1.5g``, ``100MiB`` -> bytes (binary units, like Docker)."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgtb]?)(?:i?b)?\s*", text.lower())
    if not m:
        raise InvalidArgument(f'size "{text}" is invalid: use a number with an optional '
                              "unit b, k, m, g")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def parse_env(items: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """``KEY=value``; a bare ``KEY`` takes the value from ``environ`` (skipped if unset)."""
    env: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise InvalidArgument(f'environment variable "{item}" has no name')
        if sep:
            env[key] = value
        elif key in environ:
            env[key] = environ[key]
    return env


def parse_volume(spec: str) -> Mount:
    """``/container/path`` (anonymous), ``name:/path[:opts]`` or ``/host:/path[:opts]``;
    opts: ro, rw, nocopy, z/Z (ignored), a propagation mode."""
    parts = spec.split(":")
    if len(parts) == 1:
        return Mount(type="volume", target=parts[0])
    if len(parts) > 3:
        raise InvalidArgument(f'volume "{spec}" is invalid: use [source:]target[:options]')
    source, target = parts[0], parts[1]
    options = parts[2].split(",") if len(parts) == 3 else []
    if not target.startswith("/"):
        raise InvalidArgument(f'volume "{spec}": target "{target}" must be an absolute path')
    read_only = "ro" in options
    propagation = next((o for o in options if o in (
        "shared", "rshared", "slave", "rslave", "private", "rprivate")), None)
    unknown = [o for o in options if o not in (
        "ro", "rw", "nocopy", "z", "Z", "shared", "rshared", "slave", "rslave", "private",
        "rprivate")]
    if unknown:
        raise InvalidArgument(f'volume "{spec}": unknown option "{unknown[0]}"')
    if source.startswith(("/", ".", "~")):
        return Mount(type="bind", source=source, target=target, read_only=read_only,
                     propagation=propagation)
    return Mount(type="volume", source=source, target=target, read_only=read_only,
                 nocopy="nocopy" in options)


def parse_tmpfs(spec: str) -> Mount:
    """``/path[:size=64m,mode=1777,exec,ro]`` (noexec unless ``exec``, as Docker)."""
    target, _, opts = spec.partition(":")
    size = mode = None
    read_only = run_files = False
    for opt in filter(None, opts.split(",")):
        key, _, value = opt.partition("=")
        try:
            if key == "size":
                size = parse_size(value)
            elif key == "mode":
                mode = int(value, 8)
        except ValueError:
            raise InvalidArgument(f'tmpfs "{spec}": bad {key} "{value}"') from None
        if key in ("ro", "rw"):
            read_only = key == "ro"
        elif key in ("exec", "noexec"):
            run_files = key == "exec"
        elif key not in ("size", "mode", "nosuid", "nodev"):
            raise InvalidArgument(f'tmpfs "{spec}": unknown option "{key}"')
    return Mount(type="tmpfs", target=target, tmpfs_size=size, tmpfs_mode=mode,
                 read_only=read_only, tmpfs_exec=run_files)


def parse_port(spec: str) -> list[PortBinding]:
    """``80``, ``8080:80``, ``127.0.0.1:8080:80/udp``, ``127.0.0.1::80``, ranges ``8000-8001:80-81``."""
    body, _, proto = spec.partition("/")
    protocol = proto or "tcp"
    if protocol not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f'port "{spec}": unknown protocol "{protocol}"')
    host_ip = ""
    if body.startswith("["):  # [::1]:8080:80
        end = body.index("]")
        host_ip, body = body[1:end], body[end + 2:]
    parts = body.split(":")
    if len(parts) == 3:
        host_ip, host, container = parts
    elif len(parts) == 2:
        host, container = parts
    elif len(parts) == 1:
        host, container = "", parts[0]
    else:
        raise InvalidArgument(f'port "{spec}" is invalid: use [ip:][host:]container[/proto]')
    try:
        c_ports = _range(container)
        h_ports: list[int | None] = list(_range(host)) if host else [None] * len(c_ports)
    except ValueError as exc:
        raise InvalidArgument(f'port "{spec}": not a port number or range') from exc
    if len(h_ports) != len(c_ports):
        raise InvalidArgument(f'port "{spec}": host and container ranges differ in size')
    return [PortBinding(container_port=c, host_port=h, host_ip=host_ip,
                        protocol=protocol)  # type: ignore[arg-type]
            for h, c in zip(h_ports, c_ports, strict=True)]


def _range(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    start, end = int(lo), int(hi or lo)
    if not (0 < start <= end <= 65535):
        raise ValueError(text)
    return list(range(start, end + 1))


def parse_ulimit(spec: str) -> Ulimit:
    """``nofile=1024[:2048]``."""
    name, _, values = spec.partition("=")
    soft, _, hard = values.partition(":")
    try:
        return Ulimit(name=name, soft=int(soft), hard=int(hard or soft))
    except ValueError as exc:
        raise InvalidArgument(f'ulimit "{spec}" is invalid: use name=soft[:hard]') from exc


def parse_restart(spec: str) -> RestartPolicy:
    """``no``, ``always``, ``unless-stopped``, ``on-failure[:N]``."""
    name, _, count = spec.partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped"):
        raise InvalidArgument(f'restart policy "{spec}" is unknown')
    return RestartPolicy(name=name,  # type: ignore[arg-type]
                         max_attempts=int(count) if count else None)


def parse_labels(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out
