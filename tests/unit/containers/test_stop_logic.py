"""The stop sequence against real processes of our own (no container, no root)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from runtime.containers.stop import stop_process

# Ignores SIGTERM through a handler for 0.3 s, then exec's into a program without one.
DROPS_HANDLER = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: None)
print("ready", flush=True)
time.sleep(0.3)
os.execv("/bin/sleep", ["sleep", "30"])
"""
CATCHES = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))
print("ready", flush=True)
time.sleep(30)
"""


@pytest.fixture
def spawn() -> Iterator[object]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(code: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _stop(proc: subprocess.Popen[bytes], timeout: float) -> tuple[bool, float]:
    sent: list[int] = []

    def send(signum: int) -> None:
        sent.append(signum)
        proc.send_signal(signum)

    start = time.monotonic()
    killed = stop_process(pid=proc.pid, sig=signal.SIGTERM, timeout=timeout,
                          exited=lambda: proc.poll() is not None, send=send)
    return killed, time.monotonic() - start


def test_a_handler_that_exits_is_given_its_chance(spawn) -> None:  # type: ignore[no-untyped-def]
    proc = spawn(CATCHES)
    killed, elapsed = _stop(proc, timeout=5)
    assert (killed, proc.returncode) == (False, 7) and elapsed < 2


def test_a_dropped_handler_ends_the_grace_period_early(spawn) -> None:  # type: ignore[no-untyped-def]
    proc = spawn(DROPS_HANDLER)
    killed, elapsed = _stop(proc, timeout=20)
    # Not a namespace init, so the exec'd sleep would die of a new SIGTERM anyway; what
    # matters is that the loop noticed the handler was gone and did not wait 20 s.
    assert killed and elapsed < 5 and proc.returncode == -signal.SIGKILL
