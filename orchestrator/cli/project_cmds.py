"""`stack up`, `down`, `plan`, `create`: plan by config hash, then apply in dependency order.

Exit codes as Compose's: 0 done; 1 a service failed (its dependants are named
with the cause); 2 bad usage; 130 interrupted; with ``--exit-code-from`` /
``--abort-on-container-exit`` the exit code of the container that ended it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli import project_context as pc
from orchestrator.cli import render
from orchestrator.errors import EngineCallError, UsageError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from orchestrator.convert import DesiredService
    from orchestrator.model import Stack
    from orchestrator.plan import Plan, PlanOptions
    from orchestrator.plancache import Exchange
    from orchestrator.progress import Reporter
    from runtime import api


class PullOption(StrEnum):
    always = "always"
    missing = "missing"
    never = "never"


class RmiOption(StrEnum):
    local = "local"
    all = "all"


class FormatOption(StrEnum):
    text = "text"
    json = "json"


ServicesArg = Annotated[list[str] | None, typer.Argument(
    metavar="[SERVICE]...", help="Services (default: all).", show_default=False)]
TimeoutOpt = Annotated[float | None, typer.Option(
    "-t", "--timeout", metavar="SECONDS",
    help="Grace period when stopping containers (default: each service's stop_grace_period).",
    show_default=False)]


def parse_scale(values: list[str] | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in values or ():
        name, eq, count = item.partition("=")
        if not eq or not name or not count.isdigit():
            raise UsageError(f'--scale "{item}": expected SERVICE=NUMBER')
        out[name] = int(count)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class _Planned:
    project: pc.Project
    desired: dict[str, DesiredService]
    plan: Plan
    options: PlanOptions
    calls: list[Exchange] | None = None  # what observe asked the engine (for the plan memo)
    environ: Mapping[str, str] = field(default_factory=dict)  # desired's hash saw it


def _make_plan(ctx: typer.Context, *, services: list[str], no_deps: bool,
               scale: dict[str, int], plan_options: PlanOptions,
               project: pc.Project | None = None) -> _Planned:
    import dataclasses

    from orchestrator.convert import desired_services

    project = project or pc.load(ctx, services=services)
    stack = project.stack
    assert stack is not None
    selected = pc.select(project, services, with_deps=not no_deps)
    for name in scale:
        if name not in stack.services:
            raise UsageError(f'--scale: no such service "{name}"')
    environ = pc.environment(ctx, project)
    desired = desired_services(stack, environ=environ, scale=scale)
    opts = dataclasses.replace(plan_options, services=selected)
    plan, calls = _observe_and_plan(ctx, stack, desired, opts)
    return _Planned(project=project, desired=desired, plan=plan, options=opts, calls=calls,
                    environ=environ)


def _observe_and_plan(ctx: typer.Context, stack: Stack, desired: dict[str, DesiredService],
                      options: PlanOptions) -> tuple[Plan, list[Exchange] | None]:
    """Observe the project (the selected services' images) and plan; the engine requests
    observing made, when the engine can record them."""
    from orchestrator import plancache
    from orchestrator.convert import image_ref
    from orchestrator.observe import observe
    from orchestrator.plan import plan_up

    engine = pc.engine(ctx)
    with plancache.recording(engine) as calls:
        observed = observe(
            engine, project=stack.name,
            images=[image_ref(stack.name, s) for n, s in stack.services.items()
                    if options.services is None or n in options.services],
            network_names=[n.name for n in stack.networks.values()],
            volume_names=[v.name for v in stack.volumes.values()])
    return plan_up(stack, desired, observed, options=options), calls


def _replan(ctx: typer.Context, planned: _Planned) -> Plan:
    """The plan again after images were pulled/built: image ids may have moved."""
    import dataclasses

    stack = planned.project.stack
    assert stack is not None
    return _observe_and_plan(ctx, stack, planned.desired,
                             dataclasses.replace(planned.options, images_ready=True))[0]


def up(
    ctx: typer.Context,
    services: ServicesArg = None,
    detach: Annotated[bool, typer.Option("-d", "--detach", help="Run in the background.")] = False,
    build: Annotated[bool, typer.Option("--build", help="Build images before starting.")] = False,
    no_build: Annotated[bool, typer.Option("--no-build", help="Do not build images.")] = False,
    pull: Annotated[PullOption | None, typer.Option(
        "--pull", help="Pull images: always, missing (default), never.",
        show_default=False)] = None,
    force_recreate: Annotated[bool, typer.Option(
        "--force-recreate", help="Recreate containers even if unchanged.")] = False,
    no_recreate: Annotated[bool, typer.Option(
        "--no-recreate", help="Do not recreate containers that exist.")] = False,
    remove_orphans: Annotated[bool, typer.Option(
        "--remove-orphans", help="Remove containers of services not in the file.")] = False,
    wait: Annotated[bool, typer.Option(
        "--wait", help="Wait until services run and are healthy (implies -d).")] = False,
    wait_timeout: Annotated[float | None, typer.Option(
        "--wait-timeout", metavar="SECONDS", help="Give up waiting after this long.",
        show_default=False)] = None,
    scale: Annotated[list[str] | None, typer.Option(
        "--scale", metavar="SERVICE=NUM", help="Number of replicas of a service.",
        show_default=False)] = None,
    abort_on_container_exit: Annotated[bool, typer.Option(
        "--abort-on-container-exit", help="Stop everything when a container exits.")] = False,
    exit_code_from: Annotated[str | None, typer.Option(
        "--exit-code-from", metavar="SERVICE", help="Exit with this service's exit code "
        "(implies --abort-on-container-exit).", show_default=False)] = None,
    no_deps: Annotated[bool, typer.Option("--no-deps", help="Do not start linked services.")
                       ] = False,
    no_start: Annotated[bool, typer.Option("--no-start", help="Create, do not start.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Monochrome log output.")] = False,
    quiet_pull: Annotated[bool, typer.Option("--quiet-pull", help="Less pull output.")] = False,
    timeout: TimeoutOpt = None,
    attach_to: Annotated[list[str] | None, typer.Option(
        "--attach", metavar="SERVICE", help="Show only these services' output.",
        show_default=False)] = None,
    no_attach: Annotated[list[str] | None, typer.Option(
        "--no-attach", metavar="SERVICE", help="Do not show these services' output.",
        show_default=False)] = None,
    attach_dependencies: Annotated[bool, typer.Option(
        "--attach-dependencies", help="Follow the named services' dependencies too.")] = False,
    timestamps: Annotated[bool, typer.Option("--timestamps", help="Show timestamps.")] = False,
    no_log_prefix: Annotated[bool, typer.Option("--no-log-prefix", help="No name prefix.")
                             ] = False,
) -> None:
    """Create and start the stack's containers; recreate only what changed."""
    params = {k: v for k, v in locals().items() if k != "ctx"}  # every option keys the memo
    import threading
    import time

    from orchestrator import plancache

    names = list(services or ())
    if exit_code_from:
        abort_on_container_exit = True
        if names and exit_code_from not in names:
            names.append(exit_code_from)
    if wait:
        detach = True
    if detach and abort_on_container_exit:
        raise UsageError("--abort-on-container-exit and --exit-code-from cannot be used with "
                         "-d / --wait")
    if detach and (attach_to or no_attach or attach_dependencies):
        raise UsageError("--attach, --no-attach and --attach-dependencies cannot be used with "
                         "-d / --wait")
    if build and no_build:
        raise UsageError("--build and --no-build cannot be used together")
    project = pc.load(ctx, services=names)
    memo = None
    if detach and not wait and project.opened is not None:
        # (`--wait` waits even when nothing changes; attached, `up` goes on to the logs)
        memo = plancache.key(project.opened, "up", params)
        if memo is not None and plancache.still_empty(pc.engine(ctx), project.opened, memo):
            render.line(f'Project "{project.name}" is up to date: nothing to do.')
            return
    from orchestrator.apply import ApplyOptions, ApplyResult, apply_up, prepare_images
    from orchestrator.plan import PlanOptions

    planned = _make_plan(ctx, project=project, services=names, no_deps=no_deps,
                         scale=parse_scale(scale), plan_options=PlanOptions(
                             force_recreate=force_recreate, no_recreate=no_recreate,
                             remove_orphans=remove_orphans,
                             always_pull=pull is PullOption.always,
                             never_pull=pull is PullOption.never, build=build,
                             no_build=no_build))
    stack = planned.project.stack
    assert stack is not None
    if exit_code_from and exit_code_from not in stack.services:
        raise UsageError(f'--exit-code-from: no such service "{exit_code_from}"')
    for option, listed in (("--attach", attach_to), ("--no-attach", no_attach)):
        unknown = [n for n in listed or () if n not in stack.services]
        if unknown:
            raise UsageError(f'{option}: no such service: {", ".join(unknown)}',
                             hint=f'services: {", ".join(sorted(stack.services))}')
    engine = pc.engine(ctx)
    cancel = threading.Event()
    plan = planned.plan
    began = time.time()
    with render.stack_progress(quiet=False) as reporter:
        failed_images: dict[str, str] = {}
        if any(i.action.value in ("pull", "build") for i in plan.images()):
            failed_images = prepare_images(engine=engine, stack=stack, plan=plan,
                                           reporter=reporter, cancel=cancel)
            plan = _replan(ctx, planned)
        if plan.empty and not wait and not failed_images:
            result = ApplyResult(warnings=tuple(_orphan_warnings(plan)))
        else:
            result = apply_up(engine=engine, stack=stack, plan=plan, desired=planned.desired,
                              environ=planned.environ,
                              reporter=reporter, cancel=cancel, failed_images=failed_images,
                              options=ApplyOptions(stop_timeout=timeout, wait=wait,
                                                   wait_timeout=wait_timeout,
                                                   start=not no_start))
    for warning in result.warnings:
        render.warning(warning)
    if memo is not None and not result.failed and not result.warnings:
        _remember_if_empty(ctx, planned, memo, plan)
    if plan.empty and not result.failed:
        render.line(f'Project "{stack.name}" is up to date: nothing to do.')
    elif not result.failed:
        render.line(_summary(stack.name, plan))
    for failure in result.failed:
        render.error(f'service "{failure.service}": {failure.error}')
    if result.failed:
        raise typer.Exit(1)
    if detach or no_start:
        return
    from orchestrator.cli.logs_cmds import attach

    # Like Compose: the named services (all when none is), their dependencies with
    # --attach-dependencies, and any --attach'ed ones are followed; output is shown for
    # the --attach'ed ones only (when given), never for --no-attach'ed ones.
    followed = set(names)
    if names and attach_dependencies:
        followed |= pc.select(planned.project, names) or set()
    if names:
        followed |= set(attach_to or ())
    hidden = frozenset(n for n in stack.services
                       if (attach_to and n not in attach_to) or n in (no_attach or ()))
    code = attach(ctx, planned.project, services=sorted(followed) or None, no_color=no_color,
                  abort_on_exit=abort_on_container_exit, exit_code_from=exit_code_from,
                  timeout=timeout, since=began, hidden=hidden, timestamps=timestamps,
                  prefix=not no_log_prefix)
    raise typer.Exit(code)


def _remember_if_empty(ctx: typer.Context, planned: _Planned, memo: tuple[str, str],
                       applied: Plan) -> None:
    """Keep a memo of an empty plan for the next `up -d`: this one's, or, after changes,
    the plan made afresh now (which is also a check that applying converged)."""
    from orchestrator import plancache

    stack, opened = planned.project.stack, planned.project.opened
    assert stack is not None and opened is not None
    plan, calls = planned.plan, planned.calls
    if not applied.empty or plan is not applied:
        plan, calls = _observe_and_plan(ctx, stack, planned.desired, planned.options)
    if plan.empty and not _orphan_warnings(plan):
        plancache.remember(opened, memo, calls)


def _orphan_warnings(plan: Plan) -> list[str]:
    return [f'found orphan container "{c.name}" for service "{c.service}": remove it with '
            "--remove-orphans" for c in plan.orphans]


def _summary(project: str, plan: Plan) -> str:
    """``Project "notes": 2 created, 1 recreated, 1 started, 1 unchanged.``"""
    from orchestrator.plan import Action

    words = {Action.CREATE: "created", Action.RECREATE: "recreated", Action.START: "started",
             Action.REMOVE: "removed", Action.NOOP: "unchanged"}
    counts: dict[str, int] = {}
    for s in plan.services.values():
        for c in s.containers:
            word = words.get(c.action)
            if word:
                counts[word] = counts.get(word, 0) + 1
    for c in plan.orphans:
        if c.action is Action.REMOVE:
            counts["removed"] = counts.get("removed", 0) + 1
    parts = [f"{n} {w}" for w, n in counts.items()]
    return f'Project "{project}": {", ".join(parts) or "no containers"}.'


def create(
    ctx: typer.Context,
    services: ServicesArg = None,
    force_recreate: Annotated[bool, typer.Option("--force-recreate")] = False,
    no_recreate: Annotated[bool, typer.Option("--no-recreate")] = False,
    pull: Annotated[PullOption | None, typer.Option("--pull", show_default=False)] = None,
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans")] = False,
) -> None:
    """Create the containers without starting them."""
    from orchestrator.apply import ApplyOptions, apply_up, prepare_images
    from orchestrator.plan import PlanOptions

    planned = _make_plan(ctx, services=list(services or ()), no_deps=False, scale={},
                         plan_options=PlanOptions(
                             force_recreate=force_recreate, no_recreate=no_recreate,
                             remove_orphans=remove_orphans,
                             always_pull=pull is PullOption.always,
                             never_pull=pull is PullOption.never))
    stack = planned.project.stack
    assert stack is not None
    engine = pc.engine(ctx)
    with render.stack_progress() as reporter:
        failed = prepare_images(engine=engine, stack=stack, plan=planned.plan, reporter=reporter)
        result = apply_up(engine=engine, stack=stack, plan=_replan(ctx, planned),
                          desired=planned.desired, environ=planned.environ,
                          reporter=reporter, failed_images=failed,
                          options=ApplyOptions(start=False))
    for failure in result.failed:
        render.error(f'service "{failure.service}": {failure.error}')
    if result.failed:
        raise typer.Exit(1)


def plan(
    ctx: typer.Context,
    services: ServicesArg = None,
    format: Annotated[FormatOption, typer.Option("--format", help="text or json.")
                      ] = FormatOption.text,
    show_all: Annotated[bool, typer.Option("--all", help="Show no-ops too.")] = False,
    force_recreate: Annotated[bool, typer.Option("--force-recreate")] = False,
    no_recreate: Annotated[bool, typer.Option("--no-recreate")] = False,
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans")] = False,
    scale: Annotated[list[str] | None, typer.Option("--scale", metavar="SERVICE=NUM",
                                                     show_default=False)] = None,
    no_deps: Annotated[bool, typer.Option("--no-deps")] = False,
    pull: Annotated[PullOption | None, typer.Option("--pull", show_default=False)] = None,
    build: Annotated[bool, typer.Option("--build")] = False,
    detailed_exitcode: Annotated[bool, typer.Option(
        "--detailed-exitcode", help="Exit 2 when there are changes (like terraform).")] = False,
) -> None:
    """Show what `up` would do, and why, without doing it."""
    from orchestrator.plan import PlanOptions

    planned = _make_plan(ctx, services=list(services or ()), no_deps=no_deps,
                         scale=parse_scale(scale), plan_options=PlanOptions(
                             force_recreate=force_recreate, no_recreate=no_recreate,
                             remove_orphans=remove_orphans,
                             always_pull=pull is PullOption.always,
                             never_pull=pull is PullOption.never, build=build))
    if format is FormatOption.json:
        render.json_out(planned.plan.to_dict())
    else:
        for text in planned.plan.render(show_noop=show_all):
            render.line(text)
    if detailed_exitcode and not planned.plan.empty:
        raise typer.Exit(2)


def down(
    ctx: typer.Context,
    services: ServicesArg = None,
    volumes: Annotated[bool, typer.Option(
        "-v", "--volumes", help="Remove the project's named volumes and anonymous ones.")
        ] = False,
    rmi: Annotated[RmiOption | None, typer.Option(
        "--rmi", help="Remove images: local (built ones without a tag of their own) or all.",
        show_default=False)] = None,
    remove_orphans: Annotated[bool, typer.Option(
        "--remove-orphans", help="Remove containers of services not in the file.")] = False,
    timeout: TimeoutOpt = None,
) -> None:
    """Stop and remove the stack's containers and networks (volumes with -v)."""
    from orchestrator.down import apply_down
    from orchestrator.observe import observe
    from orchestrator.plan import plan_down

    project = pc.load(ctx, need_file=False)
    stack = project.stack
    engine = pc.engine(ctx)
    names = list(services or ())
    observed = observe(engine, project=project.name)
    external: frozenset[str] = frozenset()
    service_set: frozenset[str] | None = None
    if stack is not None:
        external = frozenset([n.name for n in stack.networks.values() if n.external]
                             + [v.name for v in stack.volumes.values() if v.external])
        service_set = frozenset(names) if names else frozenset(stack.services)
    elif names:
        service_set = frozenset(names)
    # stop order from the containers' depends-on labels: what they were made with
    down_plan = plan_down(observed, services=service_set,
                          remove_volumes=volumes, remove_orphans=remove_orphans or stack is None,
                          external_names=external)
    if names:  # only those services' containers: networks and volumes stay for the rest
        from orchestrator.plan import DownPlan

        down_plan = DownPlan(project=down_plan.project,
                             stop_generations=down_plan.stop_generations)
    with render.stack_progress() as reporter:
        result = apply_down(engine=engine, plan=down_plan, reporter=reporter, timeout=timeout)
        if rmi is not None and stack is not None:
            _remove_images(engine, stack, local_only=rmi is RmiOption.local, reporter=reporter)
    if stack is not None and not remove_orphans:
        orphans = sorted({c.name for c in observed.containers
                          if not c.oneoff and c.service not in stack.services})
        if orphans:
            render.warning(f"found orphan containers ({', '.join(orphans)}): "
                           "remove them with --remove-orphans")
    if result.errors:
        for err in result.errors:
            render.error(err)
        raise typer.Exit(1)


def _remove_images(engine: api.Engine, stack: Stack, *, local_only: bool,
                   reporter: Reporter) -> None:
    """``down --rmi``: local = images we name ourselves (built, no image: of their own)."""
    from orchestrator.convert import image_ref
    from orchestrator.progress import Phase, ProgressEvent
    from runtime.errors import EngineError, NotFound

    refs = {image_ref(stack.name, s) for s in stack.services.values()
            if not local_only or (s.build is not None and s.image is None)}
    for ref in sorted(refs):
        try:
            engine.image_remove(ref)
        except NotFound:
            continue
        except EngineError as exc:
            raise EngineCallError(f'image "{ref}": {exc.message}') from exc
        reporter(ProgressEvent(kind="Image", name=ref, status="Removed", phase=Phase.DONE))
