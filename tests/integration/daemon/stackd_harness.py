"""A real stackd in a subprocess, with the test's own state root, run dir and socket.

Shared by the daemon integration tests and the contract suite's HttpEngine factory.

``stackd``: a started daemon (``.client`` is an HttpEngine on its socket). It can
be killed (-9) and started again within a test. Teardown, even after a failure:
stop the daemon by its PID (so it restarts nothing), force-remove every
container with an in-process engine, and check that no conmon, runc container
or mount of the test is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from runtime.config import EngineConfig
from runtime.daemon.client import HttpEngine
from runtime.daemon.exec_attach import AttachSession
from runtime.daemon.tls import Address
from tests.teardown import take_down

START_TIMEOUT = 20.0
NFT_TABLE = f"stk{os.getpid()}"  # the test daemons' own nftables table


class StackdProcess:
    def __init__(self, config: EngineConfig, tmp: Path) -> None:
        self.config = config
        self.tmp = tmp
        self.log_path = tmp / "stackd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = HttpEngine(Address(scheme="unix", path=str(config.socket_path)))

    def argv(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "runtime.daemon.main", "--root", str(self.config.state_root),
                "--run-dir", str(self.config.run_dir), "--address-pool",
                self.config.address_pool, "--log-level", "debug", *extra]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["STACK_NFT_TABLE"] = NFT_TABLE
        return env

    def start(self, *extra: str) -> None:
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(self.argv(*extra), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, env=self.env(),
                                         start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.client.ping():
            if self.proc.poll() is not None:
                raise AssertionError(f"stackd exited ({self.proc.returncode}): {self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"stackd did not answer in {START_TIMEOUT} s: {self.log()}")
            time.sleep(0.05)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 15 s; the exit status (None if never started)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"stackd ignored SIGTERM: {self.log()}") from None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def cleanup_engine(config: EngineConfig, tmp: Path) -> None:
    """Remove every container of the test's engine, then check nothing is left."""
    from runtime.engine import LocalEngine
    from tests.integration.containers.harness import assert_nothing_left

    engine = LocalEngine(replace(config, nft_table=NFT_TABLE))
    try:
        errors = take_down(engine)
    finally:
        engine.close()
    assert_nothing_left(config, tmp)
    assert not errors, errors




class DaemonClient(HttpEngine):
    """An HttpEngine that owns the stackd it talks to: ``close`` stops that daemon too.

    The contract suite's factory for the HTTP implementation of the Engine API."""

    def __init__(self, daemon: StackdProcess) -> None:
        super().__init__(Address(scheme="unix", path=str(daemon.config.socket_path)))
        self.daemon = daemon

    def close(self) -> None:
        super().close()
        self.daemon.client.close()
        status = self.daemon.stop()
        assert status == 0, f"stackd ended with {status}: {self.daemon.log()}"


def http_engine(config: EngineConfig) -> DaemonClient:
    """Start a stackd for ``config`` (log beside its run dir) and return its client."""
    daemon = StackdProcess(config, config.run_dir.parent)
    daemon.start()
    return DaemonClient(daemon)


def drain(session: AttachSession, *, timeout: float = 60) -> tuple[dict[str, bytes], int | None]:
    """Everything an attach session sends, by stream, and its exit code."""
    out: dict[str, bytes] = {"stdout": b"", "stderr": b""}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunk = session.read()
        if chunk is None:
            continue
        if chunk.stream == "exit":
            return out, chunk.exit_code
        out[chunk.stream] += chunk.data
    raise AssertionError(f"no exit within {timeout:g} s; so far {out}")
