"""The embedded DNS as a small process of its own, for the in-process engine
(``STACK_ENGINE=local``), which has no long-lived process to host it; stackd hosts
the same resolver in a thread (runtime.network.dnsthread).

    python -m runtime.network.dnsd --db <metadata.db> --state <file> [--upstream ip[:port]]...

One process per engine serves every network: it listens on each network's
gateway and re-reads the list whenever the metadata database changes (SQLite's
``data_version``, checked ten times a second), writing the addresses it
listens on to ``--state`` so the engine can wait for a new network's resolver.
Names are looked up per query, so they are always current. SIGTERM stops it.
It serves only while it holds the engine's resolver lock (runtime.network.dnslock,
in the state file's folder): when stackd's resolver has it, it exits at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from runtime.network.dns import DnsServer, Resolver, SqliteNames, host_upstreams, parse_upstream
from runtime.network.dnslock import ResolverLock

log = logging.getLogger(__name__)

IDLE_EXIT = 10.0  # seconds without any network before the process exits by itself
LOCK_WAIT = 2.0  # rides over another process probing the lock; stackd holds it for good


class Reloader:
    """The ``tick`` of ``DnsServer.serve``: listen on the gateways of the networks in the
    database whenever it changed; write them to ``state`` (for ``DnsProcess``)."""

    def __init__(self, *, names: SqliteNames, server: DnsServer, state: Path,
                 idle_exit: float | None = None) -> None:
        self.names = names
        self.server = server
        self.state = state
        self.version: int | None = None
        self.idle_exit = idle_exit
        self.idle_since: float | None = None
        self.has_networks = True  # until the first reload says otherwise
        self.retry_at = float("inf")

    def __call__(self) -> None:
        if self.idle_exit is not None and self._idle_too_long():
            log.info("no network left (or the database is gone): exiting")
            self.server.stop()
            return
        try:
            version = self.names.data_version()
        except Exception as exc:  # the database may be mid-creation; try again next tick
            log.debug("data_version: %s", exc)
            return
        if version == self.version and time.monotonic() < self.retry_at:
            return
        self.version = version
        listeners = self.names.listeners()
        self.has_networks = bool(listeners)
        self.server.update(listeners)
        # an address that could not be bound (port 53 taken, say) is tried again each second
        missing = set(listeners) - set(self.server.addresses)
        self.retry_at = time.monotonic() + 1.0 if missing else float("inf")
        tmp = self.state.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "listening": self.server.addresses}))
        tmp.replace(self.state)

    def _idle_too_long(self) -> bool:
        """A process of its own must not outlive its engine: when the database is gone or
        has had no network for ``idle_exit`` seconds (the engine normally stops us before)."""
        if not self.names.db_path.exists():
            return True
        if self.has_networks:
            self.idle_since = None
            return False
        now = time.monotonic()
        if self.idle_since is None:
            self.idle_since = now
        return now - self.idle_since > (self.idle_exit or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stack-dnsd")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--upstream", action="append", default=[])
    parser.add_argument("--port", type=int, default=53)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    lock = ResolverLock(args.state.parent)
    if not lock.acquire(timeout=LOCK_WAIT):
        log.info("another resolver (pid %s) serves this engine's networks: exiting",
                 lock.holder() or "?")
        return 0
    upstreams = [parse_upstream(u) for u in args.upstream] or host_upstreams()
    names = SqliteNames(args.db)
    server = DnsServer(Resolver(names=names, upstreams=upstreams), port=args.port)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    signal.signal(signal.SIGINT, lambda *_: server.stop())
    log.info("stack dns: upstreams %s", upstreams)
    try:
        server.serve(tick=Reloader(names=names, server=server, state=args.state,
                                   idle_exit=IDLE_EXIT))
    finally:
        server.close()
        args.state.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
