"""The CLI's way to a daemon: connect to the local socket, starting stackd when nobody answers.

The started daemon is detached (a session of its own, stdio to
``<run_dir>/stackd.log``), so it outlives the command that started it and keeps
supervising. Two CLIs racing to start it are harmless: the second stackd finds
the pid lock taken and exits, and both CLIs then talk to the first.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from runtime.config import EngineConfig
from runtime.daemon.client import HttpEngine
from runtime.daemon.tls import Address
from runtime.errors import Unavailable

log = logging.getLogger(__name__)

START_TIMEOUT = 20.0


def stackd_command() -> list[str]:
    """How to run stackd: the same interpreter as the caller (works without PATH set up)."""
    return [sys.executable, "-m", "runtime.daemon.main"]


def connect_local(config: EngineConfig, *, autostart: bool = True,
                  timeout: float = START_TIMEOUT) -> HttpEngine:
    """An ``HttpEngine`` on ``config.socket_path``; starts stackd when it does not answer."""
    # The daemon runs from "/": relative state paths must mean the same to both sides.
    config = replace(config, state_root=config.state_root.absolute(),
                     run_dir=config.run_dir.absolute())
    client = HttpEngine(Address(scheme="unix", path=str(config.socket_path)))
    if client.ping():
        return client
    if not autostart:
        client.close()
        raise Unavailable(f"stackd does not answer on {config.socket_path}")
    try:
        start_daemon(config, timeout=timeout, client=client)
    except BaseException:
        client.close()
        raise
    return client


def start_daemon(config: EngineConfig, *, timeout: float, client: HttpEngine) -> int:
    """Start stackd for ``config`` and wait until ``client`` gets an answer; returns its pid."""
    config.run_dir.mkdir(parents=True, exist_ok=True)
    log_path = config.run_dir / "stackd.log"
    env = dict(os.environ)
    env.update(STACK_ROOT=str(config.state_root), STACK_RUN_DIR=str(config.run_dir),
               STACK_ADDRESS_POOL=config.address_pool)
    # It runs from "/" (holding no directory busy), so make the package importable by path.
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    log.debug("starting stackd for %s (log: %s)", config.run_dir, log_path)
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(stackd_command(), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                close_fds=True, cwd="/")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.ping():
            return proc.pid
        code = proc.poll()
        if code is not None and not client.ping():
            # It may have lost a start race to another stackd that is still coming up.
            if code != 0 and _holder_alive(config):
                time.sleep(0.1)
                continue
            raise Unavailable(f"stackd exited at start (status {code}): "
                              f"{_tail(log_path) or 'no output'} (log: {log_path})")
        time.sleep(0.05)
    raise Unavailable(f"stackd did not answer on {config.socket_path} within {timeout:.0f} s "
                      f"(log: {log_path})")


def _holder_alive(config: EngineConfig) -> bool:
    try:
        pid = int((config.run_dir / "stackd.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def _tail(path: os.PathLike[str], lines: int = 3) -> str:
    try:
        with open(path, errors="replace") as f:
            return " | ".join(x.strip() for x in f.readlines()[-lines:])
    except OSError:
        return ""
