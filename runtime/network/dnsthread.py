"""The embedded DNS in a thread of the calling process (for stackd, which lives as long
as the engine): the same resolver, server and reloader as runtime.network.dnsd."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from runtime.errors import Unavailable
from runtime.network.dns import DnsServer, Resolver, SqliteNames, host_upstreams, parse_upstream
from runtime.network.dnsd import Reloader

log = logging.getLogger(__name__)


class DnsThread:
    """A ``DnsRunner`` serving from a daemon thread; ``stop`` closes every socket."""

    def __init__(self, *, db: Path, run_dir: Path, upstreams: Sequence[str],
                 port: int = 53) -> None:
        self.db = db
        self.state_file = run_dir / "dns-thread.json"
        self.upstreams = [parse_upstream(u) for u in upstreams]
        self.port = port
        self._server: DnsServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def pid(self) -> int | None:
        return os.getpid() if self._thread is not None and self._thread.is_alive() else None

    def ensure_running(self) -> int:
        with self._lock:
            if self.pid() is None:
                names = SqliteNames(self.db)
                server = DnsServer(Resolver(names=names,
                                            upstreams=self.upstreams or host_upstreams()),
                                   port=self.port)
                self.state_file.parent.mkdir(parents=True, exist_ok=True)
                reloader = Reloader(names=names, server=server, state=self.state_file)
                self._server = server
                self._thread = threading.Thread(target=self._serve, args=(server, reloader),
                                                name="stack-dns", daemon=True)
                self._thread.start()
        return os.getpid()

    @staticmethod
    def _serve(server: DnsServer, reloader: Reloader) -> None:
        try:
            server.serve(tick=reloader)
        except Exception:  # logged: the engine notices through pid() and starts it again
            log.exception("embedded DNS thread failed")
        finally:
            server.close()

    def wait_listening(self, addresses: Sequence[str], *, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            server = self._server
            if server is not None and set(addresses) <= set(server.addresses):
                return
            if time.monotonic() > deadline or self.pid() is None:
                raise Unavailable(f"embedded DNS: not listening on {', '.join(addresses)}")
            time.sleep(0.01)

    def stop(self, *, timeout: float = 5.0) -> None:
        with self._lock:
            if self._server is not None:
                self._server.stop()
            if self._thread is not None:
                self._thread.join(timeout)
            self._server = self._thread = None
            self.state_file.unlink(missing_ok=True)
