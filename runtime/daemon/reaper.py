"""Exits recorded promptly: a container that ends on its own releases what it held at once.

conmon writes ``<run dir>/conmon/<id>/<id>`` (the exit code) when a container's
PID 1 ends, but it has no exit command to tell anyone; the engine records an exit
when something next looks at the container. So stackd looks for new exit files
every ``TICK`` (a directory listing and one stat per container: no database, no
runc) and reconciles each container that has one it has not seen
(``container_inspect``): the exit is recorded ("die"), the overlay mount and the
network sandbox are released, an auto-remove container is removed. The
supervisor learns of the exit from the "die" event and applies the restart policy.

A monitor that died without writing an exit file is found by a full reconciliation
every ``rescan`` seconds (the supervisor does one of its own, so stackd asks this
only of a reaper running without supervision).
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from typing import TYPE_CHECKING

from runtime.errors import EngineError, NotFound

if TYPE_CHECKING:
    from runtime.engine import LocalEngine

log = logging.getLogger(__name__)

TICK = 0.1


class Reaper:
    def __init__(self, engine: LocalEngine, *, rescan: float | None = None) -> None:
        self.engine = engine
        self.rescan = rescan
        self._seen: dict[str, int] = {}  # id -> mtime (ns) of the exit file already handled
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="stackd-reaper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        last_rescan = time.monotonic()
        while not self._stopped.wait(TICK):
            try:
                self.scan()
                if self.rescan is not None and time.monotonic() - last_rescan > self.rescan:
                    last_rescan = time.monotonic()
                    self.engine.containers.reconcile()
            except Exception:  # never let one bad tick end the reaping
                log.exception("reaper tick failed")

    def exit_files(self) -> dict[str, int]:
        """Container id -> mtime (ns) of its exit file, for every exit file there is."""
        found: dict[str, int] = {}
        try:
            entries = os.scandir(self.engine.config.conmon_dir)
        except FileNotFoundError:
            return found
        with entries:
            for entry in entries:
                try:
                    st = os.stat(os.path.join(entry.path, entry.name))
                except OSError:  # running (no exit file yet), or removed meanwhile
                    continue
                if stat.S_ISREG(st.st_mode) and st.st_size > 0:
                    found[entry.name] = st.st_mtime_ns
        return found

    def scan(self) -> list[str]:
        """Reconcile every container whose exit file is new; their ids. A container whose
        reconciliation fails is tried again on the next look of anyone (and the rescan)."""
        found = self.exit_files()
        self._seen = {cid: m for cid, m in self._seen.items() if cid in found}
        new = [cid for cid, mtime in found.items() if self._seen.get(cid) != mtime]
        for cid in new:
            self._seen[cid] = found[cid]
            try:
                self.engine.container_inspect(cid)
            except NotFound:
                continue
            except EngineError as exc:
                log.warning("container %s: recording its exit failed: %s", cid[:12],
                            exc.message)
        return new
