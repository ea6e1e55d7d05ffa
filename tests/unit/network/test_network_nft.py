"""The nftables rule set as rendered (pure); loading it is covered by integration tests."""

from __future__ import annotations

from runtime.network import nft

A = nft.NetRule(bridge="stk-a", subnets=("10.199.0.0/24",), internal=False)
B = nft.NetRule(bridge="stk-b", subnets=("10.199.1.0/24", "fd00::/64"), internal=False)
INTERNAL = nft.NetRule(bridge="stk-i", subnets=("10.199.2.0/24",), internal=True)


def _chain(script: str, name: str) -> list[str]:
    lines = script.splitlines()
    start = lines.index(f"  chain {name} {{")
    end = lines.index("  }", start)
    return [line.strip() for line in lines[start + 1:end]]


def test_script_replaces_only_our_table_atomically() -> None:
    script = nft.render(table="stk_t", networks=[A], ports=[])
    assert script.splitlines()[:3] == ["add table inet stk_t", "delete table inet stk_t",
                                       "table inet stk_t {"]
    assert "flush ruleset" not in script


def test_internal_network_drops_come_before_any_accept_of_other_networks() -> None:
    fwd = _chain(nft.render(table="t", networks=[A, INTERNAL], ports=[]), "forward")
    assert fwd.index('iifname "stk-i" drop') < fwd.index('oifname "stk-a" ct status dnat accept')
    assert fwd[1:3] == ['iifname "stk-a" oifname "stk-a" accept',
                       'iifname "stk-i" oifname "stk-i" accept']
    assert 'oifname "stk-a" drop' in fwd  # isolation: nothing new enters A unless DNATed


def test_masquerade_only_for_non_internal_networks() -> None:
    post = _chain(nft.render(table="t", networks=[A, B, INTERNAL], ports=[]), "postrouting")
    assert 'oifname != "stk-a" ip saddr 10.199.0.0/24 masquerade' in post
    assert 'oifname != "stk-b" ip6 saddr fd00::/64 masquerade' in post
    assert 'oifname "stk-a" ip saddr 127.0.0.0/8 masquerade' in post
    assert not any("10.199.2.0/24" in line for line in post)


def test_published_ports_long_and_short_forms() -> None:
    ports = [
        nft.PortRule(protocol="tcp", host_ip="127.0.0.1", host_port=18080, target_ip="10.199.0.2",
                     target_ip6=None, container_port=80),
        nft.PortRule(protocol="udp", host_ip="", host_port=5353, target_ip="10.199.0.2",
                     target_ip6="fd00::2", container_port=53),
    ]
    script = nft.render(table="t", networks=[A], ports=ports)
    assert _chain(script, "published") == [
        "ip daddr 127.0.0.1 tcp dport 18080 dnat ip to 10.199.0.2:80",
        "meta nfproto ipv4 udp dport 5353 dnat ip to 10.199.0.2:53",
        "ip6 daddr != ::1 udp dport 5353 dnat ip6 to [fd00::2]:53",
    ]
    assert "fib daddr type local jump published" in _chain(script, "prerouting")
    assert "fib daddr type local jump published" in _chain(script, "output")
