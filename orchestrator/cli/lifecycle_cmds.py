"""`stack start`, `stop`, `restart`, `kill`, `pause`, `unpause`, `rm`, `wait`: act on the
containers a project already has, in dependency order (start: what is needed
first; stop: dependants first), side by side within a generation."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli import project_context as pc
from orchestrator.cli import render
from orchestrator.errors import EngineCallError

if TYPE_CHECKING:
    from orchestrator.observe import ObservedContainer
    from orchestrator.progress import Reporter

ServicesArg = Annotated[list[str] | None, typer.Argument(metavar="[SERVICE]...",
                                                         show_default=False)]
TimeoutOpt = Annotated[float | None, typer.Option(
    "-t", "--timeout", metavar="SECONDS", help="Grace period before SIGKILL.",
    show_default=False)]


def _generations(project: pc.Project, containers: list[ObservedContainer], *,
                 reverse: bool) -> list[list[ObservedContainer]]:
    """Containers grouped by dependency generation (from their depends-on labels)."""
    from orchestrator.plan import label_start_order

    order = label_start_order(containers)
    if reverse:
        order.reverse()
    known = {s for gen in order for s in gen}
    groups = [[c for c in containers if c.service not in known]]
    groups += [[c for c in containers if c.service in gen] for gen in order]
    return [g for g in groups if g]


def _each(ctx: typer.Context, project: pc.Project, containers: list[ObservedContainer], *,
          reverse: bool, working: str, done: str, act: Callable[[Any, str], None],
          reporter: Reporter) -> list[str]:
    """Run ``act(engine, id)`` per container, a generation at a time; returns the errors."""
    from orchestrator.progress import Phase, ProgressEvent
    from runtime.errors import EngineError

    engine = pc.engine(ctx)
    errors: list[str] = []

    def one(c: ObservedContainer) -> None:
        reporter(ProgressEvent(kind="Container", name=c.name, status=working,
                               phase=Phase.WORKING))
        try:
            act(engine, c.id)
        except EngineError as exc:
            reporter(ProgressEvent(kind="Container", name=c.name, status="Error",
                                   phase=Phase.ERROR, detail=exc.message))
            errors.append(f'container "{c.name}": {exc.message}')
            return
        reporter(ProgressEvent(kind="Container", name=c.name, status=done, phase=Phase.DONE))

    with ThreadPoolExecutor(max_workers=32) as pool:
        for gen in _generations(project, containers, reverse=reverse):
            list(pool.map(one, gen))
    return errors


def _run(ctx: typer.Context, services: list[str] | None, *, reverse: bool, working: str,
         done: str, act: Callable[[Any, str], None],
         pick: Callable[[ObservedContainer], bool] = lambda c: True) -> None:
    project = pc.load(ctx, need_file=False)
    names = list(services or ())
    pc.select(project, names)
    found = [c for c in pc.containers(ctx, project, services=names) if pick(c)]
    with render.stack_progress() as reporter:
        errors = _each(ctx, project, found, reverse=reverse, working=working, done=done,
                       act=act, reporter=reporter)
    for err in errors:
        render.error(err)
    if errors:
        raise typer.Exit(1)


def stop_containers(ctx: typer.Context, project: pc.Project, names: list[str], *,
                    timeout: float | None, reporter: Reporter) -> list[str]:
    found = [c for c in pc.containers(ctx, project, services=names) if c.running]
    return _each(ctx, project, found, reverse=True, working="Stopping", done="Stopped",
                 act=lambda e, cid: e.container_stop(cid, timeout=timeout), reporter=reporter)


def start(ctx: typer.Context, services: ServicesArg = None) -> None:
    """Start the stack's existing containers."""
    _run(ctx, services, reverse=False, working="Starting", done="Started",
         act=lambda e, cid: e.container_start(cid), pick=lambda c: not c.running)


def stop(ctx: typer.Context, services: ServicesArg = None, timeout: TimeoutOpt = None) -> None:
    """Stop the stack's containers (dependants first)."""
    _run(ctx, services, reverse=True, working="Stopping", done="Stopped",
         act=lambda e, cid: e.container_stop(cid, timeout=timeout), pick=lambda c: c.running)


def restart(ctx: typer.Context, services: ServicesArg = None, timeout: TimeoutOpt = None,
            no_deps: Annotated[bool, typer.Option("--no-deps")] = False) -> None:
    """Restart the stack's containers."""
    _run(ctx, services, reverse=False, working="Restarting", done="Started",
         act=lambda e, cid: e.container_restart(cid, timeout=timeout))


def kill(ctx: typer.Context, services: ServicesArg = None,
         signal: Annotated[str, typer.Option("-s", "--signal", metavar="SIGNAL",
                                             help="Signal to send.")] = "KILL",
         remove_orphans: Annotated[bool, typer.Option("--remove-orphans")] = False) -> None:
    """Send a signal to the stack's running containers."""
    _run(ctx, services, reverse=True, working="Killing", done="Killed",
         act=lambda e, cid: e.container_kill(cid, signal=signal), pick=lambda c: c.running)


def pause(ctx: typer.Context, services: ServicesArg = None) -> None:
    """Pause the stack's running containers."""
    from runtime.api import ContainerState

    _run(ctx, services, reverse=True, working="Pausing", done="Paused",
         act=lambda e, cid: e.container_pause(cid),
         pick=lambda c: c.state is ContainerState.RUNNING)


def unpause(ctx: typer.Context, services: ServicesArg = None) -> None:
    """Unpause the stack's paused containers."""
    from runtime.api import ContainerState

    _run(ctx, services, reverse=False, working="Unpausing", done="Unpaused",
         act=lambda e, cid: e.container_unpause(cid),
         pick=lambda c: c.state is ContainerState.PAUSED)


def rm(ctx: typer.Context, services: ServicesArg = None,
       force: Annotated[bool, typer.Option("-f", "--force", help="Do not ask (we never do).")
                        ] = False,
       stop_first: Annotated[bool, typer.Option("-s", "--stop", help="Stop them first.")
                             ] = False,
       volumes: Annotated[bool, typer.Option("-v", "--volumes",
                                             help="Remove their anonymous volumes.")] = False
       ) -> None:
    """Remove the stack's stopped containers (running ones too with -s)."""
    def act(e: Any, cid: str) -> None:
        if stop_first:
            e.container_stop(cid)
        e.container_remove(cid, volumes=volumes)

    project = pc.load(ctx, need_file=False)
    names = list(services or ())
    pc.select(project, names)
    found = [c for c in pc.containers(ctx, project, services=names)
             if stop_first or not c.running]
    if not found:
        render.line("No stopped containers")
        return
    with render.stack_progress() as reporter:
        errors = _each(ctx, project, found, reverse=True, working="Removing", done="Removed",
                       act=act, reporter=reporter)
    for err in errors:
        render.error(err)
    if errors:
        raise typer.Exit(1)


def wait(ctx: typer.Context, services: ServicesArg = None,
         down_project: Annotated[bool, typer.Option(
             "--down-project", help="Take the project down when the first container ends.")
             ] = False) -> None:
    """Block until the services' containers stop; print their exit codes."""
    import time

    from runtime import api
    from runtime.errors import EngineError

    project = pc.load(ctx, need_file=False)
    names = list(services or ())
    pc.select(project, names)
    engine = pc.engine(ctx)
    pending = {c.id: c for c in pc.containers(ctx, project, services=names)}
    code = 0
    while pending:
        for cid, c in list(pending.items()):
            try:
                info = engine.container_inspect(cid)
            except EngineError as exc:
                raise EngineCallError(f'container "{c.name}": {exc.message}') from exc
            if info.state in (api.ContainerState.EXITED, api.ContainerState.DEAD,
                              api.ContainerState.CREATED):
                render.line(f"{c.name} exited with code {info.exit_code}")
                code = code or (info.exit_code or 0)
                del pending[cid]
                if down_project:
                    from orchestrator.cli.project_cmds import down

                    down(ctx)
                    raise typer.Exit(code)
        time.sleep(0.2)
    raise typer.Exit(code)
