"""One lock per container, across threads and processes (CLI, stackd, tests).

Changes to a container (start, stop, remove, recording its exit and releasing its
resources) run under its lock, so two callers can never, say, tear down the run
that the other has just started. ``flock`` on a file under the run dir does it
across processes; a per-thread count makes it re-entrant within one thread (stop
inside restart, exit recording inside start).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ContainerLocks:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._held = threading.local()

    def _counts(self) -> dict[str, int]:
        counts: dict[str, int] | None = getattr(self._held, "counts", None)
        if counts is None:
            counts = self._held.counts = {}
        return counts

    @contextmanager
    def hold(self, cid: str) -> Iterator[None]:
        counts = self._counts()
        if counts.get(cid):
            counts[cid] += 1
            try:
                yield
            finally:
                counts[cid] -= 1
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / cid, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            counts[cid] = 1
            try:
                yield
            finally:
                counts.pop(cid, None)
        finally:
            os.close(fd)  # closing releases the flock

    def forget(self, cid: str) -> None:
        """Drop the lock file of a removed container."""
        (self.dir / cid).unlink(missing_ok=True)
