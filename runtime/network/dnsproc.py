"""Running the embedded DNS for one engine: ``DnsRunner`` (what NetworkService needs)
and ``DnsProcess``, the resolver as a process of its own (runtime.network.dnsd).

Started when the first network is made, stopped when the last one goes; its
pid is in ``<run dir>/network/dnsd.pid``. A pid is only signalled after its
command line shows it is our dnsd for this engine's database, so a stale pid
file can never kill another process.

When stackd runs for the same engine, its resolver thread holds the engine's
resolver lock (runtime.network.dnslock): then ``DnsProcess`` starts nothing,
reports stackd as the resolver (``pid``) and waits for that one to listen.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from runtime.errors import Unavailable
from runtime.network.dnslock import PROCESS_STATE, ResolverLock, listening

log = logging.getLogger(__name__)

MODULE = "runtime.network.dnsd"


class DnsRunner(Protocol):
    """Runs the resolver for every network of one engine (a process, or a thread of stackd:
    runtime.network.dnsthread.DnsThread)."""

    def pid(self) -> int | None:
        """The process serving, or None when the resolver is not running."""
        ...

    def ensure_running(self) -> int: ...

    def wait_listening(self, addresses: Sequence[str], *, timeout: float = 5.0) -> None:
        """Block until the resolver listens on every address (Unavailable after timeout)."""
        ...

    def stop(self, *, timeout: float = 5.0) -> None: ...


class DnsProcess:
    def __init__(self, *, db: Path, run_dir: Path, upstreams: Sequence[str]) -> None:
        self.db = db
        self.run_dir = run_dir
        self.upstreams = list(upstreams)
        self.pid_file = run_dir / "dnsd.pid"
        self.state_file = run_dir / PROCESS_STATE
        self.log_file = run_dir / "dnsd.log"
        self.lock = ResolverLock(run_dir)

    def pid(self) -> int | None:
        """The process serving this engine's networks (our dnsd, or stackd), or None."""
        return self.process_pid() or self.lock.holder()

    def process_pid(self) -> int | None:
        """The pid of our running dnsd, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid is not None and self._is_ours(pid):
            return pid
        holder = self.lock.holder()  # a dnsd whose pid file another engine overwrote
        return holder if holder is not None and self._is_ours(holder, starting=False) else None

    def _is_ours(self, pid: int, *, starting: bool = True) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        if MODULE.encode() in cmdline and str(self.db).encode() in cmdline:
            return True
        # in the middle of exec (right after we started it): no cmdline yet
        return starting and cmdline == [b""] and _state(pid) not in ("Z", "X", None)

    def ensure_running(self) -> int:
        pid = self.pid()
        if pid is not None:
            return pid
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.state_file.unlink(missing_ok=True)
        args = [sys.executable, "-m", MODULE, "--db", str(self.db),
                "--state", str(self.state_file)]
        for upstream in self.upstreams:
            args += ["--upstream", upstream]
        # The package must be importable from wherever the engine runs.
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        with open(self.log_file, "ab") as out:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True, close_fds=True, env=env)
        self.pid_file.write_text(str(proc.pid))
        log.info("started DNS process %d", proc.pid)
        return proc.pid

    def wait_listening(self, addresses: Sequence[str], *, timeout: float = 5.0) -> None:
        """Block until the process listens on every address in ``addresses``."""
        deadline = time.monotonic() + timeout
        while True:
            pid = self.pid()
            if pid is not None and set(addresses) <= listening(self.run_dir, pid):
                return
            if time.monotonic() > deadline:
                raise Unavailable(f"embedded DNS: not listening on {', '.join(addresses)} "
                                  f"after {timeout:.0f} s: {self._log_tail()}")
            if self.pid() is None:
                raise Unavailable(f"embedded DNS: the process exited: {self._log_tail()}")
            time.sleep(0.01)

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return f"no log at {self.log_file}"
        return " | ".join(lines[-3:]) or f"nothing in {self.log_file}"

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop our dnsd, if it runs (never stackd's resolver). Idempotent."""
        pid = self.process_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.process_pid() is not None and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.01)
            if self.process_pid() is not None:
                os.kill(pid, signal.SIGKILL)
            _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        self.state_file.unlink(missing_ok=True)


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our child (otherwise init does)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]
