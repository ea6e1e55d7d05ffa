"""Published ports: checking and choosing host ports (the rules themselves are in nft).

No userland proxy runs per port: a published port is a DNAT rule. Before a
rule is written the host port is checked the way a proxy would find out: by
binding it for a moment (so a port some program already serves is refused),
and against the ports already published by this engine.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import replace

from runtime.api import EndpointInfo, PortBinding
from runtime.errors import Conflict, InvalidArgument
from runtime.network.store import PortRecord

_SOCK_TYPES = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}


def normalize_host_ip(host_ip: str) -> str:
    """"" for every address ("0.0.0.0" and "::" mean the same); else a checked address."""
    if host_ip in ("", "0.0.0.0", "::"):
        return ""
    try:
        return str(ipaddress.ip_address(host_ip.strip("[]")))
    except ValueError as exc:
        raise InvalidArgument(f'published port: host IP "{host_ip}" is not an address') from exc


def _overlaps(a: str, b: str) -> bool:
    return a == b or a == "" or b == ""


def published_by(records: list[PortRecord], *, protocol: str, host_ip: str,
                 host_port: int) -> PortRecord | None:
    for rec in records:
        if rec.protocol == protocol and rec.host_port == host_port \
                and _overlaps(rec.host_ip, host_ip):
            return rec
    return None


def _probe(protocol: str, host_ip: str, port: int) -> int:
    """Bind ``port`` (0: any) on ``host_ip`` for a moment; return the port bound."""
    # sctp: no socket type to probe a given port with (the engine's own records decide);
    # an ephemeral one is taken from what TCP finds free.
    sock_type = _SOCK_TYPES.get(protocol, socket.SOCK_STREAM if port == 0 else None)
    if sock_type is None:
        return port
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    with socket.socket(family, sock_type) as sock:
        sock.bind((host_ip or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
        return int(sock.getsockname()[1])


def choose_host_port(binding: PortBinding, *, host_ip: str, records: list[PortRecord]) -> int:
    """The host port for ``binding``: the asked one if free, else a free ephemeral one."""
    proto = binding.protocol
    if binding.host_port is not None:
        port = binding.host_port
        if not 0 < port < 65536:
            raise InvalidArgument(f"published port {port}/{proto} is out of range")
        owner = published_by(records, protocol=proto, host_ip=host_ip, host_port=port)
        if owner is not None:
            raise Conflict(f"host port {host_ip or '*'}:{port}/{proto} is already published "
                           f"by container {owner.container_id[:12]}")
        try:
            _probe(proto, host_ip, port)
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise InvalidArgument(f'published port {port}/{proto}: host IP "{host_ip}" '
                                      "is not an address of this host") from exc
            raise Conflict(f"host port {host_ip or '*'}:{port}/{proto} is in use on the "
                           f"host: {exc.strerror}") from exc
        return port
    for _ in range(64):
        try:
            port = _probe(proto, host_ip, 0)
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise InvalidArgument(f"published port {binding.container_port}/{proto}: host "
                                      f'IP "{host_ip}" is not an address of this host') from exc
            raise Conflict(f"no free host port for {binding.container_port}/{proto}: "
                           f"{exc.strerror}") from exc
        if port and published_by(records, protocol=proto, host_ip=host_ip,
                                 host_port=port) is None:
            return port
    raise Conflict(f"no free host port for {binding.container_port}/{proto}")


def _check_ipv6_host_ip(binding: PortBinding, host_ip: str, target: EndpointInfo) -> None:
    if ":" not in host_ip:
        return
    what = f"published port {binding.container_port}/{binding.protocol}"
    if ipaddress.ip_address(host_ip).is_loopback:
        raise InvalidArgument(f'{what}: host IP "{host_ip}" is not supported (IPv6 cannot '
                              "route loopback traffic to a container); use 127.0.0.1")
    if not target.ipv6_address:
        raise InvalidArgument(f'{what}: host IP "{host_ip}" is IPv6 but the container has '
                              f'no IPv6 address on network "{target.network}"')


def bind_all(container_id: str, bindings: Sequence[PortBinding], *, target: EndpointInfo,
             published: list[PortRecord]) -> tuple[list[PortRecord], list[PortBinding]]:
    """Records for ``bindings`` (to ``target``) and the bindings with host ports chosen;
    ``published`` is every port the engine has published already. All or nothing."""
    taken = list(published)
    rows: list[PortRecord] = []
    bound: list[PortBinding] = []
    for binding in bindings:
        host_ip = normalize_host_ip(binding.host_ip)
        _check_ipv6_host_ip(binding, host_ip, target)
        host_port = choose_host_port(binding, host_ip=host_ip, records=taken)
        rec = PortRecord(
            container_id=container_id, protocol=binding.protocol, host_ip=host_ip,
            host_port=host_port, target_ip=(target.ipv4_address or "").split("/")[0],
            target_ip6=(target.ipv6_address or "").split("/")[0] or None,
            container_port=binding.container_port)
        taken.append(rec)
        rows.append(rec)
        bound.append(replace(binding, host_ip=host_ip, host_port=host_port))
    return rows, bound
