#!/usr/bin/env python3
"""Benchmark (not a test) of the network part, as root, on its own temp engine.

1. Setup + teardown of one container's network: sandbox_create + attach + detach +
   sandbox_remove (target: median under 30 ms); also the usual removal path
   without a separate detach (sandbox_remove takes the endpoints along).
2. Published-port throughput: a large TCP transfer from a server in a sandbox, read
   on the host through the DNAT port (127.0.0.1:PORT) and straight from the
   container's IP, side by side (target: DNAT at least 0.9x direct).

    python3 bench/bench_network.py [--runs 30] [--mb 512] [--transfers 7]

Uses the pool 10.199.0.0/16, an nft table and temp dirs of its own; removes all it
made (and puts ip_forward back) when done. Traffic stays on this host.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runtime.api import EndpointConfig, NetworkConfig, PortBinding
from runtime.config import EngineConfig
from runtime.events import EventLog
from runtime.metadata import Metadata
from runtime.network import bridge, nft
from runtime.network.service import NetworkService

SERVER = """
import socket, sys
size = int(sys.argv[1])
chunk = b"\\0" * (1 << 20)
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 9000)); srv.listen(8)
while True:
    conn, _ = srv.accept()
    left = size
    while left > 0:
        left -= conn.send(chunk[:min(left, len(chunk))])
    conn.close()
"""


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def bench_setup(svc: NetworkService, runs: int) -> None:
    """Latency of the four calls for one container (the host idle in between, background
    veth deletion finished), and the full cycle back to back counting that deletion."""
    net = svc.create(NetworkConfig(name="bench"))
    latency, cycle, no_detach = [], [], []
    for i in range(runs):
        cid = f"bench{i:04d}" + secrets.token_hex(8)
        t0 = time.perf_counter()
        svc.sandbox_create(cid)
        svc.attach(cid, EndpointConfig(network=net.name), names=[cid], interface="eth0")
        svc.detach(cid, net.name)
        svc.sandbox_remove(cid)
        latency.append(time.perf_counter() - t0)
        bridge.reaper.drain()
        cycle.append(time.perf_counter() - t0)
        time.sleep(0.05)
        t0 = time.perf_counter()
        svc.sandbox_create(cid)
        svc.attach(cid, EndpointConfig(network=net.name), names=[cid], interface="eth0")
        svc.sandbox_remove(cid)
        no_detach.append(time.perf_counter() - t0)
        bridge.reaper.drain()
        time.sleep(0.05)
    for label, values in (
            ("create+attach+detach+remove, latency", latency),
            ("  same, until the veth is deleted too", cycle),
            ("create+attach+remove (no detach), latency", no_detach)):
        print(f"{label:44s} median {_ms(statistics.median(values))} "
              f"(min {_ms(min(values))}, max {_ms(max(values))}, {len(values)} runs)")
    print("  target: < 30 ms")
    svc.remove(net.name)


def _receive(host: str, port: int, size: int) -> float:
    buf = bytearray(1 << 20)
    with socket.create_connection((host, port), timeout=30) as conn:
        t0 = time.perf_counter()
        got = 0
        while True:
            n = conn.recv_into(buf)
            if not n:
                break
            got += n
        elapsed = time.perf_counter() - t0
    if got != size:
        raise RuntimeError(f"received {got} of {size} bytes")
    return size / elapsed


def bench_throughput(svc: NetworkService, mb: int, runs: int) -> None:
    net = svc.create(NetworkConfig(name="bench-tp"))
    cid = "benchtp" + secrets.token_hex(8)
    netns = svc.sandbox_create(cid)
    ep = svc.attach(cid, EndpointConfig(network=net.name), names=["server"], interface="eth0")
    size = mb << 20
    proc = subprocess.Popen(["nsenter", f"--net={netns}", sys.executable, "-c", SERVER,
                             str(size)])
    try:
        # every local address: reached from 127.0.0.1 and from the bridge's own address
        (bound,) = svc.publish(cid, [PortBinding(container_port=9000)], [ep])
        assert bound.host_port is not None
        direct_ip = (ep.ipv4_address or "").split("/")[0]
        gateway = net.ipam[0].gateway or ""
        deadline = time.monotonic() + 10
        while True:
            try:
                _receive(direct_ip, 9000, size)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        paths = {f"DNAT 127.0.0.1:{bound.host_port}": ("127.0.0.1", bound.host_port),
                 f"DNAT {gateway}:{bound.host_port}": (gateway, bound.host_port),
                 f"direct {direct_ip}:9000": (direct_ip, 9000)}
        rates: dict[str, list[float]] = {label: [] for label in paths}
        for _ in range(runs):  # interleaved, so load on the host hits every path alike
            for label, (host, port) in paths.items():
                rates[label].append(_receive(host, port, size))
        direct = rates[f"direct {direct_ip}:9000"]
        # the median, and the best (what a path does when other load leaves it alone)
        for what, pick in (("median", statistics.median), ("best", max)):
            print(f"throughput, {mb} MiB transfers, {what} of {runs}:")
            for label, values in rates.items():
                print(f"  {label:28s} {pick(values) / 1e9 * 8:6.2f} Gbit/s  "
                      f"{pick(values) / pick(direct):.2f}x direct")
        print("  target: DNAT >= 0.9x direct")
    finally:
        proc.kill()
        proc.wait()
        svc.sandbox_remove(cid)
        svc.remove(net.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--mb", type=int, default=512)
    parser.add_argument("--transfers", type=int, default=7)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stk-bench-"))
    forward = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    config = EngineConfig(state_root=tmp / "root", run_dir=tmp / "run",
                          address_pool="10.199.0.0/16",
                          nft_table=f"stk_bench_{secrets.token_hex(3)}",
                          dns_upstream=("127.0.0.1",))
    md = Metadata(config.metadata_db)
    svc = NetworkService(config, md, EventLog(md))
    try:
        bench_setup(svc, args.runs)
        bench_throughput(svc, args.mb, args.transfers)
    finally:
        for row in md.query("SELECT container_id FROM net_sandboxes"):
            svc.sandbox_remove(row["container_id"])
        for n in svc.list():
            svc.remove(n.id)
        nft.delete_table(config.nft_table)
        svc.dns.stop()
        md.close()
        Path("/proc/sys/net/ipv4/ip_forward").write_text(forward)
        subprocess.run(["umount", "-l", str(config.netns_dir)], capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
