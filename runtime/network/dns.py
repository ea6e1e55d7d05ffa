"""The embedded DNS: a resolver per network, listening on the network's gateway.

``Resolver`` answers one query (wire format by dnslib): names of containers on
the network the query arrived on (container names, service names,
``<service>.<project>``, aliases) get every address, rotated per query; other
names without a dot get NXDOMAIN at once; names with dots are forwarded to the
upstream resolvers (not from internal networks, which have no way out).
``DnsServer`` owns the UDP and TCP sockets, one pair per gateway, and runs in
whatever thread calls ``serve`` (a thread of stackd, or the small process of
runtime.network.dnsd). ``SqliteNames`` reads the name table the engine keeps in
its metadata database, so a change is seen by the next query.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import logging
import selectors
import socket
import sqlite3
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dnslib import AAAA, QTYPE, RCODE, RR, A, DNSError, DNSRecord

log = logging.getLogger(__name__)

TTL = 5  # short: replicas come and go, and round robin needs fresh answers
IP_FREEBIND = 15  # bind before the bridge has its address (Linux)
UDP_MAX = 512


@dataclass(frozen=True, slots=True, kw_only=True)
class Listener:
    network_id: str
    forward: bool  # internal networks do not forward


class NameTable(Protocol):
    def lookup(self, network_id: str, name: str,
               client: str | None = None) -> list[tuple[str | None, str | None]]:
        """(ipv4, ipv6) of every endpoint known by ``name`` (lowercase) on ``network_id``, or
        else on the other networks of the container at address ``client`` of that network.
        An endpoint that must not be answered now (its container is not healthy) comes as
        (None, None): the name exists (NODATA), it just has no address to give."""
        ...


_LOOKUP = ("SELECT e.ipv4, e.ipv6, n.container_id FROM net_names n JOIN net_endpoints e "
           "ON e.container_id = n.container_id AND e.network_id = n.network_id "
           "WHERE n.name = ? AND ")


class SqliteNames:
    """The name table in the engine's metadata database (tables of runtime.network.store).

    ``hidden``: the ids of containers not to answer now (stackd's supervisor knows which
    are not healthy); called once per lookup that finds something."""

    def __init__(self, db_path: Path, *,
                 hidden: Callable[[], AbstractSet[str]] | None = None) -> None:
        self.db_path = db_path
        self.hidden = hidden
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, timeout=5, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
        return conn

    def lookup(self, network_id: str, name: str,
               client: str | None = None) -> list[tuple[str | None, str | None]]:
        conn = self._conn()
        rows = conn.execute(_LOOKUP + "n.network_id = ? ORDER BY e.rowid",
                            (name, network_id)).fetchall()
        if not rows and client is not None:
            # Not on this network: the asker's other networks (it reaches those directly).
            rows = conn.execute(
                _LOOKUP + "n.network_id IN (SELECT network_id FROM net_endpoints WHERE "
                "container_id = (SELECT container_id FROM net_endpoints WHERE network_id = ? "
                "AND (ipv4 = ? OR ipv6 = ?))) ORDER BY e.rowid",
                (name, network_id, client, client)).fetchall()
        hidden = self.hidden() if rows and self.hidden is not None else frozenset()
        return [(None, None) if r[2] in hidden else (r[0], r[1]) for r in rows]

    def data_version(self) -> int:
        return int(self._conn().execute("PRAGMA data_version").fetchone()[0])

    def listeners(self) -> dict[str, Listener]:
        """Gateway address -> listener, for every network in the table."""
        try:
            rows = self._conn().execute("SELECT id, internal, info FROM net_networks").fetchall()
        except sqlite3.OperationalError:  # tables not made yet
            return {}
        found: dict[str, Listener] = {}
        for network_id, internal, info in rows:
            for pool in json.loads(info)["ipam"]:
                if pool.get("gateway"):
                    found[pool["gateway"]] = Listener(network_id=network_id,
                                                      forward=not internal)
        return found


def parse_upstream(text: str) -> tuple[str, int]:
    """"1.2.3.4", "1.2.3.4:5353", "[::1]:53" or "::1" -> (host, port)."""
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
        return host.rstrip("]"), int(port or 53)
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, 53


def host_upstreams(resolv_conf: Path = Path("/etc/resolv.conf")) -> list[tuple[str, int]]:
    """The host's resolvers; behind systemd-resolved's stub, the real ones it uses."""
    servers = _nameservers(resolv_conf)
    if servers and all(s == "127.0.0.53" for s in servers):
        real = _nameservers(Path("/run/systemd/resolve/resolv.conf"))
        servers = real or servers
    return [(s, 53) for s in servers]


def _nameservers(path: Path) -> list[str]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    return [parts[1] for parts in (line.split() for line in lines)
            if len(parts) >= 2 and parts[0] == "nameserver"]


class Resolver:
    def __init__(self, *, names: NameTable, upstreams: Sequence[tuple[str, int]],
                 timeout: float = 2.0) -> None:
        self.names = names
        self.upstreams = list(upstreams)
        self.timeout = timeout
        self._turn = itertools.count()

    def answer(self, data: bytes, *, listener: Listener, tcp: bool = False,
               client: str | None = None) -> bytes | None:
        """The reply to one query, or None for garbage (dropped, like any server does)."""
        request = parse_query(data)
        if request is None:
            return None
        local = self.answer_local(request, listener=listener, tcp=tcp, client=client)
        return local if local is not None else self.forward(data, request, tcp=tcp)

    def answer_local(self, request: DNSRecord, *, listener: Listener, tcp: bool = False,
                     client: str | None = None) -> bytes | None:
        """The reply when it needs no upstream; None when the query must be forwarded."""
        name = str(request.q.qname).rstrip(".").lower()
        found = self.names.lookup(listener.network_id, name, client)
        if found:
            return self._local_reply(request, found, tcp=tcp)
        if "." in name and listener.forward and self.upstreams:
            return None
        reply = request.reply()
        if "." not in name:
            reply.header.rcode = RCODE.NXDOMAIN
            reply.header.aa = 1
        else:
            reply.header.rcode = RCODE.SERVFAIL
        return bytes(reply.pack())

    def _local_reply(self, request: DNSRecord, found: list[tuple[str | None, str | None]],
                     *, tcp: bool) -> bytes:
        reply = request.reply()
        reply.header.aa = 1
        qtype = request.q.qtype
        turn = next(self._turn)
        if qtype in (QTYPE.A, QTYPE.ANY):
            v4 = [a for a, _ in found if a]
            for address in _rotated(v4, turn):
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=TTL))
        if qtype in (QTYPE.AAAA, QTYPE.ANY):
            v6 = [b for _, b in found if b]
            for address in _rotated(v6, turn):
                reply.add_answer(RR(request.q.qname, QTYPE.AAAA, rdata=AAAA(address), ttl=TTL))
        packed = bytes(reply.pack())
        if not tcp and len(packed) > UDP_MAX:
            truncated = request.reply()
            truncated.header.aa = 1
            truncated.header.tc = 1
            packed = bytes(truncated.pack())
        return packed

    def forward(self, data: bytes, request: DNSRecord, *, tcp: bool) -> bytes:
        for host, port in self.upstreams:
            try:
                return _ask(data, host, port, tcp=tcp, timeout=self.timeout)
            except OSError as exc:
                log.debug("upstream %s:%d failed: %s", host, port, exc)
        reply = request.reply()
        reply.header.rcode = RCODE.SERVFAIL
        return bytes(reply.pack())


def parse_query(data: bytes) -> DNSRecord | None:
    try:
        request = DNSRecord.parse(data)
    except (DNSError, struct.error, ValueError, IndexError):
        return None
    if request.header.qr or not request.questions:
        return None
    return request


def _rotated(items: list[str], turn: int) -> list[str]:
    if not items:
        return items
    k = turn % len(items)
    return items[k:] + items[:k]


def _ask(data: bytes, host: str, port: int, *, tcp: bool, timeout: float) -> bytes:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if tcp:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(struct.pack("!H", len(data)) + data)
            return _read_tcp_message(conn)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect((host, port))
        sock.send(data)
        while True:
            reply = sock.recv(65535)
            if reply[:2] == data[:2]:  # same query id; anything else is stale
                return reply


def _read_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed mid-message")
        buf += chunk
    return buf


def _read_tcp_message(conn: socket.socket) -> bytes:
    (length,) = struct.unpack("!H", _read_exact(conn, 2))
    return _read_exact(conn, length)


def _send(sock: socket.socket, reply: bytes, peer: tuple[str, int]) -> None:
    try:
        sock.sendto(reply, peer)
    except OSError as exc:
        log.debug("DNS: reply to %s lost: %s", peer, exc)


class DnsServer:
    """UDP and TCP listeners on each network's gateway, served by one ``serve`` loop.

    Local answers are given inline; forwarded queries and TCP connections run in a
    small thread pool so a slow upstream never holds up the names we know."""

    def __init__(self, resolver: Resolver, *, port: int = 53, workers: int = 8) -> None:
        self.resolver = resolver
        self.port = port
        self._sel = selectors.DefaultSelector()
        self._socks: dict[str, tuple[socket.socket, socket.socket]] = {}
        self._listeners: dict[str, Listener] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stack-dns")
        self._stop = threading.Event()

    @property
    def addresses(self) -> list[str]:
        return sorted(self._socks)

    def update(self, listeners: Mapping[str, Listener]) -> None:
        """Listen on exactly the addresses of ``listeners``. Failures are logged, not raised:
        one bad network must not take DNS away from the others."""
        for address in list(self._socks):
            if address not in listeners:
                for sock in self._socks.pop(address):
                    self._sel.unregister(sock)
                    sock.close()
        self._listeners = dict(listeners)
        for address in listeners:
            if address in self._socks:
                continue
            try:
                self._socks[address] = self._bind(address)
            except OSError as exc:
                log.warning("DNS: cannot listen on %s:%d: %s", address, self.port, exc)

    def _bind(self, address: str) -> tuple[socket.socket, socket.socket]:
        family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
        udp = socket.socket(family, socket.SOCK_DGRAM)
        tcp = socket.socket(family, socket.SOCK_STREAM)
        try:
            for sock in (udp, tcp):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
                sock.bind((address, self.port))
                sock.setblocking(False)
            tcp.listen(64)
        except OSError:
            udp.close()
            tcp.close()
            raise
        self._sel.register(udp, selectors.EVENT_READ, ("udp", address))
        self._sel.register(tcp, selectors.EVENT_READ, ("tcp", address))
        return udp, tcp

    def serve(self, *, tick: Callable[[], None] | None = None, interval: float = 0.1) -> None:
        """Serve until ``stop``; ``tick`` runs every ``interval`` seconds (to reload)."""
        while not self._stop.is_set():
            for key, _ in self._sel.select(timeout=interval):
                kind, address = key.data
                listener = self._listeners.get(address)
                if listener is None:
                    continue
                if kind == "udp":
                    self._on_udp(key.fileobj, listener)  # type: ignore[arg-type]
                else:
                    self._on_tcp(key.fileobj, listener)  # type: ignore[arg-type]
            if tick is not None:
                tick()

    def _on_udp(self, sock: socket.socket, listener: Listener) -> None:
        try:
            data, peer = sock.recvfrom(65535)
        except OSError:
            return
        request = parse_query(data)
        if request is None:
            return
        try:
            reply = self.resolver.answer_local(request, listener=listener, client=peer[0])
        except Exception:  # a bug must not stop the server; the client retries
            log.exception("DNS: query from %s failed", peer)
            return
        if reply is None:
            self._pool.submit(self._forward_udp, sock, peer, data, request)
        else:
            _send(sock, reply, peer)

    def _forward_udp(self, sock: socket.socket, peer: tuple[str, int], data: bytes,
                     request: DNSRecord) -> None:
        _send(sock, self.resolver.forward(data, request, tcp=False), peer)

    def _on_tcp(self, sock: socket.socket, listener: Listener) -> None:
        try:
            conn, peer = sock.accept()
        except OSError:
            return
        self._pool.submit(self._tcp_session, conn, listener, peer[0])

    def _tcp_session(self, conn: socket.socket, listener: Listener, client: str) -> None:
        conn.setblocking(True)
        conn.settimeout(5.0)
        with conn:
            try:
                while True:
                    data = _read_tcp_message(conn)
                    reply = self.resolver.answer(data, listener=listener, tcp=True,
                                                 client=client)
                    if reply is None:
                        return
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
            except (OSError, ConnectionError, struct.error):
                return

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.update({})
        self._sel.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
