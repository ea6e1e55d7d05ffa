"""`stack exec`, `run` (one-off containers), `pull`, `push`."""

from __future__ import annotations

import os
import stat
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli import project_context as pc
from orchestrator.cli import render
from orchestrator.errors import EngineCallError, UsageError

if TYPE_CHECKING:
    from orchestrator.model import Service, Stack
    from runtime import api


def _env_pairs(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or ():
        key, eq, value = item.partition("=")
        if not eq:
            if key not in os.environ:
                continue
            value = os.environ[key]
        out[key] = value
    return out


def _piped_stdin() -> bytes | None:
    """stdin's bytes when it is a pipe or a file (never blocks on a terminal or /dev/null)."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISFIFO(mode) or stat.S_ISREG(mode):
        return sys.stdin.buffer.read()
    return None


def exec_(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    command: Annotated[list[str], typer.Argument(metavar="COMMAND [ARGS]...")],
    no_tty: Annotated[bool, typer.Option("-T", "--no-TTY", help="No pseudo-terminal.")
                      ] = False,
    detach: Annotated[bool, typer.Option("-d", "--detach", help="Run in the background.")
                      ] = False,
    user: Annotated[str | None, typer.Option("-u", "--user", show_default=False)] = None,
    workdir: Annotated[str | None, typer.Option("-w", "--workdir", show_default=False)] = None,
    env: Annotated[list[str] | None, typer.Option("-e", "--env", metavar="KEY=VAL",
                                                  show_default=False)] = None,
    index: Annotated[int, typer.Option("--index", help="Replica number.")] = 1,
) -> None:
    """Run a command in a running container of a service."""
    from runtime.errors import EngineError

    project = pc.load(ctx, need_file=False)
    pc.select(project, [service])
    found = [c for c in pc.containers(ctx, project, services=[service]) if c.number == index]
    if not found or not found[0].running:
        raise UsageError(f'service "{service}" is not running'
                         + (f" (no replica {index})" if not found else ""))
    container = found[0]
    engine = pc.engine(ctx)
    variables = _env_pairs(env)
    tty = not no_tty and sys.stdin.isatty() and sys.stdout.isatty()
    if tty and not detach:
        # an interactive terminal: `stack container exec -it` relays it to the daemon's
        # attach WebSocket (or, in process, runs runc exec in the foreground here)
        from orchestrator.cli import container as container_cmds

        container_cmds.exec_(ctx, ref=container.name, command=command, interactive=True,
                             tty=True, env=list(env or ()), user=user, workdir=workdir)
        return
    try:
        result = engine.container_exec(container.id, command, env=variables or None, user=user,
                                       workdir=workdir,
                                       stdin=None if detach else _piped_stdin())
    except EngineError as exc:
        raise EngineCallError(f'service "{service}": exec: {exc.message}') from exc
    sys.stdout.buffer.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.buffer.write(result.stderr)
    sys.stderr.flush()
    raise typer.Exit(result.exit_code)


def run(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    command: Annotated[list[str] | None, typer.Argument(metavar="[COMMAND] [ARGS]...",
                                                        show_default=False)] = None,
    detach: Annotated[bool, typer.Option("-d", "--detach")] = False,
    rm: Annotated[bool, typer.Option("--rm", help="Remove the container when it exits.")
                  ] = False,
    env: Annotated[list[str] | None, typer.Option("-e", "--env", metavar="KEY=VAL",
                                                  show_default=False)] = None,
    entrypoint: Annotated[str | None, typer.Option("--entrypoint", show_default=False)] = None,
    no_deps: Annotated[bool, typer.Option("--no-deps", help="Do not start dependencies.")
                       ] = False,
    publish: Annotated[list[str] | None, typer.Option(
        "-p", "--publish", metavar="[IP:]HOST:CONTAINER", show_default=False)] = None,
    service_ports: Annotated[bool, typer.Option("--service-ports",
                                                help="Publish the service's ports.")] = False,
    name: Annotated[str | None, typer.Option("--name", show_default=False)] = None,
    user: Annotated[str | None, typer.Option("-u", "--user", show_default=False)] = None,
    workdir: Annotated[str | None, typer.Option("-w", "--workdir", show_default=False)] = None,
    no_tty: Annotated[bool, typer.Option("-T", "--no-TTY")] = False,
) -> None:
    """Run a one-off command in a new container of a service."""
    import dataclasses
    import secrets
    import shlex

    from orchestrator.convert import ServiceIdentity, container_config, oneoff_name
    from runtime.errors import EngineError

    project = pc.load(ctx, services=[service])
    stack = project.stack
    assert stack is not None
    pc.select(project, [service])
    svc = stack.services[service]
    if not no_deps and svc.depends_on:
        _start_dependencies(ctx, project, service)
    ports: tuple[api.PortBinding, ...] | None = () if not service_ports else None
    if publish:
        ports = tuple(_publish(p) for p in publish)
    from orchestrator.convert import desired_services

    environ = pc.environment(ctx, project)
    want = desired_services(stack, environ=environ)[service]
    identity = ServiceIdentity(project=stack.name, config_hash=want.config_hash,
                               field_hashes=want.field_hashes,
                               working_dir=str(stack.project_directory))
    config = container_config(
        stack, svc, number=1, identity=identity, oneoff=True,
        name=name or oneoff_name(stack.name, service, secrets.token_hex(6)),
        command=tuple(command) if command else None,
        entrypoint=tuple(shlex.split(entrypoint)) if entrypoint is not None else None,
        extra_env=_env_pairs(env), ports=ports, environ=environ)
    # As `docker compose run`: stdin attached (a pipe too: `echo hi | stack run svc cat`)
    # and a terminal when stdin is one, unless -T; detached, as the service says.
    tty = (config.tty if detach else sys.stdin.isatty()) and not no_tty
    config = dataclasses.replace(config, user=user or config.user,
                                 working_dir=workdir or config.working_dir,
                                 tty=tty, stdin_open=config.stdin_open or not detach)
    engine = pc.engine(ctx)
    _ensure_image(ctx, stack, svc)
    try:
        info = engine.container_create(config)
        if detach:
            engine.container_start(info.id)
    except EngineError as exc:
        raise EngineCallError(f'service "{service}": run: {exc.message}') from exc
    if detach:
        render.line(info.name)
        return
    from orchestrator.cli.terminal import attached

    try:
        code = attached(engine, info.id, tty=tty, interactive=True, start=True)
    except EngineError as exc:
        raise EngineCallError(f'service "{service}": run: {exc.message}') from exc
    finally:
        if rm:
            try:
                engine.container_remove(info.id, force=True, volumes=True)
            except EngineError as exc:
                render.warning(f'container "{info.name}": not removed: {exc.message}')
    raise typer.Exit(code)


def _publish(spec: str) -> api.PortBinding:
    from runtime import api as rapi

    proto = "tcp"
    if "/" in spec:
        spec, proto = spec.rsplit("/", 1)
    parts = spec.rsplit(":", 2)
    try:
        if len(parts) == 1:
            return rapi.PortBinding(container_port=int(parts[0]), protocol=proto)  # type: ignore[arg-type]
        if len(parts) == 2:
            return rapi.PortBinding(container_port=int(parts[1]), host_port=int(parts[0]),
                                    protocol=proto)  # type: ignore[arg-type]
        return rapi.PortBinding(container_port=int(parts[2]),
                                host_port=int(parts[1]) if parts[1] else None,
                                host_ip=parts[0], protocol=proto)  # type: ignore[arg-type]
    except ValueError:
        raise UsageError(f'-p "{spec}": expected [IP:]HOST_PORT:CONTAINER_PORT') from None


def _start_dependencies(ctx: typer.Context, project: pc.Project, service: str) -> None:
    """`up -d` of what the service needs (conditions waited for), before the one-off runs."""
    from orchestrator import graph
    from orchestrator.apply import apply_up, prepare_images
    from orchestrator.cli.project_cmds import _make_plan, _replan
    from orchestrator.plan import PlanOptions

    deps = graph.dependencies(project.graph, service)
    if not deps:
        return
    planned = _make_plan(ctx, services=deps, no_deps=False, scale={},
                         plan_options=PlanOptions())
    assert planned.project.stack is not None
    engine = pc.engine(ctx)
    with render.stack_progress() as reporter:
        failed = prepare_images(engine=engine, stack=planned.project.stack, plan=planned.plan,
                                reporter=reporter)
        result = apply_up(engine=engine, stack=planned.project.stack,
                          plan=_replan(ctx, planned), desired=planned.desired,
                          environ=planned.environ,
                          reporter=reporter, failed_images=failed)
    for failure in result.failed:
        render.error(f'service "{failure.service}": {failure.error}')
    if result.failed:
        raise typer.Exit(1)


def _ensure_image(ctx: typer.Context, stack: Stack, svc: Service) -> None:
    from orchestrator.convert import image_ref
    from runtime.errors import EngineError, NotFound

    engine = pc.engine(ctx)
    ref = image_ref(stack.name, svc)
    try:
        engine.image_inspect(ref)
    except NotFound:
        try:
            engine.image_pull(ref)
        except EngineError as exc:
            raise EngineCallError(f'service "{svc.name}": image "{ref}": {exc.message}') from exc


def pull(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="[SERVICE]...",
                                                         show_default=False)] = None,
    ignore_failures: Annotated[bool, typer.Option("--ignore-pull-failures")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
) -> None:
    """Pull the images of the stack's services."""
    from concurrent.futures import ThreadPoolExecutor

    from orchestrator.convert import image_ref
    from orchestrator.progress import Phase, ProgressEvent
    from runtime.errors import EngineError

    project = pc.load(ctx, services=services or ())
    stack = project.stack
    assert stack is not None
    names = list(services or ())
    pc.select(project, names)
    refs = sorted({image_ref(stack.name, s) for n, s in stack.services.items()
                   if (not names or n in names) and s.image is not None})
    engine = pc.engine(ctx)
    errors: list[str] = []
    with render.stack_progress(quiet=quiet) as reporter:
        def one(ref: str) -> None:
            reporter(ProgressEvent(kind="Image", name=ref, status="Pulling",
                                   phase=Phase.WORKING))
            try:
                engine.image_pull(ref)
            except EngineError as exc:
                errors.append(f'image "{ref}": {exc.message}')
                reporter(ProgressEvent(kind="Image", name=ref, status="Error",
                                       phase=Phase.ERROR, detail=exc.message))
                return
            reporter(ProgressEvent(kind="Image", name=ref, status="Pulled", phase=Phase.DONE))

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(one, refs))
    for err in errors:
        (render.warning if ignore_failures else render.error)(err)
    if errors and not ignore_failures:
        raise typer.Exit(1)


def push(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="[SERVICE]...",
                                                         show_default=False)] = None,
    ignore_failures: Annotated[bool, typer.Option("--ignore-push-failures")] = False,
) -> None:
    """Push the images of services that build one and name it (image: + build:)."""
    from runtime.errors import EngineError

    project = pc.load(ctx, services=services or ())
    stack = project.stack
    assert stack is not None
    names = list(services or ())
    pc.select(project, names)
    engine = pc.engine(ctx)
    failed = False
    for n, s in stack.services.items():
        if (names and n not in names) or s.build is None or s.image is None:
            continue
        try:
            engine.image_push(s.image)
            render.line(f" ✔ Image {s.image}  Pushed")
        except EngineError as exc:
            failed = True
            (render.warning if ignore_failures else render.error)(
                f'service "{n}": push "{s.image}": {exc.message}')
    if failed and not ignore_failures:
        raise typer.Exit(1)


def cp(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="SRC", help="SERVICE:PATH or a local path.")],
    dest: Annotated[str, typer.Argument(metavar="DEST", help="SERVICE:PATH or a local path.")],
    index: Annotated[int, typer.Option("--index", help="Replica number.")] = 1,
) -> None:
    """Copy files between a service's container and here."""
    from orchestrator.cli import container as container_cmds

    project = pc.load(ctx, need_file=False)

    def resolve(spec: str) -> str:
        if ":" not in spec or spec.startswith(("/", ".")):
            return spec
        service, _, path = spec.partition(":")
        pc.select(project, [service], with_deps=False)
        found = [c for c in pc.containers(ctx, project, services=[service]) if c.number == index]
        if not found:
            raise UsageError(f'service "{service}" has no container number {index}')
        return f"{found[0].name}:{path}"

    container_cmds.cp(ctx, source=resolve(source), dest=resolve(dest))


def build(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="[SERVICE]...",
                                                         show_default=False)] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use the build cache.")
                        ] = False,
    pull: Annotated[bool, typer.Option("--pull", help="Always pull newer base images.")
                    ] = False,
) -> None:
    """Build the images of services that have a build section."""
    import dataclasses

    from orchestrator.apply import prepare_images
    from orchestrator.cli.project_cmds import _make_plan
    from orchestrator.plan import Action, PlanOptions

    names = list(services or ())
    planned = _make_plan(ctx, services=names, no_deps=True, scale={},
                         plan_options=PlanOptions(build=True))
    stack = planned.project.stack
    assert stack is not None
    if no_cache or pull:
        stack = dataclasses.replace(stack, services={
            n: (dataclasses.replace(s, build=dataclasses.replace(
                s.build, no_cache=s.build.no_cache or no_cache, pull=s.build.pull or pull))
                if s.build is not None else s)
            for n, s in stack.services.items()})
    if not any(i.action is Action.BUILD for i in planned.plan.images()):
        render.line("No services to build")
        return
    plan = dataclasses.replace(planned.plan, services={
        n: s for n, s in planned.plan.services.items() if s.image.action is Action.BUILD})
    with render.stack_progress() as reporter:
        failed = prepare_images(engine=pc.engine(ctx), stack=stack, plan=plan, reporter=reporter)
    for err in failed.values():
        render.error(err)
    if failed:
        raise typer.Exit(1)
