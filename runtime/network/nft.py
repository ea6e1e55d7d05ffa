"""Packet filtering and NAT in one nftables table of our own (inet family).

The whole table is rendered from the stored networks and published ports
(``render``, pure) and loaded in one ``nft -f -`` transaction that deletes and
re-creates it, so the kernel never sees a half-written rule set and a crashed
run's leftovers are simply replaced. We never touch another table.

What the rules do, per network (bridge ``B``, subnet ``S``):
- forward: traffic within B passes (br_netfilter sends bridged frames through
  this hook too); an internal B has no traffic to or from elsewhere; new
  connections into B from anywhere else are dropped unless they were DNATed to
  a published port (isolation between networks); replies pass.
- postrouting: S leaving by another interface is masqueraded (non-internal);
  DNATed connections from inside S back into B (hairpin) and from 127.0.0.0/8
  (published ports reached from the host's loopback) are masqueraded.
- prerouting and output: connections to a local address and a published port
  are DNATed to the container (output covers the host's own connections,
  127.0.0.1 included; the bridge has route_localnet=1 for that).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runtime.errors import Failed, Unavailable

log = logging.getLogger(__name__)

NFT = "nft"


@dataclass(frozen=True, slots=True, kw_only=True)
class NetRule:
    bridge: str
    subnets: tuple[str, ...]  # IPv4 and IPv6 subnets
    internal: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PortRule:
    protocol: str  # tcp | udp | sctp
    host_ip: str  # "" = every local address
    host_port: int
    target_ip: str
    target_ip6: str | None
    container_port: int


def _q(name: str) -> str:
    return json.dumps(name)  # a quoted nft string


def _dnat(port: PortRule) -> list[str]:
    proto, hp, cp = port.protocol, port.host_port, port.container_port
    lines = []
    if port.host_ip:
        host = ipaddress.ip_address(port.host_ip)
        if host.version == 4:
            lines.append(f"ip daddr {host} {proto} dport {hp} dnat ip to {port.target_ip}:{cp}")
        elif port.target_ip6 and not host.is_loopback:
            lines.append(f"ip6 daddr {host} {proto} dport {hp} "
                         f"dnat ip6 to [{port.target_ip6}]:{cp}")
        return lines
    lines.append(f"meta nfproto ipv4 {proto} dport {hp} dnat ip to {port.target_ip}:{cp}")
    if port.target_ip6:
        # ::1 cannot be routed out of the host (IPv6 has no route_localnet).
        lines.append(f"ip6 daddr != ::1 {proto} dport {hp} "
                     f"dnat ip6 to [{port.target_ip6}]:{cp}")
    return lines


def render(*, table: str, networks: Sequence[NetRule], ports: Sequence[PortRule]) -> str:
    """The complete nft script for ``table``. Pure."""
    # Order matters: same-bridge traffic first, then everything internal networks may not
    # do (before any accept below could let a DNATed packet out of one), then the rest.
    fwd = [f"iifname {_q(n.bridge)} oifname {_q(n.bridge)} accept" for n in networks]
    post: list[str] = []
    for net in networks:
        if net.internal:
            fwd += [f"iifname {_q(net.bridge)} drop", f"oifname {_q(net.bridge)} drop"]
    for net in networks:
        if net.internal:
            continue
        b = _q(net.bridge)
        fwd += [f"oifname {b} ct state established,related accept",
                f"oifname {b} ct status dnat accept",
                f"oifname {b} drop"]
        post.append(f"oifname {b} ip saddr 127.0.0.0/8 masquerade")
        for subnet in net.subnets:
            fam = "ip" if ipaddress.ip_network(subnet).version == 4 else "ip6"
            post.append(f"oifname {b} {fam} saddr {subnet} ct status dnat masquerade")
            post.append(f"oifname != {b} {fam} saddr {subnet} masquerade")
    published = [line for port in ports for line in _dnat(port)]
    body = [
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
        *[f"    {x}" for x in fwd],
        "  }",
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        *[f"    {x}" for x in post],
        "  }",
        "  chain published {",
        *[f"    {x}" for x in published],
        "  }",
        "  chain prerouting {",
        "    type nat hook prerouting priority dstnat; policy accept;",
        "    fib daddr type local jump published",
        "  }",
        "  chain output {",
        "    type nat hook output priority -100; policy accept;",
        "    fib daddr type local jump published",
        "  }",
    ]
    # "add" then "delete" makes the delete safe when the table is absent; the whole
    # script is one transaction.
    return "\n".join([f"add table inet {table}", f"delete table inet {table}",
                      f"table inet {table} {{", *body, "}", ""])


def _run(args: list[str], *, script: str | None = None) -> str:
    try:
        proc = subprocess.run([NFT, *args], input=script, capture_output=True, text=True,
                              check=False, timeout=30)
    except FileNotFoundError as exc:
        raise Unavailable("nftables: the nft program is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise Unavailable("nftables: nft did not answer within 30 s") from exc
    if proc.returncode != 0:
        raise Failed(f"nftables: nft {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def apply(script: str) -> None:
    _run(["-f", "-"], script=script)


def delete_table(table: str) -> None:
    """Remove our table. Idempotent."""
    _run(["-f", "-"], script=f"add table inet {table}\ndelete table inet {table}\n")


def table_exists(table: str) -> bool:
    out = _run(["-j", "list", "tables", "inet"])
    items: list[dict[str, Any]] = json.loads(out).get("nftables", []) if out.strip() else []
    return any(item.get("table", {}).get("name") == table for item in items)
