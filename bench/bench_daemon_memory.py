"""Memory of the engine at rest: stackd idle, then stackd + conmons with 10 containers,
against dockerd + containerd + shims for the same 10 containers where Docker runs.

    sudo python bench/bench_daemon_memory.py [--containers 10] [--json]

Not a test: it prints numbers and whether they meet the targets (stackd idle
RSS < 60 MB; ours / Docker's < 0.33 with 10 containers). Memory is PSS where the
kernel offers it (shared pages split fairly between processes), else RSS. The
containers' own processes (busybox sleep) are the same on both sides and left out.
Everything made lives in a temp dir and is removed at the end; Docker containers
and the imported image are removed too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.api import ContainerConfig, ImageConfig
from runtime.config import EngineConfig
from runtime.daemon.client import HttpEngine

IDLE_TARGET = 60 * 1024 * 1024
RATIO_TARGET = 0.33
DOCKER_IMAGE = "stack-bench-busybox:latest"


def memory(pid: int) -> int:
    """PSS (or RSS) of one process, in bytes; 0 when it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        field = "Pss:"
    except OSError:
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return 0
        field = "VmRSS:"
    for line in text.splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return 0


def pids_named(names: tuple[str, ...], *, marker: str = "") -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        exe = os.path.basename(cmdline[0].decode(errors="replace"))
        if any(exe.startswith(n) for n in names) and marker.encode() in b" ".join(cmdline):
            found.append(int(entry))
    return found


def mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def measure_stack(count: int, tmp: Path) -> dict[str, int]:
    from runtime.events import EventLog
    from runtime.images.rootfs import make_busybox_rootfs_tar
    from runtime.images.service import ImageService
    from runtime.metadata import Metadata

    config = EngineConfig(state_root=tmp / "root", run_dir=tmp / "run",
                          address_pool="10.199.0.0/16")
    tar = make_busybox_rootfs_tar(tmp / "busybox.tar")
    md = Metadata(config.metadata_db)
    ImageService(config, md, EventLog(md)).import_rootfs(
        tar, "busybox:latest", config=ImageConfig(env=("PATH=/bin",), cmd=("sh",)))
    md.close()
    log = open(tmp / "stackd.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "runtime.daemon.main", "--root",
                             str(config.state_root), "--run-dir", str(config.run_dir),
                             "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    client = HttpEngine(f"unix://{config.socket_path}")
    try:
        deadline = time.monotonic() + 30
        while not client.ping():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"stackd did not start: {(tmp / 'stackd.log').read_text()}")
            time.sleep(0.05)
        client.container_list(all=True)  # warm: the engine's parts are built lazily
        time.sleep(2)
        idle = memory(proc.pid)
        for i in range(count):
            client.container_create(ContainerConfig(name=f"bench{i}", image="busybox:latest",
                                                    command=("sleep", "3600"),
                                                    network_mode="none"))
            client.container_start(f"bench{i}")
        time.sleep(3)  # a few supervisor ticks
        daemon = memory(proc.pid)
        monitors = sum(memory(p) for p in pids_named(("conmon",), marker=str(config.run_dir)))
        for info in client.container_list(all=True):
            client.container_remove(info.id, force=True)
        return {"idle": idle, "daemon": daemon, "monitors": monitors,
                "total": daemon + monitors}
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def measure_docker(count: int, tmp: Path) -> dict[str, int] | None:
    """None when no Docker daemon answers."""
    if shutil.which("docker") is None:
        return None
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return None
    from runtime.images.rootfs import make_busybox_rootfs_tar

    tar = make_busybox_rootfs_tar(tmp / "docker-busybox.tar")
    subprocess.run(["docker", "import", str(tar), DOCKER_IMAGE], check=True,
                   capture_output=True)
    names = [f"stack-bench-{i}" for i in range(count)]
    try:
        for name in names:
            subprocess.run(["docker", "run", "-d", "--network", "none", "--name", name,
                            DOCKER_IMAGE, "sleep", "3600"], check=True, capture_output=True)
        time.sleep(3)
        daemons = sum(memory(p) for p in pids_named(("dockerd", "containerd")))
        shims = sum(memory(p) for p in pids_named(("containerd-shim",)))
        daemons -= shims  # "containerd" matched the shims too
        return {"daemons": daemons, "shims": shims, "total": daemons + shims}
    finally:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True, check=False)
        subprocess.run(["docker", "rmi", DOCKER_IMAGE], capture_output=True, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: containers need it")
    tmp = Path(tempfile.mkdtemp(prefix="stk-bench-"))
    try:
        ours = measure_stack(args.containers, tmp)
        docker = measure_docker(args.containers, tmp)
    finally:
        subprocess.run(["umount", "-R", "-l", str(tmp)], capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = ours["total"] / docker["total"] if docker else None
    if args.json:
        print(json.dumps({"stack": ours, "docker": docker, "ratio": ratio}))
        return 0
    print(f"stackd idle:                      {mb(ours['idle']):>10}   "
          f"(target < {mb(IDLE_TARGET)}: {'ok' if ours['idle'] < IDLE_TARGET else 'MISSED'})")
    print(f"stackd with {args.containers} containers:          {mb(ours['daemon']):>10}")
    print(f"conmon x {args.containers}:                      {mb(ours['monitors']):>10}")
    print(f"stack total:                      {mb(ours['total']):>10}")
    if docker is None:
        print("docker: no Docker daemon answers here; comparison skipped")
        return 0
    print(f"dockerd + containerd:             {mb(docker['daemons']):>10}")
    print(f"containerd-shim x {args.containers}:             {mb(docker['shims']):>10}")
    print(f"docker total:                     {mb(docker['total']):>10}")
    assert ratio is not None
    print(f"ratio stack/docker:               {ratio:>10.2f}   "
          f"(target < {RATIO_TARGET}: {'ok' if ratio < RATIO_TARGET else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
