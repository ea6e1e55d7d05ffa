"""Who reaches whom: names, aliases and IPs on one network; isolation between networks;
a container on two networks reaches both sides; published ports and the internal flag."""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from runtime.api import NetworkConfig, PortBinding
from runtime.errors import Conflict
from runtime.network import sandbox

if TYPE_CHECKING:
    from conftest import Lab

pytestmark = pytest.mark.root

UDP_ECHO = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "s.bind(('0.0.0.0', 5000))\nwhile True:\n d, a = s.recvfrom(2048); s.sendto(b'echo:' + d, a)")


def test_names_aliases_ips_and_isolation(lab: Lab) -> None:
    lab.svc.create(NetworkConfig(name="front"))
    lab.svc.create(NetworkConfig(name="back"))
    lab.container("web1", ["front"], names=["web", "web.proj"], aliases=["www"])
    lab.container("client", ["front"], names=["client"])
    lab.container("stranger", ["back"])
    lab.container("both", ["back", "front"])
    lab.httpd("web1")

    for name in ("web", "web1", "www", "web.proj", lab.ip("web1")):
        assert lab.wget("client", f"http://{name}/") == (0, "hello from web1"), name
    # another network: neither the name nor the address reaches web1
    assert lab.wget("stranger", "http://web1/")[0] != 0
    assert lab.wget("stranger", f"http://{lab.ip('web1')}/", timeout=1.5)[0] != 0
    # on both networks: reaches web1 by name (through its second interface) and by IP
    assert lab.wget("both", "http://web/") == (0, "hello from web1")
    assert lab.wget("both", f"http://{lab.ip('web1')}/") == (0, "hello from web1")
    lab.httpd("stranger")
    assert lab.wget("both", "http://stranger/") == (0, "hello from stranger")
    assert lab.wget("web1", f"http://{lab.ip('stranger')}/", timeout=1.5)[0] != 0


def test_published_ports_tcp_udp_and_hairpin(lab: Lab) -> None:
    front = lab.svc.create(NetworkConfig(name="front"))
    back = lab.svc.create(NetworkConfig(name="back"))
    (ep,) = lab.container("web1", ["front"])
    lab.container("other", ["back"])
    lab.httpd("web1")
    lab.start("web1", sys.executable, "-c", UDP_ECHO)

    bound = lab.svc.publish("web1", [
        PortBinding(container_port=80, host_ip="127.0.0.1", host_port=18080),
        PortBinding(container_port=80),  # all addresses, ephemeral host port
        PortBinding(container_port=5000, protocol="udp", host_ip="127.0.0.1", host_port=18081),
    ], [ep])
    assert bound[0] == PortBinding(container_port=80, host_ip="127.0.0.1", host_port=18080)
    ephemeral = bound[1].host_port
    assert ephemeral is not None and ephemeral > 1024

    assert lab.wget(None, "http://127.0.0.1:18080/") == (0, "hello from web1")
    assert lab.wget(None, f"http://127.0.0.1:{ephemeral}/") == (0, "hello from web1")
    # hairpin: a container of another network through a host address (back's gateway)
    gateway = back.ipam[0].gateway
    assert lab.wget("other", f"http://{gateway}:{ephemeral}/") == (0, "hello from web1")
    # the loopback-only binding is not on the other addresses
    assert lab.wget("other", f"http://{gateway}:18080/", timeout=1.5)[0] != 0

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        for _ in range(20):  # the echo server may still be starting
            s.sendto(b"ping", ("127.0.0.1", 18081))
            try:
                assert s.recvfrom(2048)[0] == b"echo:ping"
                break
            except TimeoutError:
                continue
        else:
            pytest.fail("no udp echo through the published port")

    with pytest.raises(Conflict, match="18080/tcp is already published"):
        lab.svc.publish("other", [PortBinding(container_port=80, host_port=18080)],
                        lab.endpoints["other"])
    lab.svc.unpublish("web1")
    assert lab.wget(None, "http://127.0.0.1:18080/", timeout=1.5)[0] != 0
    assert front.bridge in subprocess.run(["nft", "list", "table", "inet",
                                           lab.svc.config.nft_table],
                                          capture_output=True, text=True).stdout


def test_internal_network_has_no_way_out(lab: Lab) -> None:
    lab.svc.create(NetworkConfig(name="inside", internal=True))
    outside = lab.svc.create(NetworkConfig(name="outside"))
    lab.container("a", ["inside"])
    lab.container("b", ["inside"])
    lab.container("c", ["outside"])
    lab.httpd("a")
    lab.httpd("c")
    with sandbox.netns_ipr(lab.netns("a")) as ns:
        assert not sandbox.has_default_route(ns)
    assert lab.wget("b", "http://a/") == (0, "hello from a")
    assert lab.wget("a", f"http://{outside.ipam[0].gateway}/", timeout=1.5)[0] != 0
    assert lab.wget("a", f"http://{lab.ip('c')}/", timeout=1.5)[0] != 0
    # the default route goes only via the first non-internal network
    lab.container("d", ["inside", "outside"])
    with sandbox.netns_ipr(lab.netns("d")) as ns:
        routes = [r for r in ns.get_routes(family=2, table=254) if r["dst_len"] == 0]
        assert [r.get_attr("RTA_GATEWAY") for r in routes] == [outside.ipam[0].gateway]


def test_static_address_mac_and_own_published_port(lab: Lab) -> None:
    from runtime.api import IpamPool

    net = lab.svc.create(NetworkConfig(name="front", ipam=(IpamPool(subnet="10.199.88.0/24",
                                                                     gateway="10.199.88.254"),)))
    (ep,) = lab.container("web1", ["front"], ipv4_address="10.199.88.50",
                          mac_address="02:42:0a:c7:58:32")
    assert ep.ipv4_address == "10.199.88.50/24" and ep.gateway == "10.199.88.254"
    with sandbox.netns_ipr(lab.netns("web1")) as ns:
        (link,) = ns.get_links(ifname="eth0")
        assert link.get_attr("IFLA_ADDRESS") == "02:42:0a:c7:58:32"
    with pytest.raises(Conflict, match="already in use"):
        lab.container("web2", ["front"], ipv4_address="10.199.88.50")
    lab.httpd("web1")
    (bound,) = lab.svc.publish("web1", [PortBinding(container_port=80)], [ep])
    # hairpin: the container reaches its own published port through its gateway
    assert lab.wget("web1", f"http://{net.ipam[0].gateway}:{bound.host_port}/") == \
        (0, "hello from web1")


def test_ipv6_between_sandboxes_and_default_route(lab: Lab) -> None:
    net = lab.svc.create(NetworkConfig(name="v6", enable_ipv6=True))
    (a,) = lab.container("a", ["v6"])
    (b,) = lab.container("b", ["v6"])
    assert a.ipv6_address and b.ipv6_address and ":" in (net.ipam[1].gateway or "")
    target = b.ipv6_address.split("/")[0]
    out = subprocess.run(["nsenter", f"--net={lab.netns('a')}", lab.busybox, "ping", "-6",
                          "-c", "1", "-W", "2", target], capture_output=True, text=True,
                         timeout=5)
    assert out.returncode == 0, out.stdout + out.stderr
    with sandbox.netns_ipr(lab.netns("a")) as ns:
        routes = [r for r in ns.get_routes(family=10, table=254) if r["dst_len"] == 0]
        assert [r.get_attr("RTA_GATEWAY") for r in routes] == [net.ipam[1].gateway]


def test_subnet_choice_skips_host_routes_and_mtu_reaches_the_sandbox(lab: Lab) -> None:
    from runtime.network import bridge

    with bridge.host_ipr() as ipr:
        taken = {n for n in bridge.host_networks(ipr) if str(n).startswith("10.199.")}
        free = next(f"10.199.{i}.0/24" for i in range(200)
                    if not any(t.overlaps(ipaddress.ip_network(f"10.199.{i}.0/24"))
                               for t in taken))
        # a route the test makes (blackhole: no traffic can follow it) over the next free /24
        ipr.route("add", dst=free, type="blackhole")
    try:
        net = lab.svc.create(NetworkConfig(name="front", mtu=1400))
        assert net.ipam[0].subnet != free
    finally:
        with bridge.host_ipr() as ipr:
            ipr.route("del", dst=free, type="blackhole")
    lab.container("a", ["front"])
    with bridge.host_ipr() as ipr:
        (link,) = ipr.get_links(ifname=net.bridge)
        assert link.get_attr("IFLA_MTU") == 1400
    with sandbox.netns_ipr(lab.netns("a")) as ns:
        (eth0,) = ns.get_links(ifname="eth0")
        (lo,) = ns.get_links(ifname="lo")
        assert eth0.get_attr("IFLA_MTU") == 1400
        assert lo.get_attr("IFLA_OPERSTATE") in ("UP", "UNKNOWN") and lo["flags"] & 1
