"""stackd's life: lock, engine, listeners, supervision, and an orderly end.

Invariants:
- One stackd per run dir: ``<run_dir>/stackd.pid`` is flock'ed for the daemon's
  life (the fd is close-on-exec, so conmon never inherits the lock).
- Ending stackd (SIGTERM, or kill -9) never stops a container: conmon runs them
  in sessions of their own; the next stackd adopts them (``Supervisor.adopt``).
- The unix socket is made with mode 0600 and then opened to 0660 for
  ``--group``, so there is no moment in which others can connect.
- If our unix socket is removed or replaced (its run dir deleted, another
  daemon took over), nobody can reach us any more: stackd ends itself.
- While stackd runs it serves the networks' DNS itself (a resident
  runtime.network.dnsthread.DnsThread, started before the API, taking over from
  a dnsd process left by the in-process engine); it ends with the daemon.
- Containers that exit on their own are reconciled within a tick (``Reaper``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import grp
import logging
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from runtime.config import EngineConfig
from runtime.daemon.server import build_app
from runtime.daemon.tls import Address, TlsFiles, server_context
from runtime.errors import Failed, InvalidArgument, Unavailable

log = logging.getLogger(__name__)

SOCKET_WATCH_INTERVAL = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonOptions:
    addresses: tuple[Address, ...]
    tls: TlsFiles
    token: str | None = None
    group: str | None = None
    supervise: bool = True


@contextlib.contextmanager
def pid_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``<run_dir>/stackd.pid`` (flock) or raise ``Unavailable`` naming the holder."""
    path = run_dir / "stackd.pid"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise Failed(f"run dir {run_dir}: cannot make {path.name}: {exc.strerror} "
                     "(stackd needs root, or --run-dir/--root it may write)") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise Unavailable(f"another stackd (pid {holder}) already runs for {run_dir}") from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
        with contextlib.suppress(OSError):
            os.unlink(path)
    finally:
        os.close(fd)


class Daemon:
    def __init__(self, config: EngineConfig, options: DaemonOptions) -> None:
        self.config = config
        self.options = options
        self._stop: asyncio.Event | None = None
        self._sockets: dict[Path, tuple[int, int]] = {}

    def run(self) -> None:
        """Serve until SIGTERM/SIGINT (or our socket vanishes)."""
        from runtime.daemon.reaper import Reaper
        from runtime.daemon.service import DaemonService
        from runtime.daemon.supervisor import RESCAN, Supervisor
        from runtime.daemon.system import LocalSystem
        from runtime.engine import LocalEngine
        from runtime.network.dnsthread import DnsThread

        started = time.time()
        with pid_lock(self.config.run_dir):
            dns = DnsThread(db=self.config.metadata_db, run_dir=self.config.run_dir / "network",
                            upstreams=self.config.dns_upstream, resident=True)
            engine = LocalEngine(self.config, dns=dns)
            system = LocalSystem(engine, self.config, daemon_pid=os.getpid(), started=started)
            supervisor = Supervisor(engine) if self.options.supervise else None
            if supervisor is not None:
                dns.hidden = supervisor.health.unready
            reaper = Reaper(engine, rescan=None if supervisor is not None else RESCAN)
            service = DaemonService(engine, system, supervisor)
            try:
                engine.metadata  # noqa: B018 - the state root and database exist before DNS reads
                dns.serve_all()
                reaper.start()
                asyncio.run(self._serve(service, supervisor))
            finally:
                reaper.stop()
                if supervisor is not None:
                    supervisor.stop()
                dns.close()
                engine.close()
        log.info("stackd stopped")

    async def _serve(self, service: object, supervisor: object | None) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        app = build_app(service, token=self.options.token)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        try:
            for address in self.options.addresses:
                await self._listen(runner, address)
            if supervisor is not None:
                await loop.run_in_executor(None, supervisor.start)  # type: ignore[attr-defined]
            log.info("stackd %d serving on %s", os.getpid(),
                     ", ".join(str(a) for a in self.options.addresses))
            watch = asyncio.create_task(self._watch_sockets())
            await self._stop.wait()
            watch.cancel()
        finally:
            await runner.cleanup()
            for path, ident in self._sockets.items():
                if _identity(path) == ident:  # never remove a socket another daemon made
                    path.unlink(missing_ok=True)

    async def _listen(self, runner: web.AppRunner, address: Address) -> None:
        if address.scheme == "tcp":
            ctx = server_context(self.options.tls)
            try:
                await web.TCPSite(runner, address.host, address.port, ssl_context=ctx).start()
            except OSError as exc:
                raise Failed(f"cannot listen on {address}: {exc.strerror}") from exc
            return
        path = Path(address.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        gid = -1
        if self.options.group:
            try:
                gid = grp.getgrnam(self.options.group).gr_gid
            except KeyError as exc:
                raise InvalidArgument(f'group "{self.options.group}" does not exist') from exc
        old_umask = os.umask(0o177)  # the socket is born 0600
        try:
            await web.UnixSite(runner, str(path)).start()
        except OSError as exc:
            raise Failed(f"cannot listen on {address}: {exc.strerror}") from exc
        finally:
            os.umask(old_umask)
        os.chown(path, os.getuid(), gid)
        os.chmod(path, 0o660)
        ident = _identity(path)
        if ident is not None:
            self._sockets[path] = ident

    async def _watch_sockets(self) -> None:
        assert self._stop is not None
        while True:
            await asyncio.sleep(SOCKET_WATCH_INTERVAL)
            for path, ident in self._sockets.items():
                if _identity(path) != ident:
                    log.warning("socket %s was removed or replaced: stopping", path)
                    self._stop.set()
                    return


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
