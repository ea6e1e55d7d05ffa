"""A container's network: its namespace per network_mode, endpoints, published ports,
the /etc files that name it, and connect/disconnect while it runs.

Talks to the network part only through ``runtime.parts.NetworkDriver``. Modes:
"bridge" (a sandbox namespace with one veth per network; the engine's default
network when none is named), "none" (a fresh namespace with only lo, made by
runc), "host" (no namespace of its own), "container:<ref>" (another container's).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

from runtime.api import ContainerConfig, EndpointConfig, EndpointInfo, PortBinding
from runtime.config import EngineConfig
from runtime.containers import etcfiles, spec
from runtime.containers.state import ContainerRecord
from runtime.errors import EngineError, Failed, InvalidArgument
from runtime.parts import NetworkDriver

log = logging.getLogger(__name__)


def network_mode(config: ContainerConfig) -> str:
    mode = config.network_mode or "bridge"
    if mode in ("bridge", "none", "host") or mode.startswith("container:"):
        return mode
    raise InvalidArgument(f'container "{config.name}": network_mode "{mode}" is not '
                          'supported (bridge, none, host, container:<name>)')


class ContainerNetworking:
    def __init__(self, config: EngineConfig, networks: NetworkDriver) -> None:
        self.config = config
        self.networks = networks

    def wanted(self, config: ContainerConfig) -> tuple[EndpointConfig, ...]:
        """The networks a bridge-mode config asks for (the default one when none)."""
        if config.networks or network_mode(config) != "bridge":
            return config.networks
        return (EndpointConfig(network=self.networks.default_network().name),)

    def setup(self, record: ContainerRecord, *, joined_pid: int | None
              ) -> tuple[str, list[EndpointInfo], list[PortBinding]]:
        """(netns for the spec: a path, "new" or "host"; endpoints; bound ports).
        ``joined_pid``: PID 1 of the container named by "container:<ref>"."""
        cfg = record.config
        mode = network_mode(cfg)
        if mode == "none":
            return "new", [], []
        if mode == "host":
            return "host", [], []
        if mode.startswith("container:"):
            return f"/proc/{joined_pid}/ns/net", [], []
        path = self.networks.sandbox_create(record.id)
        endpoints = [
            self.networks.attach(record.id, ep, names=(cfg.name, record.id[:12]),
                                 interface=f"eth{i}")
            for i, ep in enumerate(sorted(self.wanted(cfg), key=lambda e: -e.priority))
        ]
        ports: list[PortBinding] = (
            list(self.networks.publish(record.id, cfg.ports, endpoints)) if cfg.ports else [])
        return str(path), endpoints, ports

    def teardown(self, record: ContainerRecord) -> None:
        """Idempotent and best effort: a network problem must not block a removal."""
        # A sandbox may outlive a change of network_mode (disconnect from the last network):
        # its bind mount under netns_dir (EngineConfig's layout) tells.
        if not ((record.config.network_mode in ("", "bridge") and record.started_at is not None)
                or (self.config.netns_dir / record.id).exists()):
            return
        try:
            if record.ports:
                self.networks.unpublish(record.id)
            self.networks.sandbox_remove(record.id)
        except EngineError as exc:
            log.warning("container %s: network teardown: %s", record.name, exc)

    def etc_files(self, record: ContainerRecord, bundle: Path, *, hostname: str,
                  endpoints: Sequence[EndpointInfo], netns: str) -> list[spec.OciMount]:
        """Write hosts, hostname and resolv.conf into the bundle; their bind mounts."""
        cfg = record.config
        if endpoints:
            resolv = self.networks.resolv_conf(endpoints, dns=cfg.dns, dns_search=cfg.dns_search,
                                               dns_opt=cfg.dns_opt)
        else:
            resolv = etcfiles.override_resolv(
                etcfiles.host_resolv_conf(loopback_ok=netns == "host"),
                dns=cfg.dns, dns_search=cfg.dns_search, dns_opt=cfg.dns_opt)
        files = {
            "hosts": etcfiles.hosts_content(hostname=hostname, domainname=cfg.domainname,
                                            endpoints=endpoints, extra_hosts=cfg.extra_hosts),
            "hostname": hostname + "\n",
            "resolv.conf": resolv,
        }
        # read-only with the rootfs, as Docker mounts them for --read-only
        options = ("rbind", "rprivate", *(("ro",) if cfg.read_only else ()))
        out = []
        for name, content in files.items():
            (bundle / name).write_text(content)
            out.append(spec.OciMount(destination=f"/etc/{name}", type="bind",
                                     source=str(bundle / name), options=options))
        return out

    def joined_etc_files(self, joined_bundle: Path) -> tuple[str, list[spec.OciMount]]:
        """(hostname, mounts) for "container:<ref>": as in Docker, the joined container's
        own hosts, hostname and resolv.conf files (its names, its DNS: the embedded
        server answers on its networks only), not a copy, so later edits show in both."""
        files = ("hosts", "hostname", "resolv.conf")
        missing = [n for n in files if not (joined_bundle / n).is_file()]
        if missing:
            raise Failed(f"network container's {', '.join(missing)} not found in "
                              f"{joined_bundle}")
        hostname = (joined_bundle / "hostname").read_text().strip()
        return hostname, [spec.OciMount(destination=f"/etc/{n}", type="bind",
                                        source=str(joined_bundle / n),
                                        options=("rbind", "rprivate")) for n in files]

    def connect(self, record: ContainerRecord, endpoint: EndpointConfig, *, live: bool
                ) -> tuple[ContainerConfig, tuple[EndpointInfo, ...]] | None:
        """The new config and endpoints (attached now when ``live``); None if already on it."""
        target = self.networks.get(endpoint.network)
        wanted = self.wanted(record.config)
        if any(self.networks.get(e.network).id == target.id for e in wanted):
            return None
        config = dataclasses.replace(record.config, networks=(*wanted, endpoint))
        endpoints = record.networks
        if live:
            used = {e.interface for e in record.networks}
            interface = next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)
            info = self.networks.attach(record.id, endpoint,
                                        names=(record.name, record.id[:12]), interface=interface)
            endpoints = (*endpoints, info)
        return config, endpoints

    def disconnect(self, record: ContainerRecord, network: str, *, live: bool
                   ) -> tuple[ContainerConfig, tuple[EndpointInfo, ...]]:
        target = self.networks.get(network)
        left = tuple(e for e in self.wanted(record.config)
                     if self.networks.get(e.network).id != target.id)
        # No network left: the container keeps only its loopback, also after a restart.
        config = dataclasses.replace(record.config, networks=left,
                                     network_mode=record.config.network_mode if left else "none")
        if live:
            self.networks.detach(record.id, target.name)
        return config, tuple(e for e in record.networks if e.network_id != target.id)
