"""The embedded DNS resolver and server over real sockets on 127.0.0.1 (no root).

The "upstream" is dnslib's own small server, started here on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib import QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSServer

from runtime.network.dns import DnsServer, Listener, Resolver, host_upstreams, parse_upstream

NET = Listener(network_id="net1", forward=True)
INTERNAL = Listener(network_id="net2", forward=False)


class Table:
    def __init__(self) -> None:
        self.names: dict[tuple[str, str], list[tuple[str | None, str | None]]] = {
            ("net1", "web"): [("10.1.0.2", None), ("10.1.0.3", None), ("10.1.0.4", "fd00::4")],
            ("net1", "db.proj"): [("10.1.0.9", None)],
            ("net2", "other"): [("10.2.0.2", None)],
        }
        self.containers = {("net1", "10.1.0.2"): ["net1", "net2"]}

    def lookup(self, network_id: str, name: str,
               client: str | None = None) -> list[tuple[str | None, str | None]]:
        found = self.names.get((network_id, name), [])
        if not found and client:
            for other in self.containers.get((network_id, client), []):
                found += self.names.get((other, name), [])
        return found


class Upstream(BaseResolver):  # type: ignore[misc]
    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        reply = request.reply()
        if str(request.q.qname) == "outside.example.":
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A("192.0.2.77"), ttl=60))
        else:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


def _free_port(host: str = "127.0.0.1") -> int:
    """A port free for both udp and tcp on ``host`` (the servers here listen on both)."""
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
def upstream() -> Iterator[tuple[str, int]]:
    port = _free_port()
    servers = [DNSServer(Upstream(), port=port, address="127.0.0.1", tcp=tcp)
               for tcp in (False, True)]
    for server in servers:
        server.start_thread()
    try:
        yield ("127.0.0.1", port)
    finally:
        for server in servers:
            server.stop()
            server.server.server_close()


def _ask(resolver: Resolver, name: str, qtype: str = "A", *, listener: Listener = NET,
         client: str | None = None) -> DNSRecord:
    data = resolver.answer(DNSRecord.question(name, qtype).pack(), listener=listener,
                           client=client)
    assert data is not None
    return DNSRecord.parse(data)


def _addresses(reply: DNSRecord) -> list[str]:
    return [str(rr.rdata) for rr in reply.rr]


def test_replicas_all_returned_and_rotated() -> None:
    resolver = Resolver(names=Table(), upstreams=[])
    first = _addresses(_ask(resolver, "web"))
    second = _addresses(_ask(resolver, "WEB."))
    assert sorted(first) == ["10.1.0.2", "10.1.0.3", "10.1.0.4"]
    assert sorted(second) == sorted(first) and second != first
    assert _addresses(_ask(resolver, "web", "AAAA")) == ["fd00::4"]


def test_unknown_short_name_is_nxdomain_and_known_name_other_type_is_empty() -> None:
    resolver = Resolver(names=Table(), upstreams=[("127.0.0.1", 9)])
    reply = _ask(resolver, "nosuch")
    assert reply.header.rcode == RCODE.NXDOMAIN and reply.header.aa == 1
    reply = _ask(resolver, "db.proj", "MX")
    assert reply.header.rcode == RCODE.NOERROR and not reply.rr


def test_names_on_the_askers_other_networks() -> None:
    resolver = Resolver(names=Table(), upstreams=[])
    assert _addresses(_ask(resolver, "other", client="10.1.0.2")) == ["10.2.0.2"]
    assert _ask(resolver, "other", client="10.1.0.3").header.rcode == RCODE.NXDOMAIN


def test_dotted_names_are_forwarded(upstream: tuple[str, int]) -> None:
    resolver = Resolver(names=Table(), upstreams=[upstream])
    assert _addresses(_ask(resolver, "outside.example")) == ["192.0.2.77"]
    assert _ask(resolver, "nosuch.example").header.rcode == RCODE.NXDOMAIN
    assert _addresses(_ask(resolver, "db.proj")) == ["10.1.0.9"]  # ours, not forwarded
    # internal networks have no way out
    assert _ask(resolver, "outside.example", listener=INTERNAL).header.rcode == RCODE.SERVFAIL


def test_dead_upstream_gives_servfail() -> None:
    resolver = Resolver(names=Table(), upstreams=[("127.0.0.1", _free_port())], timeout=0.2)
    assert _ask(resolver, "outside.example").header.rcode == RCODE.SERVFAIL


def test_server_udp_and_tcp(upstream: tuple[str, int]) -> None:
    port = _free_port()
    server = DnsServer(Resolver(names=Table(), upstreams=[upstream]), port=port)

    server.update({"127.0.0.1": NET})
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        q = DNSRecord.question("web")
        t0 = time.monotonic()
        udp = DNSRecord.parse(q.send("127.0.0.1", port, timeout=2))
        assert time.monotonic() - t0 < 0.1
        assert len(udp.rr) == 3
        tcp = DNSRecord.parse(DNSRecord.question("outside.example").send(
            "127.0.0.1", port, tcp=True, timeout=2))
        assert _addresses(tcp) == ["192.0.2.77"]
        fwd = DNSRecord.parse(DNSRecord.question("outside.example").send("127.0.0.1", port,
                                                                         timeout=2))
        assert _addresses(fwd) == ["192.0.2.77"]
        server.update({})
        assert server.addresses == []
    finally:
        server.stop()
        thread.join(timeout=2)
        server.close()


def test_upstream_forms() -> None:
    assert parse_upstream("127.0.0.9") == ("127.0.0.9", 53)
    assert parse_upstream("127.0.0.9:5300") == ("127.0.0.9", 5300)
    assert parse_upstream("[::1]:5300") == ("::1", 5300)
    assert parse_upstream("::1") == ("::1", 53)


def test_host_upstreams_from_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch x\n")
    assert host_upstreams(conf) == [("192.0.2.53", 53), ("192.0.2.54", 53)]
