#!/usr/bin/env python3
"""Benchmark (not a test) of `stack up` / `ps` / `down`, side by side with `docker compose`.

As root, on a temp engine of its own (STACK_ROOT, STACK_RUN_DIR, a test address
pool, its own nftables table), busybox imported from the host's static busybox:

1. ``up -d`` of 30 independent busybox services (target: at most 0.33x compose);
2. a no-op ``up -d`` of the same, and ``ps`` (targets: at most 1.5x compose);
3. ``up -d`` of a chain of 10 services, each ``service_healthy`` on the next,
   healthcheck interval 1s (target: at most 0.2x compose).

Compose runs only when ``docker compose version`` and ``docker info`` answer
(see /work/shared/anchors/start-docker.sh); otherwise our times are compared
with the compose figures recorded in bench/recorded/bench_up.json (``--record``
rewrites them from a run with Docker; they are only as good as the machine they
came from, which the file names).
Every case is taken down after itself; the stackd this script caused is
stopped (by the pid in our run dir) and the temp dirs are removed.

    python3 bench/bench_up.py [--runs 3] [--no-compose] [--record]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECORDED = Path(__file__).resolve().parent / "recorded" / "bench_up.json"
STACK = [sys.executable, "-m", "orchestrator.cli.main"]


def flat(n: int) -> str:
    return "services:\n" + "".join(
        f'  s{i}:\n    image: busybox:latest\n    command: ["sleep", "3600"]\n' for i in range(n))


def chain(n: int) -> str:
    out = ["services:"]
    for i in range(n):
        out += [f"  c{i}:", "    image: busybox:latest", '    command: ["sleep", "3600"]',
                "    init: true", "    healthcheck:", '      test: ["CMD", "true"]',
                "      interval: 1s"]
        if i + 1 < n:
            out += ["    depends_on:", f"      c{i + 1}: {{condition: service_healthy}}"]
    return "\n".join(out) + "\n"


class Tool:
    """One side of the comparison: a command prefix and its environment."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name, self.argv, self.env, self.cwd = name, argv, env, cwd

    def run(self, *args: str) -> float:
        began = time.perf_counter()
        proc = subprocess.run([*self.argv, *args], env=self.env, cwd=self.cwd,
                              capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL)
        took = time.perf_counter() - began
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: exit {proc.returncode}\n"
                               f"{proc.stderr[-2000:]}")
        return took


def measure(tool: Tool, file: Path, project: str, runs: int) -> dict[str, float]:
    """Median seconds of: up -d (fresh), up -d (no-op), ps; down after each fresh up."""
    ups, noops, pss = [], [], []
    common = ("-f", str(file), "-p", project)
    for _ in range(runs):
        try:
            ups.append(tool.run(*common, "up", "-d"))
            noops.append(tool.run(*common, "up", "-d"))
            pss.append(tool.run(*common, "ps"))
        finally:
            tool.run(*common, "down", "-v", "-t", "0")
    return {"up": statistics.median(ups), "noop": statistics.median(noops),
            "ps": statistics.median(pss)}


def compose_available() -> bool:
    try:
        for cmd in (["docker", "compose", "version"], ["docker", "info"]):
            if subprocess.run(cmd, capture_output=True, timeout=20, check=False).returncode:
                return False
    except (OSError, subprocess.TimeoutExpired):
        return False
    return True


def stop_stackd(run_dir: Path) -> None:
    try:
        pid = int((run_dir / "stackd.pid").read_text().strip())
        if b"runtime.daemon" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def import_busybox(env: dict[str, str], tmp: Path) -> None:
    from runtime.config import EngineConfig
    from runtime.events import EventLog
    from runtime.images.rootfs import make_busybox_rootfs_tar
    from runtime.images.service import ImageService
    from runtime.metadata import Metadata

    config = EngineConfig.from_env(env)
    tar = make_busybox_rootfs_tar(tmp / "busybox.tar")
    metadata = Metadata(config.metadata_db)
    try:
        from runtime.api import ImageConfig

        ImageService(config, metadata, EventLog(metadata)).import_rootfs(
            tar, "busybox:latest",
            config=ImageConfig(env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                    "/sbin:/bin",), cmd=("sh",)))
    finally:
        metadata.close()


def record(compose: dict[str, dict[str, float]]) -> None:
    """Keep compose's figures (and where they come from) for runs without Docker."""
    version = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True,
                             text=True, check=False).stdout.strip()
    uname = os.uname()
    RECORDED.parent.mkdir(exist_ok=True)
    RECORDED.write_text(json.dumps({
        "recorded_at": time.strftime("%Y-%m-%d", time.gmtime()),
        "host": f"{uname.sysname} {uname.release} {uname.machine}, {os.cpu_count()} CPUs",
        "compose_version": version, "results": compose}, indent=2) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-compose", action="store_true")
    parser.add_argument("--record", action="store_true",
                        help=f"save compose's figures to {RECORDED.relative_to(REPO)}")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_up needs root", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="stk-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACK_", "COMPOSE_"))}
    env.update(STACK_ROOT=str(tmp / "root"), STACK_RUN_DIR=str(tmp / "run"),
               STACK_ADDRESS_POOL="10.199.0.0/16",
               STACK_NFT_TABLE="stkbench" + uuid.uuid4().hex[:6], PYTHONPATH=str(REPO))
    files = {"flat30": tmp / "flat30.yaml", "chain10": tmp / "chain10.yaml"}
    files["flat30"].write_text(flat(30))
    files["chain10"].write_text(chain(10))
    ours = Tool("stack", STACK, env, tmp)
    theirs = None
    if not args.no_compose and compose_available():
        theirs = Tool("docker compose", ["docker", "compose"],
                      {k: v for k, v in os.environ.items()}, tmp)
    results: dict[str, dict[str, float]] = {}
    try:
        import_busybox(env, tmp)
        ours.run("-f", str(files["flat30"]), "-p", "warm", "ps")  # stackd up before timing
        results["stack flat30"] = measure(ours, files["flat30"], "bflat", args.runs)
        results["stack chain10"] = measure(ours, files["chain10"], "bchain", 1)
        if theirs is not None:
            results["compose flat30"] = measure(theirs, files["flat30"], "bflat", args.runs)
            results["compose chain10"] = measure(theirs, files["chain10"], "bchain", 1)
    finally:
        stop_stackd(tmp / "run")
        subprocess.run(["umount", "-R", "-l", str(tmp)], capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)

    compose = {k: v for k, v in results.items() if k.startswith("compose ")}
    source = "measured now"
    if compose and args.record:
        record(compose)
    elif not compose and RECORDED.exists():
        saved = json.loads(RECORDED.read_text())
        compose, source = saved["results"], f"recorded {saved['recorded_at']} on {saved['host']}"
    print(f"compose figures: {source if compose else 'not available'}")

    def row(label: str, key: str, case: str, target: float) -> None:
        mine = results[f"stack {case}"][key]
        line = f"{label:<34} stack {mine:6.2f}s"
        if f"compose {case}" in compose:
            other = compose[f"compose {case}"][key]
            ratio = mine / other
            verdict = "ok" if ratio <= target else "MISSED"
            line += f"   compose {other:6.2f}s   {ratio:5.2f}x (target <= {target}x: {verdict})"
        else:
            line += "   compose: not available"
        print(line)

    rows = [
        ("up -d, 30 services", "up", "flat30", 0.33),
        ("no-op up -d, 30 services", "noop", "flat30", 1.5),
        ("ps, 30 services", "ps", "flat30", 1.5),
        ("up -d, chain of 10 service_healthy", "up", "chain10", 0.2),
    ]
    for r in rows:
        row(*r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
