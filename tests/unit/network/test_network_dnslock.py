"""One resolver per engine (no root): the lock, the DNS process giving way to its holder,
and names of containers that are not healthy answered without addresses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dnslib import QTYPE, RCODE, DNSRecord

from runtime.metadata import Metadata
from runtime.network import store
from runtime.network.dns import Listener, Resolver, SqliteNames
from runtime.network.dnslock import THREAD_STATE, ResolverLock, listening
from runtime.network.dnsproc import DnsProcess


def test_the_lock_has_one_holder_and_names_it(tmp_path: Path) -> None:
    first, second = ResolverLock(tmp_path), ResolverLock(tmp_path)
    assert first.holder() is None
    assert first.acquire() and first.acquire()  # idempotent
    try:
        assert not second.acquire(timeout=0.05)
        assert second.holder() == os.getpid() and first.held and not second.held
    finally:
        first.release()
    assert second.holder() is None
    assert second.acquire()
    second.release()


def test_the_dns_process_defers_to_the_holder(tmp_path: Path) -> None:
    """As beside stackd: nothing is started, the holder is the resolver, its state is read."""
    run = tmp_path / "run"
    holder = ResolverLock(run)
    assert holder.acquire()
    try:
        proc = DnsProcess(db=tmp_path / "metadata.db", run_dir=run, upstreams=["127.0.0.1:9"])
        assert proc.ensure_running() == os.getpid()
        assert proc.process_pid() is None and not proc.pid_file.exists()
        (run / THREAD_STATE).write_text(json.dumps({"pid": os.getpid(),
                                                    "listening": ["10.9.0.1"]}))
        assert listening(run, os.getpid()) == {"10.9.0.1"}
        proc.wait_listening(["10.9.0.1"], timeout=1)
        proc.stop()  # never the holder
        assert holder.holder() == os.getpid()

        # A dnsd started anyway (a race) exits without binding anything.
        result = subprocess.run(
            [sys.executable, "-m", "runtime.network.dnsd", "--db", str(tmp_path / "metadata.db"),
             "--state", str(run / "dnsd.json"), "--upstream", "127.0.0.1:9"],
            capture_output=True, text=True, timeout=30)
        assert result.returncode == 0 and "another resolver" in result.stderr
        assert not (run / "dnsd.json").exists()
    finally:
        holder.release()


def test_hidden_containers_are_answered_without_addresses(tmp_path: Path) -> None:
    md = Metadata(tmp_path / "metadata.db")
    store.ensure_schema(md)
    with md.transaction() as db:
        for cid, ip in (("c1", "10.9.0.2"), ("c2", "10.9.0.3")):
            db.execute("INSERT INTO net_endpoints(container_id, network_id, host_if, "
                       "default_route, info, ipv4) VALUES (?, 'n1', 'v', 1, '{}', ?)", (cid, ip))
            db.execute("INSERT INTO net_names(network_id, name, container_id) "
                       "VALUES ('n1', 'web', ?)", (cid,))
    hidden: set[str] = set()
    names = SqliteNames(tmp_path / "metadata.db", hidden=lambda: hidden)
    resolver = Resolver(names=names, upstreams=[])
    net = Listener(network_id="n1", forward=True)

    def ask() -> DNSRecord:
        reply = resolver.answer(DNSRecord.question("web").pack(), listener=net)
        assert reply is not None
        return DNSRecord.parse(reply)

    assert sorted(str(rr.rdata) for rr in ask().rr) == ["10.9.0.2", "10.9.0.3"]
    hidden.add("c2")
    assert [str(rr.rdata) for rr in ask().rr] == ["10.9.0.2"]
    hidden.add("c1")
    reply = ask()  # the name exists, with nothing to give now: NODATA, not NXDOMAIN
    assert reply.header.rcode == RCODE.NOERROR and reply.rr == []
    assert reply.q.qtype == QTYPE.A
    md.close()
