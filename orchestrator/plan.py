"""The plan: desired stack vs observed engine state -> what to do, object by object, and why.

Pure: no I/O. The plan is a value (Terraform's idea): ``stack plan`` prints it
(text or JSON), ``stack up`` hands it to ``apply``. Running ``up`` on an
unchanged stack gives a plan of no-ops, so ``up`` is safe to run again and
again. Symbols as Terraform prints them:

    +    create            -/+  recreate (replace)
    ~    start / stop      -    remove
         no-op (shown with --all / in JSON)

Container decisions, per service with N wanted replicas (existing containers
kept by number, lowest first; the surplus removed; missing numbers filled
from the lowest free one):

    --force-recreate                          recreate
    --no-recreate                             start when stopped, else no-op
    config hash differs                       recreate, naming the fields that changed
    image id differs from the image now held  recreate ("image changed")
    not running                               start
    otherwise                                 no-op
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator import model as m
from orchestrator.convert import DesiredService, changed_fields, container_name, image_ref
from orchestrator.errors import ConfigError, StackError
from orchestrator.observe import Observed, ObservedContainer


class Action(enum.StrEnum):
    CREATE = "create"
    RECREATE = "recreate"
    START = "start"
    STOP = "stop"
    REMOVE = "remove"
    PULL = "pull"
    BUILD = "build"
    NOOP = "noop"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]


_SYMBOLS = {Action.CREATE: "+", Action.RECREATE: "-/+", Action.START: "~", Action.STOP: "~",
            Action.REMOVE: "-", Action.PULL: "+", Action.BUILD: "+", Action.NOOP: " "}


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerChange:
    action: Action
    service: str
    name: str  # the container's name (for CREATE: the one it will get)
    number: int
    reason: str
    container_id: str | None = None  # the existing container (RECREATE, START, STOP, REMOVE)
    fields: tuple[str, ...] = ()  # config fields that changed (RECREATE)
    start_first: bool = False  # RECREATE: start the new one, wait healthy, then stop the old


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceChange:
    kind: str  # "network" | "volume"
    key: str  # the stack's key ("" for an orphan)
    name: str  # the engine name
    action: Action
    reason: str
    external: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageChange:
    service: str
    ref: str
    action: Action  # PULL, BUILD or NOOP
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServicePlan:
    service: str
    replicas: int
    image: ImageChange
    containers: tuple[ContainerChange, ...] = ()

    @property
    def changed(self) -> bool:
        return any(c.action is not Action.NOOP for c in self.containers)

    @property
    def recreated(self) -> bool:
        return any(c.action is Action.RECREATE for c in self.containers)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    project: str
    networks: tuple[ResourceChange, ...] = ()
    volumes: tuple[ResourceChange, ...] = ()
    services: Mapping[str, ServicePlan] = field(default_factory=dict)
    orphans: tuple[ContainerChange, ...] = ()

    def changes(self) -> list[ResourceChange | ImageChange | ContainerChange]:
        """Everything that is not a no-op, in the order ``apply`` does it."""
        out: list[ResourceChange | ImageChange | ContainerChange] = []
        out += [n for n in self.networks if n.action is not Action.NOOP]
        out += [v for v in self.volumes if v.action is not Action.NOOP]
        out += [i for i in self.images() if i.action is not Action.NOOP]
        for s in self.services.values():
            out += [c for c in s.containers if c.action is not Action.NOOP]
        out += [c for c in self.orphans if c.action is not Action.NOOP]
        return out

    def images(self) -> list[ImageChange]:
        """One image change per reference (services may share one); the first service's."""
        seen: dict[str, ImageChange] = {}
        for s in self.services.values():
            if s.image.ref not in seen or (seen[s.image.ref].action is Action.NOOP
                                           and s.image.action is not Action.NOOP):
                seen[s.image.ref] = s.image
        return list(seen.values())

    @property
    def empty(self) -> bool:
        return not self.changes()

    def counts(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action if a is not Action.NOOP}
        for change in self.changes():
            counts[change.action.value] += 1
        return {k: v for k, v in counts.items() if v}

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "changes": sum(self.counts().values()),
            "counts": self.counts(),
            "networks": [_resource_dict(n) for n in self.networks],
            "volumes": [_resource_dict(v) for v in self.volumes],
            "services": {
                name: {
                    "replicas": s.replicas,
                    "image": {"ref": s.image.ref, "action": s.image.action.value,
                              "reason": s.image.reason},
                    "containers": [_container_dict(c) for c in s.containers],
                } for name, s in self.services.items()
            },
            "orphans": [_container_dict(c) for c in self.orphans],
        }

    def render(self, *, show_noop: bool = False) -> list[str]:
        """Terraform-like lines (no colour; the CLI adds it)."""
        lines: list[str] = []

        def add(action: Action, kind: str, name: str, reason: str) -> None:
            if action is Action.NOOP and not show_noop:
                return
            verb = "" if action in (Action.CREATE, Action.RECREATE, Action.REMOVE,
                                    Action.NOOP) else f"{action.value} "
            lines.append(f"{action.symbol:>3} {kind} {name}: {verb}{reason}")

        for n in self.networks:
            add(n.action, "network", n.name, n.reason)
        for v in self.volumes:
            add(v.action, "volume", v.name, v.reason)
        for i in self.images():
            add(i.action, "image", i.ref, i.reason)
        for s in self.services.values():
            for c in s.containers:
                add(c.action, "container", c.name, c.reason)
        for c in self.orphans:
            add(c.action, "container", c.name, c.reason)
        counts = self.counts()
        if not counts:
            lines.append(f'Project "{self.project}" is up to date: nothing to do.')
        else:
            summary = ", ".join(f"{n} to {a}" for a, n in counts.items())
            lines.append(f'Plan for project "{self.project}": {summary}.')
        return lines


def _resource_dict(r: ResourceChange) -> dict[str, Any]:
    return {"key": r.key, "name": r.name, "action": r.action.value, "reason": r.reason,
            "external": r.external}


def _container_dict(c: ContainerChange) -> dict[str, Any]:
    d: dict[str, Any] = {"name": c.name, "service": c.service, "number": c.number,
                         "action": c.action.value, "symbol": c.action.symbol.strip(),
                         "reason": c.reason, "id": c.container_id}
    if c.fields:
        d["fields"] = list(c.fields)
    if c.start_first:
        d["start_first"] = True
    return d


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanOptions:
    services: frozenset[str] | None = None  # None: all; else already closed over dependencies
    force_recreate: bool = False
    no_recreate: bool = False
    remove_orphans: bool = False
    always_pull: bool = False  # --pull always: pull even when present
    never_pull: bool = False  # --pull never
    build: bool = False  # --build: build every service that has a build section
    no_build: bool = False
    images_ready: bool = False  # images were pulled/built already: plan no image work


# --- up -------------------------------------------------------------------------


def plan_up(stack: m.Stack, desired: Mapping[str, DesiredService], observed: Observed, *,
            options: PlanOptions | None = None) -> Plan:
    """The plan that makes ``observed`` match ``stack`` for the selected services."""
    opts = options or PlanOptions()
    if opts.force_recreate and opts.no_recreate:
        raise ConfigError("--force-recreate and --no-recreate cannot be used together")
    selected = [n for n in stack.services if opts.services is None or n in opts.services]
    services = {name: _plan_service(stack, stack.services[name], desired[name], observed, opts)
                for name in selected}
    used_networks = {k for n in selected for k in stack.services[n].networks
                     if not stack.services[n].network_mode}
    used_volumes = {v.source for n in selected for v in stack.services[n].volumes
                    if v.type is m.MountType.VOLUME and v.source}
    networks = tuple(_plan_resource("network", stack.networks[k].name, k,
                                    stack.networks[k].external, observed.networks)
                     for k in sorted(used_networks) if k in stack.networks)
    volumes = tuple(_plan_resource("volume", stack.volumes[k].name, k,
                                   stack.volumes[k].external, observed.volumes)
                    for k in sorted(used_volumes) if k in stack.volumes)
    orphans = tuple(
        ContainerChange(
            action=Action.REMOVE if opts.remove_orphans else Action.NOOP,
            service=c.service, name=c.name, number=c.number, container_id=c.id,
            reason=(f'orphan: service "{c.service}" is not in the stack'
                    + ("" if opts.remove_orphans else " (use --remove-orphans to remove it)")))
        for c in observed.containers if not c.oneoff and c.service not in stack.services)
    return Plan(project=stack.name, networks=networks, volumes=volumes, services=services,
                orphans=orphans)


def _plan_resource(kind: str, name: str, key: str, external: bool,
                   existing: Mapping[str, object]) -> ResourceChange:
    if name in existing:
        return ResourceChange(kind=kind, key=key, name=name, action=Action.NOOP,
                              reason="external, exists" if external else "exists",
                              external=external)
    if external:
        raise StackError(f'{kind} "{name}" is declared as external, but could not be found',
                         path=(f"{kind}s", key),
                         hint=f"create it first with `stack {kind} create {name}`")
    return ResourceChange(kind=kind, key=key, name=name, action=Action.CREATE, reason="missing")


def _image_change(stack: m.Stack, svc: m.Service, observed: Observed,
                  opts: PlanOptions) -> ImageChange:
    ref = image_ref(stack.name, svc)
    present = observed.images.get(ref) is not None
    if opts.images_ready:
        return ImageChange(service=svc.name, ref=ref, action=Action.NOOP,
                           reason="present" if present else "missing")
    policy = svc.pull_policy
    if svc.build is not None and not opts.no_build and (
            opts.build or policy is m.PullPolicy.BUILD or (not present and svc.image is None)):
        return ImageChange(service=svc.name, ref=ref, action=Action.BUILD,
                           reason="--build" if opts.build else "not built yet")
    if opts.never_pull or policy is m.PullPolicy.NEVER:
        return ImageChange(service=svc.name, ref=ref, action=Action.NOOP,
                           reason="present" if present else "missing, and pulling is off")
    if opts.always_pull or policy is m.PullPolicy.ALWAYS:
        return ImageChange(service=svc.name, ref=ref, action=Action.PULL,
                           reason="pull policy: always")
    if not present:
        if svc.build is not None and not opts.no_build:
            return ImageChange(service=svc.name, ref=ref, action=Action.BUILD,
                               reason="not built yet")
        return ImageChange(service=svc.name, ref=ref, action=Action.PULL, reason="missing")
    return ImageChange(service=svc.name, ref=ref, action=Action.NOOP, reason="present")


def start_first_allowed(svc: m.Service) -> bool:
    """Zero-downtime replace only where the file asks for it and it cannot clash: a
    healthcheck to wait on, no fixed container name, no fixed host port."""
    update = svc.deploy.update_config if svc.deploy else None
    if update is None or update.order != "start-first":
        return False
    hc = svc.healthcheck
    if hc is None or hc.disable or not hc.test or hc.test == ("NONE",):
        return False
    if svc.container_name:
        return False
    return all(p.published_range() is None for p in svc.ports)


def _plan_service(stack: m.Stack, svc: m.Service, want: DesiredService, observed: Observed,
                  opts: PlanOptions) -> ServicePlan:
    image = _image_change(stack, svc, observed, opts)
    ref = image_ref(stack.name, svc)
    image_id = observed.images.get(ref)
    replicas = want.replicas
    if svc.container_name and replicas > 1:
        raise ConfigError(f'service "{svc.name}" has a container_name and cannot be scaled to '
                          f"{replicas} replicas", path=("services", svc.name, "container_name"),
                          hint="remove container_name to run more than one replica")
    existing = observed.service_containers(svc.name)
    # one container per number; a duplicate number (only possible by hand) is surplus
    by_number: dict[int, ObservedContainer] = {}
    surplus: list[ObservedContainer] = []
    for c in existing:
        if c.number in by_number:
            surplus.append(c)
        else:
            by_number[c.number] = c
    kept = sorted(by_number.values(), key=lambda c: c.number)
    surplus += kept[replicas:]
    kept = kept[:replicas]
    changes: list[ContainerChange] = []
    start_first = start_first_allowed(svc)
    for c in kept:
        changes.append(_container_decision(svc, c, want, image_id, opts, start_first))
    used = {c.number for c in kept}
    free = (n for n in range(1, replicas + len(existing) + 2) if n not in used)
    for _ in range(replicas - len(kept)):
        number = next(free)
        reason = "missing" if not existing else f"scale to {replicas}"
        changes.append(ContainerChange(action=Action.CREATE, service=svc.name,
                                       name=container_name(stack.name, svc, number),
                                       number=number, reason=reason))
    for c in sorted(surplus, key=lambda c: -c.number):
        changes.append(ContainerChange(action=Action.REMOVE, service=svc.name, name=c.name,
                                       number=c.number, container_id=c.id,
                                       reason=f"scale to {replicas}"))
    return ServicePlan(service=svc.name, replicas=replicas, image=image,
                       containers=tuple(changes))


def _container_decision(svc: m.Service, c: ObservedContainer, want: DesiredService,
                        image_id: str | None, opts: PlanOptions,
                        start_first: bool) -> ContainerChange:
    def change(action: Action, reason: str, fields: tuple[str, ...] = ()) -> ContainerChange:
        return ContainerChange(action=action, service=svc.name, name=c.name, number=c.number,
                               container_id=c.id, reason=reason, fields=fields,
                               start_first=start_first and action is Action.RECREATE)

    if opts.force_recreate:
        return change(Action.RECREATE, "forced (--force-recreate)")
    if not opts.no_recreate:
        if c.config_hash != want.config_hash:
            fields = changed_fields(c.field_hashes, want.field_hashes) if c.field_hashes else ()
            reason = (f"config changed: {', '.join(fields)}" if fields
                      else "config hash changed")
            return change(Action.RECREATE, reason, fields)
        if image_id is not None and c.image_id and c.image_id != image_id:
            return change(Action.RECREATE, "image changed", ("image",))
    if not c.running:
        return change(Action.START, f"{c.state.value}")
    return change(Action.NOOP, "up to date")


# --- down -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DownPlan:
    """What ``down`` removes; containers in stop order (dependants first)."""

    project: str
    stop_generations: tuple[tuple[ContainerChange, ...], ...] = ()
    networks: tuple[ResourceChange, ...] = ()
    volumes: tuple[ResourceChange, ...] = ()
    anonymous_volumes: bool = False  # -v: each container's anonymous volumes go with it

    @property
    def empty(self) -> bool:
        return not (any(self.stop_generations) or self.networks or self.volumes)


def label_start_order(containers: Iterable[ObservedContainer]) -> list[list[str]]:
    """Start generations of the services of ``containers``, from their depends-on labels
    (what the stack said when they were made), so ``down`` and ``stop`` need neither the
    file nor the graph library. Dependencies on services that have no container here
    are ignored; a cycle (impossible from our labels) ends up in one last generation."""
    deps: dict[str, set[str]] = {}
    for c in containers:
        deps.setdefault(c.service, set()).update(c.depends_on)
    for name in deps:
        deps[name] &= set(deps) - {name}
    order: list[list[str]] = []
    done: set[str] = set()
    while len(done) < len(deps):
        ready = sorted(n for n in deps if n not in done and deps[n] <= done)
        if not ready:
            ready = sorted(set(deps) - done)
        order.append(ready)
        done.update(ready)
    return order


def plan_down(observed: Observed, *, stop_order: Iterable[Iterable[str]] | None = None,
              services: frozenset[str] | None, remove_volumes: bool,
              remove_orphans: bool, external_names: frozenset[str] = frozenset()) -> DownPlan:
    """Remove the project's containers (of ``services``; None: all the project has), its
    networks, and with ``remove_volumes`` its own named volumes and the containers'
    anonymous ones (as ``docker compose down -v``). Orphans go first, and
    only with ``remove_orphans`` when the stack is known (``services`` is not None).
    External objects (by name) are never touched, whatever their labels say."""
    containers = [c for c in observed.containers
                  if services is None or c.service in services or c.oneoff
                  or remove_orphans]
    placed: set[str] = set()
    generations: list[tuple[ContainerChange, ...]] = []
    if stop_order is None:
        stop_order = list(reversed(label_start_order(containers)))
    order = [list(gen) for gen in stop_order]
    known = {s for gen in order for s in gen}
    first = [c for c in containers if c.service not in known]
    rest = [[c for c in containers if c.service in gen] for gen in order]
    for group in [first, *rest]:
        gen = tuple(_removal(c) for c in sorted(group, key=lambda c: (c.service, c.number))
                    if c.id not in placed)
        placed.update(c.id for c in group)
        if gen:
            generations.append(gen)
    networks = tuple(
        ResourceChange(kind="network", key=n.labels.get("io.stack.network", ""), name=name,
                       action=Action.REMOVE, reason="project network")
        for name, n in sorted(observed.networks.items())
        if name not in external_names and n.labels.get("io.stack.project") == observed.project)
    volumes = tuple(
        ResourceChange(kind="volume", key=v.labels.get("io.stack.volume", ""), name=name,
                       action=Action.REMOVE, reason="project volume (-v)")
        for name, v in sorted(observed.volumes.items())
        if remove_volumes and name not in external_names
        and v.labels.get("io.stack.project") == observed.project)
    return DownPlan(project=observed.project, stop_generations=tuple(generations),
                    networks=networks, volumes=volumes, anonymous_volumes=remove_volumes)


def _removal(c: ObservedContainer) -> ContainerChange:
    return ContainerChange(action=Action.REMOVE, service=c.service, name=c.name,
                           number=c.number, container_id=c.id, reason="down")
