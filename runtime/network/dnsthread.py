"""The embedded DNS in a thread of the calling process (for stackd, which lives as long
as the engine): the same resolver, server and reloader as runtime.network.dnsd.

Before it binds anything the thread takes the engine's resolver lock
(runtime.network.dnslock), stopping the engine's dnsd process if one holds it,
so the two never serve one gateway together. stackd's thread is ``resident``: it
runs from the daemon's start to its end, listening on whatever networks the
database holds (none, at times), so networks made by any process are served
within a tick and a restarted daemon serves every existing network at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path

from runtime.errors import Unavailable
from runtime.network.dns import DnsServer, Resolver, SqliteNames, host_upstreams, parse_upstream
from runtime.network.dnsd import Reloader
from runtime.network.dnslock import THREAD_STATE, ResolverLock
from runtime.network.dnsproc import DnsProcess

log = logging.getLogger(__name__)

LOCK_WAIT = 5.0  # for the holder we stopped to let go of the lock


class DnsThread:
    """A ``DnsRunner`` serving from a daemon thread; ``close`` closes every socket.

    ``hidden``, when set, gives the ids of containers DNS must not answer right now
    (those with a healthcheck that are not healthy); it is called per lookup."""

    def __init__(self, *, db: Path, run_dir: Path, upstreams: Sequence[str],
                 port: int = 53, resident: bool = False) -> None:
        self.db = db
        self.run_dir = run_dir
        self.state_file = run_dir / THREAD_STATE
        self.upstream_args = list(upstreams)
        self.upstreams = [parse_upstream(u) for u in upstreams]
        self.port = port
        self.resident = resident
        self.hidden: Callable[[], AbstractSet[str]] | None = None
        self.lock = ResolverLock(run_dir)
        self._server: DnsServer | None = None
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()

    def pid(self) -> int | None:
        return os.getpid() if self._thread is not None and self._thread.is_alive() else None

    def ensure_running(self) -> int:
        with self._mutex:
            if self.pid() is None:
                self._take_lock()
                names = SqliteNames(self.db, hidden=self._hidden)
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

    def serve_all(self, *, timeout: float = 5.0) -> None:
        """Start, and wait until every network in the database is served (a restarted
        daemon rebinds all the gateways at once). A gateway that cannot be bound is
        logged, not raised: it is tried again every second, and the others must not wait."""
        self.ensure_running()
        gateways = list(SqliteNames(self.db).listeners())
        try:
            self.wait_listening(gateways, timeout=timeout)
        except Unavailable as exc:
            log.warning("%s", exc.message)

    def _take_lock(self) -> None:
        """Stop the engine's DNS process if one runs (also one from before the lock existed,
        which would not hold it), then take the lock."""
        process = DnsProcess(db=self.db, run_dir=self.run_dir, upstreams=self.upstream_args)
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            pid = process.process_pid()
            if pid is not None:
                log.info("embedded DNS: taking over from the DNS process %d", pid)
                process.stop()
            if self.lock.acquire(timeout=0.1):
                return
            if time.monotonic() > deadline:
                raise Unavailable(f"embedded DNS: another resolver (pid "
                                  f"{self.lock.holder() or '?'}) holds {self.lock.path}")

    def _hidden(self) -> AbstractSet[str]:
        hidden = self.hidden
        return hidden() if hidden is not None else frozenset()

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
        """The last network is gone. A resident resolver keeps running (see the module)."""
        if not self.resident:
            self.close(timeout=timeout)

    def close(self, *, timeout: float = 5.0) -> None:
        """Stop serving and let go of the resolver lock. Idempotent."""
        with self._mutex:
            if self._server is not None:
                self._server.stop()
            if self._thread is not None:
                self._thread.join(timeout)
            self._server = self._thread = None
            self.state_file.unlink(missing_ok=True)
            self.lock.release()
