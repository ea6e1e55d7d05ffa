"""What stackd serves: the local engine, the system views, and the supervisor's view of both.

``DaemonService`` is the object behind the route table. Engine calls go to the
daemon's ``LocalEngine``; on the way it tells the supervisor about what users
ask (a container stopped through the API is not restarted by its policy), and
on the way back it lays the supervisor's knowledge over container records
(health status, health log, restart count), so ``container_inspect`` shows them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runtime import api
from runtime.daemon.attach import MainProcessAttach
from runtime.daemon.exec_attach import ProcessExec
from runtime.daemon.exec_stream import ExecChunk, stream_exec
from runtime.daemon.server import HEARTBEAT
from runtime.daemon.system import DiskUsage, LocalSystem, PruneReport, SystemInfo, VersionInfo

if TYPE_CHECKING:
    from runtime.daemon.supervisor import Supervisor
    from runtime.engine import LocalEngine

_ACTIVE = (api.ContainerState.RUNNING, api.ContainerState.PAUSED, api.ContainerState.RESTARTING)

# How often an idle event stream looks for new events, and lets a gone client be noticed.
EVENT_POLL = 0.1


class DaemonService:
    def __init__(self, engine: LocalEngine, system: LocalSystem,
                 supervisor: Supervisor | None = None) -> None:
        self.engine = engine
        self.system = system
        self.supervisor = supervisor

    def __getattr__(self, name: str) -> Any:
        # Engine methods without daemon-specific behaviour pass straight through.
        if name.startswith(("image_", "network_", "volume_", "container_")):
            return getattr(self.engine, name)
        raise AttributeError(name)

    # --- containers: the supervisor listens in ----------------------------------------

    def _overlay(self, info: api.ContainerInfo) -> api.ContainerInfo:
        if self.supervisor is None:
            return info
        extra = self.supervisor.overlay(info)
        return dataclasses.replace(info, **extra) if extra else info

    def container_inspect(self, ref: str) -> api.ContainerInfo:
        return self._overlay(self.engine.container_inspect(ref))

    def container_list(self, *, all: bool = False,
                       labels: Mapping[str, str] | None = None) -> list[api.ContainerInfo]:
        if self.supervisor is None:
            return self.engine.container_list(all=all, labels=labels)
        # A container in its restart back-off is "exited" to the engine, "restarting" here,
        # and listed without ``all`` (as ``docker ps`` lists it).
        supervisor = self.supervisor
        items = supervisor.store.all()  # one query, not one per container
        infos = []
        for info in self.engine.container_list(all=True, labels=labels):
            extra = supervisor.overlay(info, items.get(info.id))
            infos.append(dataclasses.replace(info, **extra) if extra else info)
        return infos if all else [i for i in infos if i.state in _ACTIVE]

    def container_create(self, config: api.ContainerConfig) -> api.ContainerInfo:
        return self._overlay(self.engine.container_create(config))

    def container_start(self, ref: str) -> None:
        if self.supervisor is not None:
            self.supervisor.user_starting(ref)
        self.engine.container_start(ref)
        if self.supervisor is not None:
            self.supervisor.user_started(ref)

    def container_restart(self, ref: str, *, timeout: float | None = None) -> None:
        if self.supervisor is not None:
            self.supervisor.user_stopping(ref)
        self.engine.container_restart(ref, timeout=timeout)
        if self.supervisor is not None:
            self.supervisor.user_starting(ref)
        if self.supervisor is not None:
            self.supervisor.user_started(ref)

    def container_stop(self, ref: str, *, signal: str | None = None,
                       timeout: float | None = None) -> None:
        if self.supervisor is not None:
            self.supervisor.user_stopping(ref)
        self.engine.container_stop(ref, signal=signal, timeout=timeout)

    def container_kill(self, ref: str, *, signal: str = "KILL") -> None:
        if self.supervisor is not None and signal.upper().removeprefix("SIG") in (
                "KILL", "TERM", "INT", "QUIT", "9", "15", "2", "3"):
            self.supervisor.user_stopping(ref)
        self.engine.container_kill(ref, signal=signal)

    def container_remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        if self.supervisor is not None:
            self.supervisor.user_stopping(ref)
        self.engine.container_remove(ref, force=force, volumes=volumes)

    def container_exec(self, ref: str, cmd: Sequence[str], *,
                       env: Mapping[str, str] | None = None, user: str | None = None,
                       workdir: str | None = None, stdin: bytes | None = None) -> api.ExecResult:
        return self.engine.container_exec(ref, cmd, env=env, user=user, workdir=workdir,
                                          stdin=stdin)

    def container_exec_stream(self, ref: str, cmd: Sequence[str], *,
                              env: Mapping[str, str] | None = None, user: str | None = None,
                              workdir: str | None = None,
                              stdin: bytes | None = None) -> Iterator[ExecChunk]:
        argv = self.engine.containers.exec_command(ref, cmd, tty=False, env=env, user=user,
                                                   workdir=workdir)
        return stream_exec(argv, stdin=stdin, heartbeat=HEARTBEAT)

    def container_exec_attach(self, ref: str, cmd: Sequence[str], *,
                              env: Mapping[str, str] | None = None, user: str | None = None,
                              workdir: str | None = None, tty: bool = False,
                              rows: int = 0, cols: int = 0) -> ProcessExec:
        argv = self.engine.containers.exec_command(ref, cmd, tty=tty, env=env, user=user,
                                                   workdir=workdir)
        return ProcessExec(argv, tty=tty, rows=rows, cols=cols)

    def container_attach(self, ref: str, *, stdin: bool = False, rows: int = 0,
                         cols: int = 0) -> MainProcessAttach:
        return MainProcessAttach(self.engine.containers, ref, stdin=stdin, rows=rows, cols=cols)

    # --- events: polled, so a stream whose client left ends within EVENT_POLL ------------

    def events(self, *, since: float | None = None, until: float | None = None,
               filters: Mapping[str, str] | None = None) -> Iterator[api.Event]:
        log = self.engine.event_log
        cursor = time.time() if since is None else since
        sent_at_cursor: set[tuple[str, str, str]] = set()  # events at exactly ``cursor``
        while True:
            for event in log.stream(since=cursor, until=until, filters=filters, follow=False):
                key = (event.type, event.action, event.id)
                if event.time == cursor and key in sent_at_cursor:
                    continue
                if event.time != cursor:
                    cursor, sent_at_cursor = event.time, set()
                sent_at_cursor.add(key)
                yield event
            if until is not None and time.time() > until:
                return
            yield HEARTBEAT
            time.sleep(EVENT_POLL)

    # --- system ------------------------------------------------------------------------

    def version(self) -> VersionInfo:
        return self.system.version()

    def system_info(self) -> SystemInfo:
        return self.system.system_info()

    def system_df(self) -> DiskUsage:
        return self.system.system_df()

    def system_prune(self, *, all: bool = False, volumes: bool = False) -> PruneReport:
        return self.system.system_prune(all=all, volumes=volumes)
