"""One resolver per engine: whoever serves the networks' DNS holds ``<dir>/dns.lock``.

Two resolvers on one gateway would fight for port 53 (UDP lets both bind with
SO_REUSEADDR, and the kernel hands each query to one of them). So stackd's
resolver thread and the dnsd process of the in-process engine both take this
flock before they bind anything, and write their pid into the file; the one
that cannot have it does not serve. The kernel drops the lock with its holder,
so a killed resolver never blocks the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path

LOCK_NAME = "dns.lock"
# What the resolver listens on (runtime.network.dnsd.Reloader writes it): one file per kind
# of holder, so neither ever deletes the other's.
PROCESS_STATE = "dnsd.json"
THREAD_STATE = "dns-thread.json"


class ResolverLock:
    def __init__(self, dir: Path) -> None:
        self.path = dir / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self, *, timeout: float = 0.0) -> bool:
        """Take the lock (idempotent), trying for up to ``timeout`` seconds; False if
        another holder keeps it. Probes (``holder``) hold it for microseconds, so a short
        timeout rides over them."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.01)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops the flock
            self._fd = None

    def holder(self) -> int | None:
        """The pid of the resolver holding the lock (maybe this process), None when free."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.pread(fd, 32, 0).decode(errors="replace").strip()
                return int(text) if text.isdigit() else None
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)


def listening(dir: Path, pid: int) -> set[str]:
    """The addresses resolver ``pid`` says it listens on (empty when it has not said)."""
    for name in (THREAD_STATE, PROCESS_STATE):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            state = json.loads((dir / name).read_text())
            if state["pid"] == pid:
                return set(state["listening"])
    return set()
