#!/usr/bin/env python3
"""Benchmark (not a test) of the container part, as root, on its own temp engine.

1. create + start of a busybox container (``sleep 3600``, network none) through
   the engine: median of N, against ``runc run -d`` of the same bundle (target:
   at most 3x) and against ``docker run -d`` when a Docker daemon answers (target:
   at most 0.5x; the image is imported locally, nothing is pulled).
2. conmon's memory per running container: RSS and PSS of each monitor (target:
   RSS under 3 MB).
3. stop of a PID 1 without a handler (``sleep``, running for a moment), which Docker
   makes wait 10 s.

    python3 bench/bench_containers.py [--runs 20] [--monitors 5]

Everything made (containers, mounts, temp dirs, the docker image) is removed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from runtime.api import ContainerConfig, ImageConfig
from runtime.config import EngineConfig
from runtime.containers.stop import STARTUP_GRACE
from runtime.engine import LocalEngine
from runtime.images.rootfs import make_busybox_rootfs_tar

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _median(fn: Callable[[int], float], runs: int) -> float:
    return statistics.median(fn(i) for i in range(runs))


def _config(name: str) -> ContainerConfig:
    return ContainerConfig(name=name, image="busybox:latest", command=("sleep", "3600"),
                           network_mode="none")


def bench_engine(engine: LocalEngine, runs: int) -> float:
    def once(i: int) -> float:
        start = time.perf_counter()
        info = engine.container_create(_config(f"bench{i}"))
        engine.container_start(info.id)
        elapsed = time.perf_counter() - start
        engine.container_remove(info.id, force=True)
        return elapsed

    return _median(once, runs)


def bench_runc(engine: LocalEngine, tmp: Path, runs: int) -> float:
    """``runc run -d`` of the bundle our engine wrote (same rootfs, same spec)."""
    info = engine.container_create(_config("template"))
    engine.container_start(info.id)
    bundle = engine.config.containers_dir / info.id
    spec = json.loads((bundle / "config.json").read_text())
    engine.container_stop(info.id)
    root = tmp / "runc-root"
    own = tmp / "bundle"
    own.mkdir()
    service = engine.containers
    try:
        with service.mounted_bundle(info.id):
            def once(i: int) -> float:
                cid = f"runcbench{i}"
                spec["linux"]["cgroupsPath"] = f"/stack-bench/{cid}"
                (own / "config.json").write_text(json.dumps(spec))
                start = time.perf_counter()
                subprocess.run(["runc", "--root", str(root), "run", "-d", "--bundle", str(own),
                                cid], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=True)
                elapsed = time.perf_counter() - start
                subprocess.run(["runc", "--root", str(root), "delete", "-f", cid], check=True)
                return elapsed

            return _median(once, runs)
    finally:
        engine.container_remove(info.id, force=True)
        for d in Path("/sys/fs/cgroup").glob("*/stack-bench"):
            with contextlib.suppress(OSError):  # the per-controller parents runc made
                d.rmdir()


def bench_docker(tar: Path, runs: int) -> float | None:
    if shutil.which("docker") is None:
        return None
    if subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode != 0:
        return None
    image = "stack-bench-busybox:latest"
    subprocess.run(["docker", "import", "--change", "CMD [\"sh\"]", str(tar), image],
                   capture_output=True, check=True)
    try:
        def once(i: int) -> float:
            start = time.perf_counter()
            cid = subprocess.run(["docker", "run", "-d", "--network", "none", image, "sleep",
                                  "3600"], capture_output=True, text=True,
                                 check=True).stdout.strip()
            elapsed = time.perf_counter() - start
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True, check=True)
            return elapsed

        return _median(once, runs)
    finally:
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True, check=False)


def _kb(status: str, key: str) -> int:
    for line in status.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def bench_monitors(engine: LocalEngine, count: int) -> tuple[float, float]:
    """Median RSS and PSS (MB) of the conmon of each of ``count`` running containers."""
    ids = []
    try:
        for i in range(count):
            info = engine.container_create(_config(f"mon{i}"))
            engine.container_start(info.id)
            ids.append(info.id)
        rss, pss = [], []
        for cid in ids:
            pid = engine.containers.monitor(cid).conmon_pid()
            assert pid is not None
            rss.append(_kb(Path(f"/proc/{pid}/status").read_text(), "VmRSS") / 1024)
            pss.append(_kb(Path(f"/proc/{pid}/smaps_rollup").read_text(), "Pss") / 1024)
        return statistics.median(rss), statistics.median(pss)
    finally:
        for cid in ids:
            engine.container_remove(cid, force=True)


def bench_stop(engine: LocalEngine, runs: int) -> float:
    def once(i: int) -> float:
        info = engine.container_create(_config(f"stop{i}"))
        engine.container_start(info.id)
        # Past STARTUP_GRACE: a younger PID 1 gets that long to set up a handler first.
        time.sleep(STARTUP_GRACE + 0.1)
        start = time.perf_counter()
        engine.container_stop(info.id)
        elapsed = time.perf_counter() - start
        engine.container_remove(info.id)
        return elapsed

    return _median(once, runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--monitors", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stk-bench-"))
    engine = LocalEngine(EngineConfig(state_root=tmp / "root", run_dir=tmp / "run"))
    try:
        tar = make_busybox_rootfs_tar(tmp / "busybox.tar")
        engine.images.import_rootfs(tar, "busybox:latest",
                                    config=ImageConfig(env=(PATH_ENV,), cmd=("sh",)))
        ours = bench_engine(engine, args.runs)
        runc = bench_runc(engine, tmp, args.runs)
        print(f"create+start (engine)   median {_ms(ours)}")
        print(f"runc run -d (same bundle) median {_ms(runc)}   ratio {ours / runc:.2f}x "
              f"(target <= 3x)")
        docker = bench_docker(tar, args.runs)
        if docker is None:
            print("docker run -d            skipped: no Docker daemon answers")
        else:
            print(f"docker run -d            median {_ms(docker)}   ratio {ours / docker:.2f}x "
                  "(target <= 0.5x)")
        rss, pss = bench_monitors(engine, args.monitors)
        print(f"conmon per container     RSS {rss:.2f} MB, PSS {pss:.2f} MB (target RSS < 3 MB)")
        print(f"stop of sleep as PID 1   median {_ms(bench_stop(engine, min(args.runs, 10)))} "
              "(Docker: 10 s)")
    finally:
        for c in engine.container_list(all=True):
            engine.container_remove(c.id, force=True, volumes=True)
        engine.close()
        subprocess.run(["umount", "-R", "-l", str(tmp)], capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
