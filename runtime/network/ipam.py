"""Address management: subnets for new networks and addresses for endpoints.

Leases live in the engine's SQLite (table ``net_leases``, made by
``runtime.network.store``), so an address is never handed out twice, even
across processes, and is released when its endpoint goes. The functions that
take a ``sqlite3.Connection`` must run inside the caller's write transaction.
``pick_subnet`` and ``validate_pool`` are pure.
"""

from __future__ import annotations

import ipaddress
import logging
import sqlite3
from collections.abc import Iterable

from runtime.api import IpamPool
from runtime.errors import Conflict, InvalidArgument

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Scanning a huge IPv6 range for a free address would never end; leases are few,
# so the first free one is always found within (leases + a few) steps.
_MAX_SCAN = 1 << 20


def parse_network(text: str, *, what: str) -> Network:
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise InvalidArgument(f'{what} "{text}" is not a valid subnet: {exc}') from exc


def parse_address(text: str, *, what: str) -> Address:
    try:
        return ipaddress.ip_address(text.split("/")[0])
    except ValueError as exc:
        raise InvalidArgument(f'{what} "{text}" is not a valid address') from exc


def pick_subnet(*, pool: str, prefix: int, taken: Iterable[Network]) -> ipaddress.IPv4Network:
    """The first /``prefix`` of ``pool`` overlapping none of ``taken``. Pure."""
    pool_net = parse_network(pool, what="address pool")
    if not isinstance(pool_net, ipaddress.IPv4Network):
        raise InvalidArgument(f'address pool "{pool}" must be IPv4')
    if prefix < pool_net.prefixlen or prefix > 30:
        raise InvalidArgument(f'address pool "{pool}": prefix /{prefix} does not fit')
    busy = [t for t in taken if t.version == 4]
    for candidate in pool_net.subnets(new_prefix=prefix):
        if not any(candidate.overlaps(t) for t in busy):
            return candidate
    raise Conflict(f'address pool "{pool}" is exhausted: every /{prefix} is in use '
                   "by a network or a host route")


def complete_pool(pool: IpamPool) -> IpamPool:
    """Check one configured pool and fill in its gateway (first host address by default)."""
    subnet = parse_network(pool.subnet, what="subnet")
    if subnet.num_addresses < 4:
        raise InvalidArgument(f'subnet "{pool.subnet}" is too small for a network')
    if pool.gateway:
        gateway = parse_address(pool.gateway, what="gateway")
        if gateway not in subnet or gateway in (subnet.network_address, _broadcast(subnet)):
            raise InvalidArgument(f'gateway "{pool.gateway}" is not a host address of '
                                  f'subnet "{pool.subnet}"')
    else:
        gateway = subnet.network_address + 1
    if pool.ip_range:
        ip_range = parse_network(pool.ip_range, what="ip_range")
        if ip_range.version != subnet.version or not ip_range.subnet_of(subnet):  # type: ignore[arg-type]
            raise InvalidArgument(f'ip_range "{pool.ip_range}" is not inside subnet '
                                  f'"{pool.subnet}"')
    return IpamPool(subnet=str(subnet), gateway=str(gateway), ip_range=pool.ip_range)


def _broadcast(net: Network) -> Address:
    # IPv6 has no broadcast, but its last address is the subnet-router anycast's
    # sibling; leaving it unused is harmless and keeps one rule for both families.
    return net.broadcast_address


def allocate(db: sqlite3.Connection, *, network_id: str, pool: IpamPool, container_id: str,
             requested: str | None = None) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """Lease one address of ``pool`` to ``container_id`` (``requested`` when given)."""
    subnet = ipaddress.ip_network(pool.subnet)
    gateway = ipaddress.ip_address(pool.gateway or "")
    reserved = {subnet.network_address, _broadcast(subnet), gateway}
    if requested:
        address = parse_address(requested, what="address")
        if address not in subnet or address in reserved:
            raise InvalidArgument(f'address "{requested}" is not a free host address of '
                                  f'subnet "{pool.subnet}"')
        row = db.execute("SELECT container_id FROM net_leases WHERE network_id = ? "
                         "AND address = ?", (network_id, str(address))).fetchone()
        if row is not None:
            raise Conflict(f'address "{address}" is already in use by container '
                           f'{row["container_id"][:12]}')
    else:
        used = {ipaddress.ip_address(r["address"]) for r in db.execute(
            "SELECT address FROM net_leases WHERE network_id = ?", (network_id,))}
        scope = ipaddress.ip_network(pool.ip_range) if pool.ip_range else subnet
        free = _first_free(scope, used | reserved)
        if free is None:
            raise Conflict(f'subnet "{pool.subnet}" has no free address left')
        address = free
    db.execute("INSERT INTO net_leases(network_id, address, container_id) VALUES (?, ?, ?)",
               (network_id, str(address), container_id))
    return ipaddress.ip_interface(f"{address}/{subnet.prefixlen}")


def _first_free(scope: Network, used: set[Address]) -> Address | None:
    start = int(scope.network_address)
    for offset in range(min(scope.num_addresses, _MAX_SCAN)):
        candidate = ipaddress.ip_address(start + offset) if scope.version == 4 \
            else ipaddress.IPv6Address(start + offset)
        if candidate not in used:
            return candidate
    return None


def release(db: sqlite3.Connection, *, network_id: str, container_id: str) -> None:
    """Give back every address ``container_id`` holds on ``network_id``. Idempotent."""
    db.execute("DELETE FROM net_leases WHERE network_id = ? AND container_id = ?",
               (network_id, container_id))
