"""The real `stack` CLI in subprocesses against the real engine, in a temp state root.

``stack_cli`` gives each test its own state root, run dir, address pool and
nftables table (via STACK_* env), with busybox:latest imported. The CLI starts
its own stackd there; at the end every project the test used is taken down
(``down -v --remove-orphans``), that stackd (ours: its pid file is in our run
dir) is stopped, and the test FAILS if anything is left: a container, a
network, a volume, a network namespace, a bridge, our nftables table, a mount.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runtime.api import ImageInfo
from runtime.config import EngineConfig
from tests.integration import conftest as _integration
from tests.teardown import take_down

# The image part's busybox fixtures (busybox_image and the session fixtures it uses),
# re-exported for this folder by name, whatever helpers they are built from.
globals().update({name: value for name, value in vars(_integration).items()
                  if "busybox" in name and not name.isupper()})

STACK = [sys.executable, "-m", "orchestrator.cli.main"]
# env that must not leak in from the developer's shell
_SCRUB = ("STACK_HOST", "STACK_ENGINE", "STACK_FILE", "COMPOSE_FILE", "STACK_PROJECT_NAME",
          "COMPOSE_PROJECT_NAME", "STACK_PROFILES", "COMPOSE_PROFILES")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bridges() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show", "type", "bridge"], capture_output=True,
                         text=True, check=False).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


@dataclass
class StackCli:
    config: EngineConfig
    env: dict[str, str]
    cwd: Path
    projects: list[tuple[str, ...]] = field(default_factory=list)  # global args per project

    def run(self, *args: str, check: bool = True, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*STACK, *args], cwd=self.cwd, env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"stack {' '.join(args)} exited {proc.returncode}\n"
                                 f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen([*STACK, *args], cwd=self.cwd, env={**self.env, **(env or {})},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)

    def project(self, name: str, text: str) -> tuple[str, ...]:
        """Write ``text`` as a stack file; the global args that select it (``-f F -p NAME``)."""
        path = self.cwd / f"{name}.yaml"
        path.write_text(text)
        args = ("-f", str(path), "-p", name)
        self.projects.append(args)
        return args

    def ps(self, project: Sequence[str], *extra: str) -> list[dict[str, Any]]:
        data = json.loads(self.run(*project, "ps", "-a", "--format", "json", *extra).stdout)
        assert isinstance(data, list)
        return data


def _stop_daemon(config: EngineConfig) -> None:
    pid_file = config.run_dir / "stackd.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if b"runtime.daemon" not in cmdline and b"stackd" not in cmdline:
        return  # a recycled pid: not ours
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.05)
    if Path(f"/proc/{pid}").exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def leftovers(config: EngineConfig, table: str, before: set[str], root: Path) -> list[str]:
    """Everything our engine made that is still there (the daemon is stopped by now)."""
    from runtime.engine import LocalEngine

    found: list[str] = []
    engine = LocalEngine(config)
    try:
        found += [f"container {c.name}" for c in engine.container_list(all=True)]
        found += [f"network {n.name}" for n in engine.network_list()]
        found += [f"volume {v.name}" for v in engine.volume_list()]
    finally:
        engine.close()
    if config.netns_dir.exists():
        found += [f"netns {p.name}" for p in config.netns_dir.iterdir()]
    found += [f"bridge {b}" for b in sorted(bridges() - before)]
    nft = subprocess.run(["nft", "list", "table", "inet", table], capture_output=True,
                         text=True, check=False)
    if nft.returncode == 0:  # the engine drops its table with its last network
        found.append(f"nftables table inet {table}")
    mounts = Path("/proc/self/mounts").read_text()
    found += [f"mount {line.split()[1]}" for line in mounts.splitlines()
              if str(root) in line.split()[1]]
    return found


def _force_clean(config: EngineConfig) -> None:
    """Remove whatever the test's engine still has (its daemon is stopped by now)."""
    from runtime.engine import LocalEngine

    engine = LocalEngine(config)
    try:
        take_down(engine)
    finally:
        engine.close()


def _our_bridges(config: EngineConfig) -> set[str]:
    """The bridges of our engine's networks (read while they exist: names come from ids)."""
    from runtime.engine import LocalEngine

    engine = LocalEngine(config)
    try:
        return {n.bridge for n in engine.network_list()}
    except Exception:  # a broken engine must not hide the test's own failure
        return set()
    finally:
        engine.close()


@pytest.fixture
def stack_cli(engine_config: EngineConfig, busybox_image: ImageInfo, tmp_path: Path,
              short_tmp: Path) -> Iterator[StackCli]:
    table = "stke2e" + uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(STACK_ROOT=str(engine_config.state_root), STACK_RUN_DIR=str(engine_config.run_dir),
               STACK_ADDRESS_POOL=engine_config.address_pool, STACK_NFT_TABLE=table,
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    config = EngineConfig(state_root=engine_config.state_root, run_dir=engine_config.run_dir,
                          address_pool=engine_config.address_pool,
                          pool_prefix=engine_config.pool_prefix, nft_table=table)
    before = bridges()
    cli = StackCli(config=config, env=env, cwd=tmp_path)
    try:
        yield cli
    finally:
        ours = _our_bridges(config)
        for args in cli.projects:
            cli.run(*args, "down", "-v", "--remove-orphans", "-t", "0", check=False)
        _stop_daemon(config)
        # pytest shows this only for a failed test: what the daemon saw, for the diagnosis
        log = config.run_dir / "stackd.log"
        if log.exists():
            print("--- stackd.log (last 150 lines) ---\n"
                  + "\n".join(log.read_text(errors="replace").splitlines()[-150:]))
        left = leftovers(config, table, before, short_tmp)
        # other suites may make bridges meanwhile: only ours count (and any new one named
        # like one of ours)
        left = [x for x in left if not x.startswith("bridge ")]
        left += [f"bridge {b}" for b in sorted(ours & bridges())]
        if left:  # the test failed or `down` did: take it all down all the same, then say so
            _force_clean(config)
        assert not left, f"left behind: {left}"
