"""The engine's network part: ``NetworkService`` (networks, sandboxes, endpoints, ports).

It implements ``runtime.parts.NetworkDriver`` (used by the container part) and
the ``network_*`` calls of ``LocalEngine``. Protocol note: the signatures are
those of runtime/parts.py as of the network work (issue 5); ``endpoints`` is an
extra read-only helper.

Invariants:
- Every mutation runs under one file lock (``<run dir>/network/lock``), so CLI
  processes, stackd and tests sharing a state root never interleave.
- Records go into SQLite before the kernel objects are made and leave after
  they are gone; each kernel step is idempotent. A crash at any point leaves a
  record whose ``remove`` (or ``sandbox_remove``) finishes the job.
- The nftables table is re-rendered from the records after every change of
  networks or ports, and deleted with the last network, as are the DNS process
  (stackd's resident resolver stays) and the forwarding sysctl we turned on.
"""

from __future__ import annotations

import builtins
import fcntl
import hashlib
import ipaddress
import logging
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from pyroute2.netlink.exceptions import NetlinkError

from runtime.api import (
    EndpointConfig,
    EndpointInfo,
    IpamPool,
    NetworkConfig,
    NetworkInfo,
    PortBinding,
    labels_match,
)
from runtime.config import EngineConfig
from runtime.errors import (
    AlreadyExists,
    Conflict,
    EngineError,
    Failed,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from runtime.events import EventLog
from runtime.metadata import Metadata
from runtime.network import bridge, dockercompat, ipam, nft, ports, sandbox, store, sysctl
from runtime.network.dns import host_upstreams
from runtime.network.dnsproc import DnsProcess, DnsRunner
from runtime.network.resolvconf import render_resolv_conf

log = logging.getLogger(__name__)

DEFAULT_NETWORK = "bridge"
BRIDGE_PREFIX = "stk-"
VETH_PREFIX = "vstk"
_MTU_OPTIONS = ("mtu", "com.docker.network.driver.mtu")


def bridge_name(network_id: str) -> str:
    return BRIDGE_PREFIX + network_id[: bridge.IFNAMSIZ - len(BRIDGE_PREFIX)]


def veth_name(container_id: str, network_id: str) -> str:
    digest = hashlib.sha256(f"{container_id}/{network_id}".encode()).hexdigest()
    return VETH_PREFIX + digest[: bridge.IFNAMSIZ - len(VETH_PREFIX)]


def _random_mac() -> str:
    octets = bytearray(secrets.token_bytes(6))
    octets[0] = (octets[0] & 0xFE) | 0x02  # unicast, locally administered
    return ":".join(f"{b:02x}" for b in octets)


def _ula_subnet(network_id: str) -> str:
    """A stable unique-local /64 for a network that asks for IPv6 without a subnet."""
    h = bytes.fromhex(network_id[:10])
    return str(ipaddress.IPv6Network((b"\xfd" + h + b"\x00\x00" + b"\x00" * 8, 64)))


def _flush_addresses(netns: Path, ifname: str) -> None:
    try:
        with sandbox.netns_ipr(netns) as ns:
            index = ns.link_lookup(ifname=ifname)
            if index:
                ns.flush_addr(index=index[0])
    except (OSError, NetlinkError) as exc:
        log.debug("%s in %s: addresses not flushed: %s", ifname, netns, exc)


class NetworkService:
    def __init__(self, config: EngineConfig, metadata: Metadata, events: EventLog, *,
                 dns: DnsRunner | None = None) -> None:
        """``dns``: who runs the resolver; by default a process of its own (stackd passes a
        runtime.network.dnsthread.DnsThread)."""
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", config.nft_table):
            raise InvalidArgument(f'nftables table name "{config.nft_table}" is not valid '
                                  "(letters, digits and _, starting with a letter)")
        self.config = config
        self.md = metadata
        self.events = events
        self.dir = config.run_dir / "network"
        store.ensure_schema(metadata)
        self.dns: DnsRunner = dns or DnsProcess(db=config.metadata_db, run_dir=self.dir,
                                                upstreams=config.dns_upstream)
        self.forwarding = sysctl.ForwardingGuard(self.dir / "sysctl.json")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # --- networks -------------------------------------------------------------

    def get(self, ref: str) -> NetworkInfo:
        rows = self.md.query("SELECT * FROM net_networks WHERE id = ? OR name = ?", (ref, ref))
        if not rows and len(ref) >= 3:
            rows = self.md.query("SELECT * FROM net_networks WHERE id LIKE ?", (ref + "%",))
            if len(rows) > 1:
                raise InvalidArgument(f'network "{ref}" is ambiguous: {len(rows)} ids match')
        if not rows:
            raise NotFound(f'network "{ref}" not found')
        return self._info(rows[0])

    def _info(self, row: sqlite3.Row) -> NetworkInfo:
        network_id = row["id"]
        containers = tuple(r["container_id"] for r in self.md.query(
            "SELECT container_id FROM net_endpoints WHERE network_id = ? ORDER BY rowid",
            (network_id,)))
        return store.network_from_row(row, containers)

    def list(self, *, labels: Mapping[str, str] | None = None) -> list[NetworkInfo]:
        rows = self.md.query("SELECT * FROM net_networks ORDER BY rowid")
        return [info for info in (self._info(r) for r in rows) if labels_match(info.labels, labels)]

    def default_network(self) -> NetworkInfo:
        try:
            return self.get(DEFAULT_NETWORK)
        except NotFound:
            pass
        try:
            return self.create(NetworkConfig(name=DEFAULT_NETWORK))
        except AlreadyExists:  # made by another process meanwhile
            return self.get(DEFAULT_NETWORK)

    def create(self, config: NetworkConfig) -> NetworkInfo:
        if config.driver not in ("bridge", ""):
            raise InvalidArgument(f'network "{config.name}": driver "{config.driver}" is not '
                                  'supported (only "bridge")')
        if not config.name or "/" in config.name:
            raise InvalidArgument(f'network name "{config.name}" is not valid')
        with self._locked():
            if self.md.query("SELECT 1 FROM net_networks WHERE name = ?", (config.name,)):
                raise AlreadyExists(f'network "{config.name}" already exists')
            network_id = secrets.token_hex(32)
            info = NetworkInfo(
                id=network_id, name=config.name, driver="bridge",
                bridge=bridge_name(network_id), internal=config.internal,
                enable_ipv6=config.enable_ipv6 or any(":" in p.subnet for p in config.ipam),
                ipam=self._pools(config, network_id), mtu=self._mtu(config),
                labels=dict(config.labels), created_at=time.time(),
            )
            with self.md.transaction() as db:
                db.execute("INSERT INTO net_networks(id, name, bridge, internal, info) "
                           "VALUES (?, ?, ?, ?, ?)", (info.id, info.name, info.bridge,
                                                       int(info.internal),
                                                       store.network_to_json(info)))
            try:
                self._realize(info)
            except BaseException:
                try:
                    self._teardown(info)
                except EngineError as exc:  # the first error is the one to report
                    log.warning("%s", exc.message)
                raise
        self.events.emit("network", "create", info.id, {"name": info.name, "type": "bridge",
                                                        **info.labels})
        log.info("network %s created (bridge %s, %s)", info.name, info.bridge,
                 ", ".join(p.subnet for p in info.ipam))
        return info

    def _mtu(self, config: NetworkConfig) -> int | None:
        raw: object = config.mtu
        for key in _MTU_OPTIONS:
            if raw is None and key in config.options:
                raw = config.options[key]
        if raw is None:
            return None
        try:
            mtu = int(str(raw))
        except ValueError as exc:
            raise InvalidArgument(f'network "{config.name}": mtu "{raw}" is not a number') from exc
        if not 68 <= mtu <= 65535:
            raise InvalidArgument(f'network "{config.name}": mtu {mtu} is out of range')
        return mtu

    def _pools(self, config: NetworkConfig, network_id: str) -> tuple[IpamPool, ...]:
        """The configured pools, checked and completed, plus an IPv4 subnet from the engine's
        pool when none is given (and an IPv6 one when IPv6 is on without a subnet)."""
        pools = [ipam.complete_pool(p) for p in config.ipam]
        taken = [ipaddress.ip_network(p.subnet) for n in self.list() for p in n.ipam]
        for pool in pools:
            subnet = ipaddress.ip_network(pool.subnet)
            clash = [t for t in taken if t.version == subnet.version and t.overlaps(subnet)]
            if clash:
                raise Conflict(f'network "{config.name}": subnet {subnet} overlaps subnet '
                               f"{clash[0]} of another network")
        if not any(":" not in p.subnet for p in pools):
            with bridge.host_ipr() as ipr:
                host = bridge.host_networks(ipr)
            subnet = ipam.pick_subnet(pool=self.config.address_pool,
                                      prefix=self.config.pool_prefix, taken=taken + host)
            pools.insert(0, ipam.complete_pool(IpamPool(subnet=str(subnet))))
        if config.enable_ipv6 and not any(":" in p.subnet for p in pools):
            pools.append(ipam.complete_pool(IpamPool(subnet=_ula_subnet(network_id))))
        return tuple(pools)

    def _realize(self, info: NetworkInfo) -> None:
        """Make the kernel objects of ``info``. Idempotent."""
        addresses = [ipaddress.ip_interface(f"{p.gateway}/{ipaddress.ip_network(p.subnet).prefixlen}")
                     for p in info.ipam]
        with bridge.host_ipr() as ipr:
            bridge.ensure_bridge(ipr, name=info.bridge, addresses=addresses, mtu=info.mtu)
        if not info.internal:
            sysctl.set_bridge(info.bridge, route_localnet=True)
            self.forwarding.enable(sysctl.IP_FORWARD)
            if info.enable_ipv6:
                self.forwarding.enable(sysctl.IP6_FORWARD)
        self._reload_rules()
        dockercompat.allow(info.bridge)
        if info.enable_ipv6:
            dockercompat.allow(info.bridge, binary="ip6tables")
        self.dns.ensure_running()
        self.dns.wait_listening([p.gateway for p in info.ipam if p.gateway])

    def _ensure_dns(self) -> None:
        """Start the DNS process again if it died (cheap when it runs: a pid check)."""
        if self.dns.pid() is not None:
            return
        log.warning("embedded DNS was not running: starting it again")
        self.dns.ensure_running()
        self.dns.wait_listening([p.gateway for n in self.list() for p in n.ipam if p.gateway])

    def _teardown(self, info: NetworkInfo) -> None:
        """Undo ``_realize`` and forget the network. Idempotent; best effort per step so a
        half-made network is removed as far as possible."""
        errors: list[str] = []
        steps: builtins.list[Callable[[], None]] = [
            lambda: dockercompat.remove(info.bridge),
            lambda: dockercompat.remove(info.bridge, binary="ip6tables"),
            lambda: self._delete_bridge(info.bridge),
        ]
        for step in steps:
            try:
                step()
            except EngineError as exc:
                errors.append(exc.message)
        subnets = [ipaddress.ip_network(p.subnet) for p in info.ipam]
        stale_ports = [p for p in store.port_records(self.md)
                       if any(ipaddress.ip_address(p.target_ip) in n for n in subnets)]
        with self.md.transaction() as db:
            for table in ("net_endpoints", "net_names", "net_leases"):
                db.execute(f"DELETE FROM {table} WHERE network_id = ?", (info.id,))
            for port in stale_ports:  # published to endpoints that were cut off above
                db.execute("DELETE FROM net_ports WHERE protocol = ? AND host_ip = ? AND "
                           "host_port = ?", (port.protocol, port.host_ip, port.host_port))
            db.execute("DELETE FROM net_networks WHERE id = ?", (info.id,))
        try:
            self._reload_rules()
            if not self.md.query("SELECT 1 FROM net_networks LIMIT 1"):
                self.dns.stop()
                with bridge.host_ipr() as ipr:
                    others = bridge.links_with_prefix(ipr, BRIDGE_PREFIX)
                self.forwarding.restore(others_need_it=bool(others))
        except EngineError as exc:
            errors.append(exc.message)
        if errors:
            raise Failed(f'network "{info.name}": teardown incomplete: {"; ".join(errors)}')

    def _delete_bridge(self, name: str) -> None:
        with bridge.host_ipr() as ipr:
            bridge.delete_link(ipr, name)

    def remove(self, ref: str) -> None:
        """Remove the network and everything made for it. Endpoints still recorded (of
        containers that are gone or crashed) are cut off first."""
        with self._locked():
            info = self.get(ref)
            for rec in store.endpoint_records(self.md, network_id=info.id):
                self._drop_endpoint(rec)
            self._teardown(info)
        self.events.emit("network", "destroy", info.id, {"name": info.name, "type": "bridge"})
        log.info("network %s removed", info.name)

    def _reload_rules(self) -> None:
        rows = self.md.query("SELECT info FROM net_networks ORDER BY rowid")
        if not rows:
            nft.delete_table(self.config.nft_table)
            return
        nets = [store.network_from_row(r) for r in rows]
        rules = [nft.NetRule(bridge=n.bridge, subnets=tuple(p.subnet for p in n.ipam),
                             internal=n.internal) for n in nets]
        port_rules = [nft.PortRule(protocol=p.protocol, host_ip=p.host_ip, host_port=p.host_port,
                                   target_ip=p.target_ip, target_ip6=p.target_ip6,
                                   container_port=p.container_port)
                      for p in store.port_records(self.md)]
        nft.apply(nft.render(table=self.config.nft_table, networks=rules, ports=port_rules))

    # --- sandboxes and endpoints ----------------------------------------------

    def _netns_path(self, container_id: str) -> Path:
        return self.config.netns_dir / container_id

    def sandbox_create(self, container_id: str) -> Path:
        """Idempotent while the namespace lives. A new namespace means any endpoint or port
        still recorded for the container is a leftover (a crash before its teardown): those
        are cleared, so the attaches that follow start clean."""
        path = self._netns_path(container_id)
        with self._locked():
            if not sandbox.is_netns(path):
                self._unpublish(container_id)
                for rec in store.endpoint_records(self.md, container_id=container_id):
                    log.info("container %s: clearing leftover endpoint on %s",
                             container_id[:12], rec.info.network)
                    self._drop_endpoint(rec)
            with self.md.transaction() as db:
                db.execute("INSERT OR REPLACE INTO net_sandboxes(container_id, path) "
                           "VALUES (?, ?)", (container_id, str(path)))
        # Outside the lock (in parallel with other starts): the row above keeps the
        # namespace directory from being released meanwhile.
        sandbox.create_netns(path)
        return path

    def sandbox_remove(self, container_id: str) -> None:
        """Unpublish, detach everything and delete the namespace. Idempotent.

        The namespace is unmounted at once; the host ends of its veths are deleted in the
        background (the kernel takes them along with the namespace anyway, unless some
        straggling process still holds it)."""
        with self._locked():
            self._unpublish(container_id)
            recs = store.endpoint_records(self.md, container_id=container_id)
            sandbox.remove_netns(self._netns_path(container_id))
            if recs:
                with bridge.host_ipr() as ipr:
                    indexes = [bridge.link_index(ipr, rec.host_if) for rec in recs]
                for index in indexes:
                    if index is not None:
                        bridge.reaper.reap(index)
            with self.md.transaction() as db:
                for rec in recs:
                    self._forget_endpoint(db, rec)
                db.execute("DELETE FROM net_sandboxes WHERE container_id = ?", (container_id,))
            if not self.md.query("SELECT 1 FROM net_sandboxes LIMIT 1"):
                sandbox.release_dir(self.config.netns_dir)
        for rec in recs:
            self.events.emit("network", "disconnect", rec.info.network_id,
                             {"name": rec.info.network, "container": container_id})

    def endpoints(self, container_id: str) -> builtins.list[EndpointInfo]:
        return [r.info for r in store.endpoint_records(self.md, container_id=container_id)]

    def attach(self, container_id: str, endpoint: EndpointConfig, *, names: Sequence[str],
               interface: str) -> EndpointInfo:
        with self._locked():
            net = self.get(endpoint.network)
            path = self._netns_path(container_id)
            if not self.md.query("SELECT 1 FROM net_sandboxes WHERE container_id = ?",
                                 (container_id,)) or not path.exists():
                raise FailedPrecondition(f"container {container_id[:12]} has no network "
                                         "sandbox (sandbox_create first)")
            if store.endpoint_records(self.md, container_id=container_id, network_id=net.id):
                raise Conflict(f"container {container_id[:12]} is already connected to "
                               f'network "{net.name}"')
            self._ensure_dns()
            info, rec = self._record_endpoint(container_id, net, endpoint, names, interface)
        # The kernel work runs without the lock, so containers start in parallel: the
        # record above holds the address and the veth name, and the caller (the
        # container's own lock) keeps this sandbox still. A removal of the network in
        # the meantime cuts the record off; that is checked after.
        try:
            self._plug(rec, path, net)
            with self._locked():
                if not store.endpoint_records(self.md, container_id=container_id,
                                              network_id=net.id):
                    raise Failed(f'network "{net.name}" was removed while container '
                                 f"{container_id[:12]} was being attached")
        except BaseException as exc:
            with self._locked():
                self._drop_endpoint(rec, netns=path)
            if isinstance(exc, (OSError, NetlinkError)):
                raise Failed(f"container {container_id[:12]}: network "
                             f'"{net.name}" could not be attached: {exc}') from exc
            raise
        self.events.emit("network", "connect", net.id, {"name": net.name,
                                                        "container": container_id})
        return info

    def _record_endpoint(self, container_id: str, net: NetworkInfo, endpoint: EndpointConfig,
                         names: Sequence[str], interface: str
                         ) -> tuple[EndpointInfo, store.EndpointRecord]:
        v4 = v6 = None
        gw4 = gw6 = None
        with self.md.transaction() as db:
            for pool in net.ipam:
                if ":" in pool.subnet:
                    v6 = ipam.allocate(db, network_id=net.id, pool=pool, container_id=container_id,
                                       requested=endpoint.ipv6_address)
                    gw6 = pool.gateway
                elif v4 is None:
                    v4 = ipam.allocate(db, network_id=net.id, pool=pool, container_id=container_id,
                                       requested=endpoint.ipv4_address)
                    gw4 = pool.gateway
            has_default = db.execute("SELECT 1 FROM net_endpoints WHERE container_id = ? AND "
                                     "default_route = 1", (container_id,)).fetchone()
            default_route = not net.internal and has_default is None
            info = EndpointInfo(
                network=net.name, network_id=net.id, interface=interface,
                ipv4_address=str(v4) if v4 else None, ipv6_address=str(v6) if v6 else None,
                mac_address=(endpoint.mac_address or _random_mac()).lower(), gateway=gw4 or gw6,
                aliases=tuple(endpoint.aliases),
            )
            rec = store.EndpointRecord(container_id=container_id, info=info,
                                       host_if=veth_name(container_id, net.id),
                                       default_route=default_route)
            db.execute("INSERT INTO net_endpoints(container_id, network_id, host_if, "
                       "default_route, info, ipv4, ipv6) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (container_id, net.id, rec.host_if, int(default_route),
                        store.endpoint_to_json(info), str(v4.ip) if v4 else None,
                        str(v6.ip) if v6 else None))
            dns_names = {n.lower() for n in (*names, *endpoint.aliases) if n}
            db.executemany("INSERT OR IGNORE INTO net_names(network_id, name, container_id) "
                           "VALUES (?, ?, ?)", [(net.id, n, container_id) for n in dns_names])
        return info, rec

    def _plug(self, rec: store.EndpointRecord, path: Path, net: NetworkInfo) -> None:
        info = rec.info
        addresses = [ipaddress.ip_interface(a) for a in (info.ipv4_address, info.ipv6_address)
                     if a]
        gateways = [p.gateway for p in net.ipam if p.gateway] if rec.default_route else []
        with bridge.host_ipr() as ipr:
            index = bridge.link_index(ipr, net.bridge)
            if index is None:
                raise Failed(f'network "{net.name}": bridge {net.bridge} is missing '
                             "(remove and create the network again)")
            sandbox.add_veth(ipr, host_if=rec.host_if, peer_if=info.interface,
                             mac=info.mac_address, netns_path=path, bridge_index=index,
                             mtu=net.mtu)
        with sandbox.netns_ipr(path) as ns:
            sandbox.configure_inside(ns, ifname=info.interface, addresses=addresses,
                                     gateways=gateways)

    def _forget_endpoint(self, db: sqlite3.Connection, rec: store.EndpointRecord) -> None:
        """Delete the endpoint's rows and leases, in the caller's transaction."""
        for table in ("net_endpoints", "net_names"):
            db.execute(f"DELETE FROM {table} WHERE container_id = ? AND network_id = ?",
                       (rec.container_id, rec.info.network_id))
        ipam.release(db, network_id=rec.info.network_id, container_id=rec.container_id)

    def _drop_endpoint(self, rec: store.EndpointRecord, *, netns: Path | None = None) -> None:
        """Cut the endpoint off and forget it. With ``netns``, its addresses are taken off
        inside first, so the veth (deleted in the background, see bridge.LinkReaper) is
        dead at once and its addresses can be leased again right away."""
        if netns is not None and netns.exists():
            _flush_addresses(netns, rec.info.interface)
        with bridge.host_ipr() as ipr:
            index = bridge.link_index(ipr, rec.host_if)
        if index is not None:
            bridge.reaper.reap(index)
        with self.md.transaction() as db:
            self._forget_endpoint(db, rec)

    def detach(self, container_id: str, network: str) -> None:
        """Idempotent: a container not on ``network`` is left as it is."""
        with self._locked():
            net = self.get(network)
            recs = store.endpoint_records(self.md, container_id=container_id, network_id=net.id)
            if not recs:
                return
            rec = recs[0]
            self._drop_endpoint(rec, netns=self._netns_path(container_id))
            if self.md.query("SELECT 1 FROM net_ports WHERE container_id = ? AND target_ip = ?",
                             (container_id, (rec.info.ipv4_address or "").split("/")[0])):
                with self.md.transaction() as db:
                    db.execute("DELETE FROM net_ports WHERE container_id = ? AND target_ip = ?",
                               (container_id, (rec.info.ipv4_address or "").split("/")[0]))
                self._reload_rules()
            if rec.default_route:
                self._move_default_route(container_id)
        self.events.emit("network", "disconnect", net.id, {"name": net.name,
                                                           "container": container_id})

    def _move_default_route(self, container_id: str) -> None:
        """The default route went with a detached network: take the next non-internal one."""
        path = self._netns_path(container_id)
        for rec in store.endpoint_records(self.md, container_id=container_id):
            net = self.get(rec.info.network_id)
            if net.internal or not path.exists():
                continue
            with sandbox.netns_ipr(path) as ns:
                index = ns.link_lookup(ifname=rec.info.interface)
                for gateway in (p.gateway for p in net.ipam if p.gateway):
                    family = 10 if ":" in gateway else 2
                    ns.route("replace", dst="default", gateway=gateway, family=family,
                             oif=index[0])
            with self.md.transaction() as db:
                db.execute("UPDATE net_endpoints SET default_route = 1 WHERE container_id = ? "
                           "AND network_id = ?", (container_id, rec.info.network_id))
            return

    # --- published ports --------------------------------------------------------

    def publish(self, container_id: str, ports_: Sequence[PortBinding],
                endpoints: Sequence[EndpointInfo]) -> builtins.list[PortBinding]:
        if not ports_:
            return []
        target = self._publish_target(container_id, endpoints)
        with self._locked():
            rows, bound = ports.bind_all(container_id, ports_, target=target,
                                         published=store.port_records(self.md))
            with self.md.transaction() as db:
                db.executemany(
                    "INSERT INTO net_ports(container_id, protocol, host_ip, host_port, target_ip, "
                    "target_ip6, container_port) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(r.container_id, r.protocol, r.host_ip, r.host_port, r.target_ip,
                      r.target_ip6, r.container_port) for r in rows])
            try:
                self._reload_rules()
            except BaseException:
                self._unpublish(container_id)
                raise
        return bound

    def _publish_target(self, container_id: str,
                        endpoints: Sequence[EndpointInfo]) -> EndpointInfo:
        """Ports go to the first endpoint on a non-internal network."""
        for ep in endpoints:
            if ep.ipv4_address and not self.get(ep.network_id).internal:
                return ep
        raise FailedPrecondition(f"container {container_id[:12]} has no endpoint on a "
                                 "non-internal network to publish ports on")

    def unpublish(self, container_id: str) -> None:
        with self._locked():
            self._unpublish(container_id)

    def _unpublish(self, container_id: str) -> None:
        if not self.md.query("SELECT 1 FROM net_ports WHERE container_id = ?", (container_id,)):
            return
        with self.md.transaction() as db:
            db.execute("DELETE FROM net_ports WHERE container_id = ?", (container_id,))
        self._reload_rules()

    # --- resolv.conf -------------------------------------------------------------

    def resolv_conf(self, endpoints: Sequence[EndpointInfo], *, dns: Sequence[str],
                    dns_search: Sequence[str], dns_opt: Sequence[str]) -> str:
        upstream = [h for h, _ in host_upstreams()] if not endpoints else []
        return render_resolv_conf(endpoints=endpoints, dns=dns, dns_search=dns_search,
                                  dns_opt=dns_opt, host_servers=upstream)
