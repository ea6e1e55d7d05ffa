"""The embedded DNS on a network's gateway: replicas, NXDOMAIN, forwarding, from the
host (to our bridge's address) and from inside a sandbox (busybox nslookup)."""

from __future__ import annotations

import os
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
from dnslib import RCODE, DNSRecord

from runtime.api import EndpointConfig, NetworkConfig
from runtime.config import EngineConfig
from runtime.events import EventLog
from runtime.metadata import Metadata
from runtime.network import nft
from runtime.network.dnsthread import DnsThread
from runtime.network.service import NetworkService

if TYPE_CHECKING:
    from conftest import Lab

pytestmark = pytest.mark.root


def _ask(server: str, name: str, *, tcp: bool = False) -> DNSRecord:
    return DNSRecord.parse(DNSRecord.question(name).send(server, 53, tcp=tcp, timeout=2))


def test_replicas_rotated_nxdomain_fast_and_forwarding(lab: Lab) -> None:
    net = lab.svc.create(NetworkConfig(name="front"))
    gateway = net.ipam[0].gateway
    assert gateway is not None
    for n in (1, 2, 3):
        lab.container(f"proj-web-{n}", ["front"], names=["web", "web.proj"])
    replicas = sorted(lab.ip(f"proj-web-{n}") for n in (1, 2, 3))

    answers = [[str(rr.rdata) for rr in _ask(gateway, "web").rr] for _ in range(3)]
    assert all(sorted(a) == replicas for a in answers)
    assert len({tuple(a) for a in answers}) == 3  # a different order each time
    assert sorted(str(rr.rdata) for rr in _ask(gateway, "web.proj", tcp=True).rr) == replicas
    assert [str(rr.rdata) for rr in _ask(gateway, "proj-web-2").rr] == [lab.ip("proj-web-2")]

    start = time.monotonic()
    reply = _ask(gateway, "nosuch")
    assert time.monotonic() - start < 0.1
    assert reply.header.rcode == RCODE.NXDOMAIN

    reply = _ask(gateway, lab.outside_name)
    assert [str(rr.rdata) for rr in reply.rr] == [lab.outside_address]
    assert _ask(gateway, "nosuch.example").header.rcode == RCODE.NXDOMAIN  # upstream said so

    # from inside a sandbox, as a container asks
    out = subprocess.run(["nsenter", f"--net={lab.netns('proj-web-1')}", lab.busybox, "nslookup",
                          "web", gateway], capture_output=True, text=True, timeout=5).stdout
    assert all(ip in out for ip in replicas)


def test_names_follow_attach_and_detach(lab: Lab) -> None:
    net = lab.svc.create(NetworkConfig(name="front"))
    gateway = net.ipam[0].gateway
    assert gateway is not None
    lab.container("a", ["front"], names=["svc"])
    assert [str(rr.rdata) for rr in _ask(gateway, "svc").rr] == [lab.ip("a")]
    lab.svc.detach("a", "front")
    assert _ask(gateway, "svc").header.rcode == RCODE.NXDOMAIN


def test_resolver_hosted_in_a_thread(net_config: EngineConfig, upstream_dns: str) -> None:
    """As stackd will run it: the same resolver in a thread of the engine's process."""
    md = Metadata(net_config.metadata_db)
    runner = DnsThread(db=net_config.metadata_db, run_dir=net_config.run_dir,
                       upstreams=[upstream_dns])
    svc = NetworkService(net_config, md, EventLog(md), dns=runner)
    try:
        net = svc.create(NetworkConfig(name="front"))
        gateway = net.ipam[0].gateway or ""
        svc.sandbox_create("c1")
        svc.attach("c1", EndpointConfig(network="front"), names=["web"], interface="eth0")
        assert runner.pid() == os.getpid()
        assert len(_ask(gateway, "web").rr) == 1
        assert _ask(gateway, "nosuch").header.rcode == RCODE.NXDOMAIN
        svc.sandbox_remove("c1")
        svc.remove("front")
        assert runner.pid() is None
    finally:
        for row in md.query("SELECT container_id FROM net_sandboxes"):
            svc.sandbox_remove(row["container_id"])
        for n in svc.list():
            svc.remove(n.id)
        nft.delete_table(net_config.nft_table)
        runner.stop()
        md.close()
