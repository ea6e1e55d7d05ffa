"""The networks' DNS is served by stackd itself: after a kill -9 and a restart, beside an
in-process engine, and only for healthy replicas of a service with a healthcheck."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import replace

import pytest
from dnslib import RCODE, DNSRecord

from runtime.api import ContainerConfig, EndpointConfig, Healthcheck, ImageInfo, NetworkConfig
from runtime.engine import LocalEngine
from runtime.network.dnslock import ResolverLock
from runtime.network.dnsproc import DnsProcess
from tests.integration.daemon.stackd_harness import NFT_TABLE, StackdProcess

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def on_net(name: str, *, aliases: tuple[str, ...] = (), script: str = "sleep 60",
           healthcheck: Healthcheck | None = None) -> ContainerConfig:
    return ContainerConfig(name=name, image="busybox:latest", command=("sh", "-c", script),
                           networks=(EndpointConfig(network="dns-net", aliases=aliases),),
                           healthcheck=healthcheck)


def lookup(stackd: StackdProcess, asker: str, name: str) -> set[str]:
    """The addresses ``name`` resolves to in container ``asker`` (busybox nslookup)."""
    result = stackd.client.container_exec(asker, ["nslookup", "-type=a", name])
    _, _, answers = result.stdout.decode().partition("\n\n")  # after the server's block
    return {line.split()[-1] for line in answers.splitlines() if line.startswith("Address")}


def address(stackd: StackdProcess, name: str) -> str:
    return (stackd.client.container_inspect(name).networks[0].ipv4_address or "").split("/")[0]


def test_a_restarted_daemon_serves_dns_again(busybox_image: ImageInfo,
                                             stackd: StackdProcess) -> None:
    """stackd serves DNS itself; kill -9 takes it away; the next stackd serves every network
    at once, taking over from the DNS process an in-process engine started meanwhile."""
    client = stackd.client
    net_dir = stackd.config.run_dir / "network"
    client.network_create(NetworkConfig(name="dns-net"))
    for name, aliases in (("web", ("websvc",)), ("asker", ())):
        client.container_create(on_net(name, aliases=aliases))
        client.container_start(name)
    web_ip = address(stackd, "web")

    def resolves() -> bool:
        return lookup(stackd, "asker", "websvc") == {web_ip}

    assert resolves()
    assert stackd.proc is not None
    assert ResolverLock(net_dir).holder() == stackd.proc.pid  # no process of its own
    assert not (net_dir / "dnsd.pid").exists()

    stackd.kill9()
    assert ResolverLock(net_dir).holder() is None
    # Without a daemon the in-process engine (STACK_ENGINE=local) runs its own resolver.
    local = LocalEngine(replace(stackd.config, nft_table=NFT_TABLE))
    try:
        other = local.network_create(NetworkConfig(name="other-net"))
        dnsd = DnsProcess(db=stackd.config.metadata_db, run_dir=net_dir, upstreams=[])
        first = dnsd.process_pid()
        assert first is not None

        stackd.start()  # serves DNS for every network before it answers the API
        assert dnsd.process_pid() is None  # the DNS process gave way: one resolver only
        with contextlib.suppress(ChildProcessError):
            os.waitpid(first, 0)  # our child: reap it
        assert stackd.proc is not None and ResolverLock(net_dir).holder() == stackd.proc.pid
        assert resolves()
        gateway = other.ipam[0].gateway or ""
        reply = DNSRecord.parse(DNSRecord.question("nosuch").send(gateway, 53, timeout=2))
        assert reply.header.rcode == RCODE.NXDOMAIN

        # The in-process engine beside stackd starts no resolver of its own either.
        local.network_remove("other-net")
        local.network_create(NetworkConfig(name="third-net"))
        assert dnsd.process_pid() is None
        local.network_remove("third-net")
        assert resolves()  # stackd's resolver stays
    finally:
        local.close()
    for name in ("web", "asker"):
        client.container_remove(name, force=True)
    client.network_remove("dns-net")


def test_dns_answers_only_healthy_replicas(busybox_image: ImageInfo,
                                           stackd: StackdProcess) -> None:
    client = stackd.client
    client.network_create(NetworkConfig(name="dns-net"))
    check = Healthcheck(test=("CMD-SHELL", "cat /tmp/ok"), interval=0.2, timeout=5, retries=1,
                        start_period=0, start_interval=0.2)
    replicas = {"web-1": "echo > /tmp/ok; sleep 60",  # healthy at once
                "web-2": "sleep 60",  # never healthy
                "web-3": "sleep 1.5; echo > /tmp/ok; sleep 60"}  # healthy after a while
    for name, script in replicas.items():
        client.container_create(on_net(name, aliases=("web",), script=script, healthcheck=check))
        client.container_start(name)
    client.container_create(on_net("plain", aliases=("other",)))  # no healthcheck: answered
    client.container_start("plain")
    ip = {name: address(stackd, name) for name in (*replicas, "plain")}

    wait_for("web-1 in the answer", lambda: lookup(stackd, "plain", "web") == {ip["web-1"]})
    assert lookup(stackd, "web-1", "other") == {ip["plain"]}
    assert lookup(stackd, "plain", "web-2") == set()  # its own name too, while not healthy
    wait_for("web-3 once healthy",
             lambda: lookup(stackd, "plain", "web") == {ip["web-1"], ip["web-3"]})
    for name in (*replicas, "plain"):
        client.container_remove(name, force=True)
    client.network_remove("dns-net")
