"""Fixtures of the network integration tests: a NetworkService on the test pool with a
table of its own, "containers" that are bare sandboxes running busybox, an upstream DNS.

Traffic goes only to 127.0.0.0/8 and to namespaces and bridges made here. Teardown
removes every sandbox, network, nft table and process made, even after a failure,
and puts back the forwarding sysctls.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from dnslib import QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSServer

from runtime.api import EndpointConfig, EndpointInfo
from runtime.config import EngineConfig
from runtime.events import EventLog
from runtime.metadata import Metadata
from runtime.network import bridge, nft
from runtime.network.service import BRIDGE_PREFIX, NetworkService

BUSYBOX = "/bin/busybox"
FORWARDING = ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding")
UPSTREAM_IP = "127.0.0.77"
OUTSIDE_NAME = "outside.example"
OUTSIDE_ADDRESS = "192.0.2.77"  # only ever an answer in a DNS reply; never contacted


class _Upstream(BaseResolver):  # type: ignore[misc]
    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        reply = request.reply()
        if str(request.q.qname).rstrip(".") == OUTSIDE_NAME:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(OUTSIDE_ADDRESS), ttl=60))
        else:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


def _free_port(host: str) -> int:
    """A port free for both udp and tcp on ``host`` (the upstream listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            try:
                tcp.bind((host, port))
            except OSError:
                continue
            return port


@pytest.fixture
def upstream_dns() -> Iterator[str]:
    """A tiny DNS server on 127.0.0.77 (udp and tcp) that knows one name; "ip:port"."""
    port = _free_port(UPSTREAM_IP)
    servers = [DNSServer(_Upstream(), port=port, address=UPSTREAM_IP, tcp=tcp)
               for tcp in (False, True)]
    for server in servers:
        server.start_thread()
    try:
        yield f"{UPSTREAM_IP}:{port}"
    finally:
        for server in servers:
            server.stop()
            server.server.server_close()


class Lab:
    """A NetworkService plus "containers": sandboxes with busybox processes in them."""

    busybox = BUSYBOX
    outside_name = OUTSIDE_NAME  # the one name the upstream DNS knows
    outside_address = OUTSIDE_ADDRESS

    def __init__(self, svc: NetworkService, tmp: Path) -> None:
        self.svc = svc
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        self.endpoints: dict[str, list[EndpointInfo]] = {}

    def netns(self, cid: str) -> Path:
        return self.svc.config.netns_dir / cid

    def container(self, cid: str, networks: Sequence[str], *, names: Sequence[str] = (),
                  aliases: Sequence[str] = (), **endpoint: str) -> list[EndpointInfo]:
        self.svc.sandbox_create(cid)
        self.endpoints[cid] = [
            self.svc.attach(cid, EndpointConfig(network=net, aliases=tuple(aliases), **endpoint),
                            names=[cid, *names], interface=f"eth{i}")
            for i, net in enumerate(networks)]
        return self.endpoints[cid]

    def ip(self, cid: str, index: int = 0) -> str:
        address = self.endpoints[cid][index].ipv4_address
        assert address is not None
        return address.split("/")[0]

    def start(self, cid: str, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(["nsenter", f"--net={self.netns(cid)}", *args],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def httpd(self, cid: str) -> None:
        """busybox httpd on port 80 serving "hello from <cid>"."""
        www = self.tmp / f"www-{cid}"
        www.mkdir()
        (www / "index.html").write_text(f"hello from {cid}\n")
        self.start(cid, BUSYBOX, "httpd", "-f", "-p", "80", "-h", str(www))
        deadline = time.monotonic() + 5
        while self.wget(cid, "http://127.0.0.1/", timeout=1)[0] != 0:
            assert time.monotonic() < deadline, f"httpd in {cid} did not start"
            time.sleep(0.05)

    def wget(self, cid: str | None, url: str, *, timeout: float = 3) -> tuple[int, str]:
        """busybox wget in ``cid``'s namespace (the host's when None), with the container's
        resolv.conf bound over /etc/resolv.conf in a private mount namespace."""
        if cid is None:
            cmd = [BUSYBOX, "wget", "-q", "-O", "-", url]
        else:
            resolv = self.tmp / f"resolv-{cid}.conf"
            resolv.write_text(self.svc.resolv_conf(self.endpoints.get(cid, []), dns=[],
                                                   dns_search=[], dns_opt=[]))
            # exec all the way down: a timeout kills busybox itself, not a parent of it
            script = (f"mount --bind {resolv} /etc/resolv.conf && exec nsenter "
                      f"--net={self.netns(cid)} {BUSYBOX} wget -q -O - {url}")
            cmd = ["unshare", "-m", "sh", "-c", script]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            return -1, ""
        return proc.returncode, proc.stdout.strip()

    def stop_processes(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
        self.procs.clear()


@pytest.fixture
def net_config(engine_config: EngineConfig) -> EngineConfig:
    """The test engine's config: its own pool, dirs and nftables table (tests/conftest.py)."""
    assert engine_config.nft_table.startswith("stk_t_")
    return engine_config


def _teardown(svc: NetworkService) -> None:
    for row in svc.md.query("SELECT container_id FROM net_sandboxes"):
        svc.sandbox_remove(row["container_id"])
    for net in svc.list():
        svc.remove(net.id)
    nft.delete_table(svc.config.nft_table)
    svc.dns.stop()


@pytest.fixture(autouse=True)
def forwarding_restored() -> Iterator[None]:
    """Put back the forwarding sysctls the engine turned on, unless another engine's
    bridges (other tests running at the same time) still need them."""
    saved = {path: Path(path).read_text() for path in FORWARDING if Path(path).exists()}
    try:
        yield
    finally:
        with bridge.host_ipr() as ipr:
            others = bridge.links_with_prefix(ipr, BRIDGE_PREFIX)
        if not others:
            for path, value in saved.items():
                Path(path).write_text(value)


@pytest.fixture
def lab(net_config: EngineConfig, short_tmp: Path, upstream_dns: str) -> Iterator[Lab]:
    config = replace(net_config, dns_upstream=(upstream_dns,))
    md = Metadata(config.metadata_db)
    svc = NetworkService(config, md, EventLog(md))
    work = short_tmp / "lab"
    work.mkdir()
    lab = Lab(svc, work)
    try:
        yield lab
    finally:
        lab.stop_processes()
        try:
            _teardown(svc)
        finally:
            md.close()
