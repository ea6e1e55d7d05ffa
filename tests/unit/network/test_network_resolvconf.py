"""resolv.conf content and published-port host IPs (pure)."""

from __future__ import annotations

import pytest

from runtime.api import EndpointInfo, PortBinding
from runtime.errors import Conflict, InvalidArgument
from runtime.network.ports import choose_host_port, normalize_host_ip
from runtime.network.resolvconf import render_resolv_conf
from runtime.network.store import PortRecord


def _ep(gateway: str) -> EndpointInfo:
    return EndpointInfo(network="n", network_id="id", interface="eth0", ipv4_address="10.1.0.2/24",
                        ipv6_address=None, mac_address="02:00:00:00:00:01", gateway=gateway,
                        aliases=())


def test_embedded_dns_first_then_users_servers() -> None:
    text = render_resolv_conf(endpoints=[_ep("10.1.0.1"), _ep("10.2.0.1")], dns=["9.9.9.9"],
                              dns_search=["example.org"], dns_opt=["ndots:2"],
                              host_servers=["1.1.1.1"])
    assert text == ("nameserver 10.1.0.1\nnameserver 9.9.9.9\nsearch example.org\n"
                    "options ndots:2\n")


def test_no_network_gets_the_hosts_servers_without_loopback() -> None:
    text = render_resolv_conf(endpoints=[], dns=[], dns_search=[], dns_opt=[],
                              host_servers=["127.0.0.53", "192.0.2.53"])
    assert text == "nameserver 192.0.2.53\n"


def test_host_ip_forms() -> None:
    assert normalize_host_ip("0.0.0.0") == ""
    assert normalize_host_ip("[::1]") == "::1"
    with pytest.raises(InvalidArgument, match='host IP "localhost" is not an address'):
        normalize_host_ip("localhost")


def test_host_port_already_published_is_a_conflict() -> None:
    owner = PortRecord(container_id="abcdef0123456789", protocol="tcp", host_ip="", host_port=18080,
                       target_ip="10.1.0.2", target_ip6=None, container_port=80)
    with pytest.raises(Conflict, match=r"host port 127.0.0.1:18080/tcp is already published by "
                                       r"container abcdef012345"):
        choose_host_port(PortBinding(container_port=80, host_port=18080), host_ip="127.0.0.1",
                         records=[owner])
    # the same port over udp is another port
    port = choose_host_port(PortBinding(container_port=80, protocol="udp"), host_ip="127.0.0.1",
                            records=[owner])
    assert 0 < port < 65536


def test_ipv6_host_ip_needs_ipv6_and_no_loopback() -> None:
    from runtime.network.ports import bind_all

    target = _ep("10.1.0.1")
    with pytest.raises(InvalidArgument, match=r'host IP "::1" is not supported'):
        bind_all("c", [PortBinding(container_port=80, host_ip="::1")], target=target,
                 published=[])
    with pytest.raises(InvalidArgument, match=r"is IPv6 but the container has no IPv6"):
        bind_all("c", [PortBinding(container_port=80, host_ip="fd00::1")], target=target,
                 published=[])
    rows, bound = bind_all("c", [PortBinding(container_port=80, host_ip="0.0.0.0"),
                                 PortBinding(container_port=81, host_ip="127.0.0.1")],
                           target=target, published=[])
    assert [r.target_ip for r in rows] == ["10.1.0.2", "10.1.0.2"]
    assert bound[0].host_ip == "" and bound[0].host_port and bound[1].host_port
    assert bound[0].host_port != bound[1].host_port  # "" overlaps 127.0.0.1
