"""`stack logs` and the attached part of `stack up`: containers' output, prefixed and coloured.

One reader thread per container hands lines to the main thread, which alone
writes (``web-1  | line``). With ``-f`` a watcher looks for the project's
containers every half second, so a container that restarts (same id: reading
resumes after the last line seen) or is recreated (a new id: a new reader) keeps
being followed. Reader threads are daemons: Ctrl-C ends the command at once.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli import project_context as pc
from orchestrator.cli.logs_format import Prefixer, parse_since
from orchestrator.errors import EngineCallError

if TYPE_CHECKING:
    from runtime import api

WATCH_INTERVAL = 0.5


@dataclass(frozen=True, slots=True)
class _Line:
    container: str  # name
    service: str
    entry: api.LogEntry | None  # None: the container exited (exit_code says how)
    exit_code: int | None = None


class _Follower:
    """Readers for a project's containers, feeding one queue."""

    def __init__(self, engine: api.Engine, *, follow: bool, tail: int | None,
                 since: float | None) -> None:
        self.engine = engine
        self.follow = follow
        self.tail = tail
        self.since = since
        self.lines: queue.Queue[_Line] = queue.Queue(maxsize=10000)
        self.stop = threading.Event()
        self.readers: dict[str, threading.Thread] = {}

    def add(self, cid: str, name: str, service: str) -> None:
        if cid in self.readers:
            return
        t = threading.Thread(target=self._read, args=(cid, name, service), daemon=True,
                             name=f"logs-{name}")
        self.readers[cid] = t
        t.start()

    def alive(self) -> int:
        return sum(1 for t in self.readers.values() if t.is_alive())

    def _read(self, cid: str, name: str, service: str) -> None:
        from runtime import api as rapi
        from runtime.errors import EngineError, NotFound

        since, tail = self.since, self.tail
        last_start: float | None = None
        while not self.stop.is_set():
            try:
                for entry in self.engine.container_logs(cid, follow=self.follow, since=since,
                                                        tail=tail):
                    self.lines.put(_Line(name, service, entry))
                    since = entry.time + 1e-6
                    if self.stop.is_set():
                        return
                tail = None
                if not self.follow:
                    return
                info = self.engine.container_inspect(cid)
                if info.state in (rapi.ContainerState.EXITED, rapi.ContainerState.DEAD):
                    if last_start != info.started_at:
                        self.lines.put(_Line(name, service, None, info.exit_code))
                    last_start = info.started_at
                # wait for a restart (same id) or removal
                while not self.stop.wait(WATCH_INTERVAL):
                    info = self.engine.container_inspect(cid)
                    if info.state in (rapi.ContainerState.RUNNING,
                                      rapi.ContainerState.RESTARTING):
                        break
            except NotFound:
                return
            except EngineError:
                if self.stop.wait(WATCH_INTERVAL):
                    return


def logs(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="[SERVICE]...",
                                                         show_default=False)] = None,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Follow log output.")] = False,
    tail: Annotated[str | None, typer.Option(
        "-n", "--tail", metavar="N", help="Lines from the end of each log (or 'all').",
        show_default=False)] = None,
    timestamps: Annotated[bool, typer.Option("-t", "--timestamps", help="Show timestamps.")
                          ] = False,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="WHEN", help="Since a time (RFC 3339 or UNIX) or for a duration "
        "(10m, 1h30m).", show_default=False)] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="Monochrome output.")] = False,
    no_log_prefix: Annotated[bool, typer.Option("--no-log-prefix", help="No name prefix.")
                             ] = False,
    index: Annotated[int | None, typer.Option("--index", help="Replica number.",
                                              show_default=False)] = None,
) -> None:
    """Show the output of the stack's containers."""
    project = pc.load(ctx, need_file=False)
    tail_n = None if tail in (None, "all") else _int(tail, "--tail")
    follower = _Follower(pc.engine(ctx), follow=follow, tail=tail_n,
                         since=parse_since(since) if since else None)
    names = list(services or ())
    pc.select(project, names)  # unknown service names are errors
    prefixer = Prefixer(colour=not no_color and sys.stdout.isatty(), prefix=not no_log_prefix,
                        timestamps=timestamps)

    def discover() -> None:
        found = [c for c in pc.containers(ctx, project, services=names)
                 if index is None or c.number == index]
        # one width for every prefix, like Compose: the columns line up from the first line
        prefixer.width = max([prefixer.width, *(len(pc.short_name(project.name, c.name))
                                                for c in found)])
        for c in found:
            follower.add(c.id, pc.short_name(project.name, c.name), c.service)

    discover()
    _pump(follower, prefixer, rediscover=discover if follow else None)


def _int(text: str | None, option: str) -> int:
    try:
        return int(text or "")
    except ValueError:
        raise typer.BadParameter(f'{option} "{text}": expected a number or "all"') from None


def _pump(follower: _Follower, prefixer: Prefixer, *,
          rediscover: Callable[[], None] | None = None,
          on_exit: Callable[[_Line], bool] | None = None) -> None:
    """Write lines until every reader is done (without -f) or forever with -f (Ctrl-C)."""
    next_watch = time.monotonic() + WATCH_INTERVAL
    while True:
        try:
            line = follower.lines.get(timeout=0.1)
        except queue.Empty:
            if rediscover is None and follower.alive() == 0 and follower.lines.empty():
                return
            if rediscover is not None and time.monotonic() >= next_watch:
                next_watch = time.monotonic() + WATCH_INTERVAL
                with contextlib.suppress(EngineCallError):
                    rediscover()
            continue
        if line.entry is None:
            if on_exit is not None:
                if on_exit(line):
                    return
            else:
                prefixer.exited(line.container, line.service, line.exit_code)
            continue
        prefixer.write(line.container, line.service, line.entry)


def attach(ctx: typer.Context, project: pc.Project, *, services: list[str] | None,
           no_color: bool, abort_on_exit: bool, exit_code_from: str | None,
           timeout: float | None, since: float | None = None,
           hidden: frozenset[str] = frozenset(), timestamps: bool = False,
           prefix: bool = True) -> int:
    """After an attached `up`: follow the containers of ``services`` (None: all) until all
    have exited (or one has, with abort_on_exit), showing the output of those not
    ``hidden``; Ctrl-C stops the stack gracefully. Returns the exit code."""
    from orchestrator.cli import render

    engine = pc.engine(ctx)
    # output of this run only: a restarted container's log file holds earlier runs too
    follower = _Follower(engine, follow=True, tail=None, since=since)
    prefixer = Prefixer(colour=not no_color and sys.stdout.isatty(), prefix=prefix,
                        timestamps=timestamps, hidden=hidden)
    names = list(services or ())
    state: dict[str, int] = {}

    def discover() -> None:
        for c in pc.containers(ctx, project, services=names):
            follower.add(c.id, pc.short_name(project.name, c.name), c.service)

    def running() -> bool:
        return any(c.running for c in pc.containers(ctx, project, services=names))

    def on_exit(line: _Line) -> bool:
        prefixer.exited(line.container, line.service, line.exit_code)
        code = line.exit_code or 0
        if exit_code_from is not None:
            if line.service == exit_code_from:
                state["code"] = code
                return True
            return False
        if abort_on_exit:
            state["code"] = code
            return True
        return not running()

    discover()
    try:
        _pump(follower, prefixer, rediscover=discover, on_exit=on_exit)
    except KeyboardInterrupt:
        render.line("Gracefully stopping... (press Ctrl+C again to force)")
        _stop_all(ctx, project, names, timeout)
        return 130
    follower.stop.set()
    if abort_on_exit:
        render.line("Aborting on container exit...")
        _stop_all(ctx, project, names, timeout)
    return state.get("code", 0)


def _stop_all(ctx: typer.Context, project: pc.Project, names: list[str],
              timeout: float | None) -> None:
    from orchestrator.cli import render
    from orchestrator.cli.lifecycle_cmds import stop_containers

    with render.stack_progress() as reporter:
        stop_containers(ctx, project, names, timeout=timeout, reporter=reporter)
