"""Apply an up-plan through the engine: dependency-ordered, parallel, failure-aware.

Order: networks and volumes, then orphans out, then images, then services. A
service's task waits for each of its dependencies to be done AND for the
depends_on condition (started / healthy / completed successfully), then
converges its own containers; services are submitted in topological
generations to a bounded pool, so a service starts as soon as what it needs is
ready and independent services come up side by side. (No deadlock: a task
waits only on tasks submitted before it, and the pool takes tasks in order.)

A failure marks the service failed and, through the waits, every service that
requires it ("dependency ... failed"); a ``required: false`` dependency only
warns. Services that do not depend on the failed one still come up. ``cancel``
(Ctrl-C) makes every task stop at its next step; engine calls already under
way finish, so nothing is left half-made that a re-run cannot adopt.

Idempotent by construction: containers are found by label, named
deterministically, and a re-run plans from what exists.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from orchestrator import conditions
from orchestrator import model as m
from orchestrator.conditions import Cancelled, ConditionFailed, HealthTracker
from orchestrator.convert import (
    DesiredService,
    ServiceIdentity,
    container_config,
    container_name,
    network_config,
    volume_config,
)
from orchestrator.errors import EngineCallError, StackError
from orchestrator.parallel import wait_all
from orchestrator.plan import Action, ContainerChange, Plan, ServicePlan
from orchestrator.progress import Phase, ProgressEvent, Reporter, ignore
from runtime import api
from runtime.errors import AlreadyExists, Conflict, EngineError, NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyOptions:
    stop_timeout: float | None = None  # -t: grace period when stopping for a recreate
    wait: bool = False  # --wait: until every container runs (healthy when it has a check)
    wait_timeout: float | None = None
    max_workers: int = 32
    start: bool = True  # False: create only (`stack create`)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceResult:
    service: str
    ok: bool
    error: str = ""
    containers: tuple[str, ...] = ()  # ids, after apply
    recreated: bool = False  # replaced or restarted in this run (for `restart: true`)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyResult:
    services: Mapping[str, ServiceResult] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def failed(self) -> list[ServiceResult]:
        return [r for r in self.services.values() if not r.ok]


class _Run:
    """One apply: shared state of the service tasks."""

    def __init__(self, *, engine: api.Engine, stack: m.Stack, plan: Plan,
                 desired: Mapping[str, DesiredService], reporter: Reporter,
                 options: ApplyOptions, cancel: threading.Event,
                 environ: Mapping[str, str] | None = None) -> None:
        self.engine = engine
        self.stack = stack
        self.plan = plan
        self.desired = desired
        self.report = reporter
        self.options = options
        self.cancel = cancel
        self.health = HealthTracker(engine)
        self.done: dict[str, threading.Event] = {s: threading.Event() for s in plan.services}
        self.results: dict[str, ServiceResult] = {}
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        self.failed_images: dict[str, str] = {}
        self.environ: Mapping[str, str] = environ or {}

    def event(self, kind: str, name: str, status: str, phase: Phase = Phase.DONE,
              detail: str = "") -> None:
        self.report(ProgressEvent(kind=kind, name=name, status=status, phase=phase,
                                  detail=detail))

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def identity(self, service: str) -> ServiceIdentity:
        want = self.desired[service]
        return ServiceIdentity(
            project=self.stack.name, config_hash=want.config_hash,
            field_hashes=want.field_hashes, working_dir=str(self.stack.project_directory),
            config_files=",".join(str(f) for f in self.stack.files))

    def finish(self, result: ServiceResult) -> None:
        with self._lock:
            self.results[result.service] = result
        self.done[result.service].set()


def apply_up(*, engine: api.Engine, stack: m.Stack, plan: Plan,
             desired: Mapping[str, DesiredService], reporter: Reporter = ignore,
             options: ApplyOptions | None = None,
             cancel: threading.Event | None = None,
             failed_images: Mapping[str, str] | None = None,
             environ: Mapping[str, str] | None = None) -> ApplyResult:
    """Carry out ``plan``; raises EngineCallError only when nothing can go on (a network
    cannot be made); per-service failures are in the result. ``environ``: the project's
    environment ``desired`` was hashed with (``environment:`` secrets and configs)."""
    run = _Run(engine=engine, stack=stack, plan=plan, desired=desired, reporter=reporter,
               options=options or ApplyOptions(), cancel=cancel or threading.Event(),
               environ=environ)
    run.failed_images.update(failed_images or {})
    _resources(run)
    _orphans(run)
    _images(run)
    _services(run)
    if run.options.wait:
        _wait_all(run)
    return ApplyResult(services=dict(run.results), warnings=tuple(run.warnings))


def _parallel(run: _Run, jobs: list[Callable[[], None]]) -> None:
    """Run ``jobs`` side by side; waits for all; interrupts set ``cancel`` and re-raise."""
    if not jobs:
        return
    pool = ThreadPoolExecutor(max_workers=max(1, min(run.options.max_workers, len(jobs))))
    futures: list[Future[None]] = []
    try:
        futures = [pool.submit(job) for job in jobs]
        wait_all(futures)
    except BaseException:
        run.cancel.set()
        for f in futures:
            f.cancel()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --- networks, volumes, orphans, images ---------------------------------------------------


def _resources(run: _Run) -> None:
    def make(kind: str, name: str, create: Callable[[], object]) -> None:
        run.event(kind, name, "Creating", Phase.WORKING)
        try:
            create()
        except AlreadyExists:
            pass  # made by a run that was interrupted, or by a racing one: same config
        except EngineError as exc:
            run.event(kind, name, "Error", Phase.ERROR, exc.message)
            raise EngineCallError(f'{kind.lower()} "{name}": {exc.message}') from exc
        run.event(kind, name, "Created")

    jobs: list[Callable[[], None]] = []
    for n in run.plan.networks:
        if n.action is Action.CREATE:
            net = run.stack.networks[n.key]
            jobs.append(partial(make, "Network", net.name, partial(
                run.engine.network_create, network_config(run.stack, net))))
    for v in run.plan.volumes:
        if v.action is Action.CREATE:
            vol = run.stack.volumes[v.key]
            jobs.append(partial(make, "Volume", vol.name, partial(
                run.engine.volume_create, volume_config(run.stack, vol))))
    _parallel(run, jobs)


def _orphans(run: _Run) -> None:
    def remove(change: ContainerChange) -> None:
        try:
            _remove_container(run, change)
        except EngineError as exc:  # an orphan that stays is no reason to stop the stack
            run.warnings.append(f'orphan container "{change.name}" not removed: {exc.message}')

    jobs: list[Callable[[], None]] = [
        partial(remove, c) for c in run.plan.orphans if c.action is Action.REMOVE]
    for c in run.plan.orphans:
        if c.action is Action.NOOP:
            run.warnings.append(f'found orphan container "{c.name}" for service "{c.service}": '
                                "remove it with --remove-orphans")
    _parallel(run, jobs)


def prepare_images(*, engine: api.Engine, stack: m.Stack, plan: Plan,
                   reporter: Reporter = ignore, cancel: threading.Event | None = None,
                   max_workers: int = 8) -> dict[str, str]:
    """Pull and build what ``plan`` says, before containers are planned against the
    images' new ids; returns {ref: error} for the images that could not be had."""
    run = _Run(engine=engine, stack=stack, plan=plan, desired={}, reporter=reporter,
               options=ApplyOptions(max_workers=max_workers),
               cancel=cancel or threading.Event())
    _images(run)
    return dict(run.failed_images)


def _images(run: _Run) -> None:
    def pull(ref: str) -> None:
        run.event("Image", ref, "Pulling", Phase.WORKING)
        try:
            run.engine.image_pull(ref)
        except EngineError as exc:
            run.failed_images[ref] = f'image "{ref}": {exc.message}'
            run.event("Image", ref, "Error", Phase.ERROR, exc.message)
            return
        run.event("Image", ref, "Pulled")

    def build(service: str, ref: str) -> None:
        spec = run.stack.services[service].build
        assert spec is not None
        run.event("Image", ref, "Building", Phase.WORKING)
        try:
            run.engine.image_build(
                spec.context, dockerfile=spec.dockerfile, dockerfile_text=spec.dockerfile_inline,
                build_args={k: v for k, v in spec.args.items() if v is not None},
                target=spec.target or "", labels=dict(spec.labels),
                tags=tuple(dict.fromkeys((ref, *spec.tags))), no_cache=spec.no_cache,
                pull=spec.pull, network=spec.network or "host")
        except EngineError as exc:
            run.failed_images[ref] = f'image "{ref}": build failed: {exc.message}'
            run.event("Image", ref, "Error", Phase.ERROR, exc.message)
            return
        run.event("Image", ref, "Built")

    jobs: list[Callable[[], None]] = []
    for image in run.plan.images():
        if image.action is Action.PULL:
            jobs.append(partial(pull, image.ref))
        elif image.action is Action.BUILD:
            jobs.append(partial(build, image.service, image.ref))
    _parallel(run, jobs)


# --- services -------------------------------------------------------------------------


def _services(run: _Run) -> None:
    from orchestrator import graph  # networkx: only when there is work to order

    order = [s for gen in graph.start_order(graph.build_graph(run.stack))
             for s in gen if s in run.plan.services]
    jobs: list[Callable[[], None]] = [partial(_service_task, run, s) for s in order]
    _parallel(run, jobs)


def _dependencies(run: _Run, service: str) -> list[tuple[str, m.DependsOn]]:
    """The service's dependencies that are part of this run, with their conditions; an
    edge that is not a depends_on (network_mode, volumes_from, links) means 'started'."""
    svc = run.stack.services[service]
    deps = dict(svc.depends_on)
    mode = svc.network_mode or ""
    implicit = [mode.removeprefix("service:")] if mode.startswith("service:") else []
    implicit += [e.split(":", 1)[0] for e in svc.volumes_from if not e.startswith("container:")]
    implicit += [link.split(":", 1)[0] for link in svc.links]
    for name in implicit:
        deps.setdefault(name, m.DependsOn())
    return [(k, d) for k, d in sorted(deps.items()) if k in run.plan.services]


def _service_task(run: _Run, service: str) -> None:
    splan = run.plan.services[service]
    try:
        restart_for = _await_dependencies(run, service)
        run.check_cancel()
        image_error = run.failed_images.get(splan.image.ref)
        if image_error is not None:
            raise _ServiceFailed(image_error)
        ids, recreated = _converge(run, splan)
        if restart_for and not recreated and run.options.start:
            ids = _restart_for_dependency(run, splan, ids, restart_for)
            recreated = True
        run.finish(ServiceResult(service=service, ok=True, containers=tuple(ids),
                                 recreated=recreated))
    except Cancelled:
        run.finish(ServiceResult(service=service, ok=False, error="interrupted"))
    except _ServiceFailed as exc:
        run.finish(ServiceResult(service=service, ok=False, error=str(exc)))
    except BaseException as exc:  # a bug must not leave dependants waiting forever
        run.finish(ServiceResult(service=service, ok=False, error=f"internal error: {exc!r}"))
        raise


class _ServiceFailed(Exception):
    pass


def _await_dependencies(run: _Run, service: str) -> list[str]:
    """Wait for each dependency and its condition; the names of those recreated in this
    run whose edge says ``restart: true``."""
    restart_for: list[str] = []
    for dep, cond in _dependencies(run, service):
        while not run.done[dep].wait(0.2):
            run.check_cancel()
        run.check_cancel()
        result = run.results[dep]
        try:
            if not result.ok:
                raise ConditionFailed(result.error)
            _check_condition(run, dep, cond.condition, result)
        except ConditionFailed as exc:
            if cond.required:
                for c in run.plan.services[service].containers:
                    if c.action is not Action.REMOVE:
                        run.event("Container", c.name, "Error", Phase.ERROR,
                                  f'dependency "{dep}" failed')
                raise _ServiceFailed(f'dependency "{dep}" failed: {exc}') from exc
            run.warnings.append(f'service "{service}": optional dependency "{dep}" is not '
                                f"ready ({exc}); starting anyway")
            continue
        if cond.restart and result.recreated:
            restart_for.append(dep)
    return restart_for


def _check_condition(run: _Run, dep: str, condition: m.Condition, result: ServiceResult) -> None:
    if condition is m.Condition.STARTED or not run.options.start:
        return
    for cid in result.containers:
        label = _label(run, cid)
        try:
            if condition is m.Condition.HEALTHY:
                run.event("Container", label, "Waiting", Phase.WORKING)
                conditions.wait_healthy(run.engine, run.health, cid, label=label,
                                        cancel=run.cancel)
                run.event("Container", label, "Healthy")
            elif condition is m.Condition.COMPLETED:
                run.event("Container", label, "Waiting", Phase.WORKING)
                conditions.wait_completed(run.engine, cid, label=label, cancel=run.cancel)
                run.event("Container", label, "Exited")
        except ConditionFailed as exc:
            run.event("Container", label, "Error", Phase.ERROR, str(exc))
            raise
        except EngineError as exc:
            raise ConditionFailed(f'container "{label}": {exc.message}') from exc


def _label(run: _Run, cid: str) -> str:
    try:
        return run.engine.container_inspect(cid).name
    except EngineError:
        return cid[:12]


def _converge(run: _Run, splan: ServicePlan) -> tuple[list[str], bool]:
    """Carry out a service's container changes; (ids of its containers, replaced any)."""
    ids: list[str] = []
    recreated = False
    # numbers held by a container of the service now; a start-first replacement takes the
    # lowest free one, so a service's numbers stay within 1..replicas+1 update after update
    # (the old replica keeps its name until it is gone: the engine cannot rename)
    used = {c.number for c in splan.containers}
    for change in splan.containers:
        run.check_cancel()
        try:
            if change.action is Action.CREATE:
                ids.append(_create(run, splan.service, change.number, change.name))
            elif change.action is Action.RECREATE:
                recreated = True
                if change.start_first:
                    number = min(n for n in range(1, len(used) + 2) if n not in used)
                    used.add(number)
                    ids.append(_replace_start_first(run, change, number))
                    used.discard(change.number)
                else:
                    ids.append(_recreate(run, change))
            elif change.action is Action.START:
                assert change.container_id is not None
                if run.options.start:
                    run.event("Container", change.name, "Starting", Phase.WORKING)
                    run.engine.container_start(change.container_id)
                    run.event("Container", change.name, "Started")
                ids.append(change.container_id)
            elif change.action is Action.REMOVE:
                _remove_container(run, change)
            else:
                assert change.container_id is not None
                run.event("Container", change.name, "Running")
                ids.append(change.container_id)
        except EngineError as exc:
            run.event("Container", change.name, "Error", Phase.ERROR, exc.message)
            raise _ServiceFailed(f'container "{change.name}": {exc.message}') from exc
    return ids, recreated


def _create(run: _Run, service: str, number: int, name: str) -> str:
    svc = run.stack.services[service]
    try:
        config = container_config(run.stack, svc, number=number,
                                  identity=run.identity(service), name=name,
                                  environ=run.environ)
    except StackError as exc:  # a secret's variable unset: this service fails, as in Compose
        raise _ServiceFailed(exc.summary) from exc  # (the service is named by the caller)
    run.event("Container", name, "Creating", Phase.WORKING)
    try:
        info = run.engine.container_create(config)
    except (AlreadyExists, Conflict) as exc:
        info = _adopt(run, name, exc)
    run.event("Container", name, "Created")
    if run.options.start:
        run.check_cancel()
        run.event("Container", name, "Starting", Phase.WORKING)
        run.engine.container_start(info.id)
        run.event("Container", name, "Started")
    return info.id


def _adopt(run: _Run, name: str, exc: EngineError) -> api.ContainerInfo:
    """A container of this name exists although observe did not see it for this
    service (another run raced us). Ours with the same config: use it; else fail."""
    try:
        info = run.engine.container_inspect(name)
    except NotFound:
        raise exc from None
    labels = info.labels
    if labels.get(api.LABEL_PROJECT) != run.stack.name:
        raise exc
    return info


def _recreate(run: _Run, change: ContainerChange) -> str:
    assert change.container_id is not None
    run.event("Container", change.name, "Recreate", Phase.WORKING, change.reason)
    with contextlib.suppress(NotFound):  # gone meanwhile: nothing to take away
        run.engine.container_stop(change.container_id, timeout=run.options.stop_timeout)
        run.engine.container_remove(change.container_id, force=True)
    cid = _create(run, change.service, change.number, change.name)
    run.event("Container", change.name, "Recreated")
    return cid


def _replace_start_first(run: _Run, change: ContainerChange, number: int) -> str:
    """Zero-downtime: start the new replica, wait until healthy, then stop the old."""
    assert change.container_id is not None
    svc = run.stack.services[change.service]
    name = container_name(run.stack.name, svc, number)
    cid = _create(run, change.service, number, name)
    if run.options.start:
        try:
            timeout = run.options.wait_timeout
            if timeout is None:  # the old one serves meanwhile: never wait without end
                check = run.health.healthcheck_of(run.engine.container_inspect(cid))
                timeout = conditions.settle_time(check) if check is not None else None
            conditions.wait_healthy(run.engine, run.health, cid, label=name, cancel=run.cancel,
                                    timeout=timeout)
        except ConditionFailed as exc:
            # keep the old one serving; take the new one away
            run.engine.container_remove(cid, force=True)
            raise _ServiceFailed(f'start-first update of "{change.name}" failed: {exc}') \
                from exc
    _remove_container(run, change)
    return cid


def _remove_container(run: _Run, change: ContainerChange) -> None:
    assert change.container_id is not None
    run.event("Container", change.name, "Stopping", Phase.WORKING)
    try:
        run.engine.container_stop(change.container_id, timeout=run.options.stop_timeout)
        run.event("Container", change.name, "Removing", Phase.WORKING)
        run.engine.container_remove(change.container_id, force=True)
    except NotFound:
        pass
    except EngineError as exc:
        run.event("Container", change.name, "Error", Phase.ERROR, exc.message)
        raise
    run.event("Container", change.name, "Removed")


def _restart_for_dependency(run: _Run, splan: ServicePlan, ids: list[str],
                            deps: list[str]) -> list[str]:
    for cid in ids:
        label = _label(run, cid)
        run.event("Container", label, "Restarting", Phase.WORKING,
                  f"dependency {', '.join(deps)} was recreated")
        try:
            run.engine.container_restart(cid, timeout=run.options.stop_timeout)
        except EngineError as exc:
            raise _ServiceFailed(f'container "{label}": {exc.message}') from exc
        run.event("Container", label, "Restarted")
    return ids


def _wait_all(run: _Run) -> None:
    """``--wait``: every container of every service that came up runs (healthy if checked)."""
    def wait_one(service: str, cid: str) -> None:
        label = _label(run, cid)
        try:
            run.event("Container", label, "Waiting", Phase.WORKING)
            checked = conditions.wait_running(run.engine, run.health, cid, label=label,
                                              cancel=run.cancel,
                                              timeout=run.options.wait_timeout)
            run.event("Container", label, "Healthy" if checked else "Running")
        except (ConditionFailed, EngineError) as exc:
            text = exc.message if isinstance(exc, EngineError) else str(exc)
            run.event("Container", label, "Error", Phase.ERROR, text)
            with run._lock:
                old = run.results[service]
                if old.ok:
                    run.results[service] = ServiceResult(
                        service=service, ok=False, error=text, containers=old.containers,
                        recreated=old.recreated)

    jobs: list[Callable[[], None]] = [
        partial(wait_one, r.service, cid)
        for r in list(run.results.values()) if r.ok for cid in r.containers]
    with contextlib.suppress(Cancelled):
        _parallel(run, jobs)
