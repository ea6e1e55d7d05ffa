"""Host-side links over netlink (pyroute2): bridges, veth host ends, host routes.

Every function here is idempotent: making what exists already checks and
completes it, deleting what is gone is a no-op. That is what lets a half-made
network from a crashed run be finished or removed by the next one.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from runtime.errors import Failed

log = logging.getLogger(__name__)

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

IFNAMSIZ = 15  # longest Linux interface name
_AF_INET = 2
_AF_INET6 = 10
_IFA_F_NODAD = 0x02
_NET_ADDR_SET = "3"  # /sys/class/net/*/addr_assign_type: the address was set, not inherited


def random_mac() -> str:
    """A locally administered unicast MAC address."""
    octets = bytearray(os.urandom(6))
    octets[0] = (octets[0] & 0xFE) | 0x02
    return ":".join(f"{b:02x}" for b in octets)


def _mac_pinned(name: str) -> bool:
    try:
        with open(f"/sys/class/net/{name}/addr_assign_type") as f:
            return f.read().strip() == _NET_ADDR_SET
    except OSError:
        return False


@contextmanager
def host_ipr() -> Iterator[IPRoute]:
    try:
        ipr = IPRoute()
    except OSError as exc:
        raise Failed(f"netlink socket could not be opened: {exc}") from exc
    try:
        yield ipr
    finally:
        ipr.close()


def link_index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return int(found[0]) if found else None


def ensure_bridge(ipr: IPRoute, *, name: str, addresses: Sequence[Interface],
                  mtu: int | None) -> int:
    """The bridge ``name`` exists, holds ``addresses`` and is up; returns its index."""
    try:
        index = link_index(ipr, name)
        if index is None:
            # A bridge whose address is not set takes the lowest MAC of its ports, so it
            # changes whenever a container leaves; the others' ARP entries for the gateway
            # then point nowhere and DNS / outbound traffic stalls for seconds. A set
            # address never follows the ports (Docker sets one for the same reason).
            ipr.link("add", ifname=name, kind="bridge", address=random_mac())
            index = link_index(ipr, name)
            if index is None:
                raise Failed(f'bridge "{name}" vanished right after it was made')
        elif not _mac_pinned(name):  # made before addresses were set: pin the one it has
            current = ipr.get_links(index)[0].get_attr("IFLA_ADDRESS")
            if current:
                ipr.link("set", index=index, address=current)
        if mtu:
            ipr.link("set", index=index, mtu=mtu)
        present = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=index)}
        for iface in addresses:
            if (str(iface.ip), iface.network.prefixlen) in present:
                continue
            extra = {"flags": _IFA_F_NODAD} if iface.version == 6 else {}
            ipr.addr("add", index=index, address=str(iface.ip),
                     prefixlen=iface.network.prefixlen, **extra)
        ipr.link("set", index=index, state="up")
        return index
    except NetlinkError as exc:
        raise Failed(f'bridge "{name}" could not be set up: {exc}') from exc


def delete_link(ipr: IPRoute, name: str) -> None:
    """Delete the interface ``name`` (a veth takes its peer along). Idempotent."""
    index = link_index(ipr, name)
    if index is None:
        return
    try:
        ipr.link("del", index=index)
    except NetlinkError as exc:
        if exc.code != errno.ENODEV:
            raise Failed(f'interface "{name}" could not be deleted: {exc}') from exc


class LinkReaper:
    """Deletes links in a background thread, by index.

    Deleting a veth waits for the kernel's RCU grace period (tens of milliseconds on a
    busy host), and nobody needs to wait for it: the caller has already taken the
    addresses off, so nothing can still reach the old interface. Deleting by index (not
    by name) means a link of the same name made meanwhile is never hit. The worker
    thread is not a daemon, so a process exits only after its deletions are done."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stack-reaper")
        self._pending: list[Future[None]] = []
        self._lock = threading.Lock()

    def reap(self, index: int) -> None:
        with self._lock:
            self._pending = [f for f in self._pending if not f.done()]
            self._pending.append(self._pool.submit(self._delete, index))

    @staticmethod
    def _delete(index: int) -> None:
        try:
            with host_ipr() as ipr:
                ipr.link("del", index=index)
        except NetlinkError as exc:
            if exc.code != errno.ENODEV:  # gone already: its namespace took it along
                log.warning("link %d could not be deleted: %s", index, exc)
        except Exception:  # a worker must never die silently
            log.exception("link %d could not be deleted", index)

    def drain(self) -> None:
        """Wait until every deletion asked for so far is done."""
        with self._lock:
            pending, self._pending = self._pending, []
        for future in pending:
            future.result()


reaper = LinkReaper()


def links_with_prefix(ipr: IPRoute, prefix: str) -> list[str]:
    return [str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links()
            if str(link.get_attr("IFLA_IFNAME")).startswith(prefix)]


def host_networks(ipr: IPRoute) -> list[Network]:
    """Subnets the host already routes or holds addresses in (IPv4), to keep new networks
    clear of them. Default routes are not a subnet to avoid."""
    found: list[Network] = []
    for route in ipr.get_routes(family=_AF_INET):
        dst, plen = route.get_attr("RTA_DST"), route["dst_len"]
        if dst and plen:
            found.append(ipaddress.ip_network(f"{dst}/{plen}", strict=False))
    for addr in ipr.get_addr(family=_AF_INET):
        found.append(ipaddress.ip_network(
            f"{addr.get_attr('IFA_ADDRESS')}/{addr['prefixlen']}", strict=False))
    return [n for n in found if not n.is_loopback]
