"""After teardown nothing is left: interfaces, namespaces, nft table, DNS sockets and
process, leases, sysctls we changed; and a half-made network is cleaned up."""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from runtime.api import IpamPool, NetworkConfig, PortBinding
from runtime.errors import Conflict
from runtime.network import bridge, nft, sandbox

if TYPE_CHECKING:
    from conftest import Lab

pytestmark = pytest.mark.root


def _listening(address: str) -> bool:
    """Whether any udp or tcp socket is bound to ``address`` (from /proc/net)."""
    hexed = f"{int(ipaddress.IPv4Address(address)).to_bytes(4, 'little').hex().upper()}:"
    # state 0A: tcp LISTEN; 07: udp unconnected (TIME_WAIT leftovers of queries don't count)
    for table, state in (("udp", "07"), ("tcp", "0A")):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].startswith(hexed) and fields[3] == state:
                return True
    return False


def _wait_gone(names: list[str]) -> list[str]:
    """Host ends of veths go with their namespace, asynchronously: wait a little."""
    deadline = time.monotonic() + 3
    with bridge.host_ipr() as ipr:
        while True:
            left = [n for n in names if bridge.link_index(ipr, n) is not None]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.02)


def test_everything_goes_with_the_last_network(lab: Lab) -> None:
    svc = lab.svc
    forward_before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    nets = [svc.create(NetworkConfig(name="one")),
            svc.create(NetworkConfig(name="two", enable_ipv6=True,
                                     ipam=(IpamPool(subnet="10.199.77.0/24"),)))]
    assert nets[1].ipam[0].subnet == "10.199.77.0/24" and ":" in nets[1].ipam[1].subnet
    eps = lab.container("c1", ["one", "two"], names=["c1"])
    assert eps[1].ipv6_address is not None
    svc.publish("c1", [PortBinding(container_port=80, host_ip="127.0.0.1")], eps)
    veths = [r["host_if"] for r in svc.md.query("SELECT host_if FROM net_endpoints")]
    gateways = [n.ipam[0].gateway or "" for n in nets]
    dns_pid = svc.dns.pid()
    assert dns_pid is not None and all(_listening(g) for g in gateways)
    assert nft.table_exists(svc.config.nft_table)

    svc.sandbox_remove("c1")
    for net in nets:
        svc.remove(net.name)

    assert _wait_gone([*veths, *(n.bridge for n in nets)]) == []
    assert not lab.netns("c1").exists()
    assert not svc.config.netns_dir.exists()  # the shared mount of the dir is gone too
    assert not any(str(svc.config.netns_dir) in line
                   for line in Path("/proc/self/mountinfo").read_text().splitlines())
    assert not nft.table_exists(svc.config.nft_table)
    assert not any(_listening(g) for g in gateways)
    assert not Path(f"/proc/{dns_pid}").exists() or svc.dns.pid() is None
    for table in ("net_networks", "net_endpoints", "net_leases", "net_names", "net_ports",
                  "net_sandboxes"):
        assert svc.md.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"] == 0, table
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == forward_before or \
        forward_before.strip() == "1"


def test_half_made_network_is_removed_and_names_are_unique(lab: Lab) -> None:
    svc = lab.svc
    net = svc.create(NetworkConfig(name="one"))
    with pytest.raises(Conflict):
        svc.create(NetworkConfig(name="clash", ipam=(IpamPool(subnet=net.ipam[0].subnet),)))
    # a crash after the bridge was made but before anything else: the bridge of a second
    # network exists, the rules and DNS do not know it yet
    with bridge.host_ipr() as ipr:
        bridge.delete_link(ipr, net.bridge)
    svc.remove("one")
    assert _wait_gone([net.bridge]) == []
    assert svc.list() == []
    # a sandbox whose namespace is already gone is still removable
    path = svc.sandbox_create("ghost")
    sandbox.remove_netns(path)
    svc.sandbox_remove("ghost")
    svc.sandbox_remove("ghost")


def test_container_restarted_after_a_crash_attaches_again(lab: Lab) -> None:
    svc = lab.svc
    svc.create(NetworkConfig(name="one"))
    (ep,) = lab.container("c1", ["one"])
    svc.publish("c1", [PortBinding(container_port=80, host_ip="127.0.0.1")], [ep])
    # the crash: the namespace is gone (reboot, killed engine), the records are not
    sandbox.remove_netns(lab.netns("c1"))
    (again,) = lab.container("c1", ["one"])
    assert again.ipv4_address == ep.ipv4_address  # the old lease was released
    assert svc.md.query("SELECT COUNT(*) AS n FROM net_ports")[0]["n"] == 0
    assert len(svc.endpoints("c1")) == 1
