"""Ask the engine what a project has: containers, networks, volumes (by label), images.

The only I/O of the plan step. Everything is found by ``io.stack.project``, never
by name, so objects left by an interrupted run are seen and adopted (names are
deterministic, labels say which service and replica a container is).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from orchestrator.convert import LABEL_FIELD_HASHES, decode_field_hashes
from orchestrator.errors import EngineCallError
from runtime import api
from runtime.errors import EngineError, NotFound

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class ObservedContainer:
    id: str
    name: str
    service: str
    number: int
    oneoff: bool
    config_hash: str
    field_hashes: Mapping[str, str]
    image: str  # the reference asked for
    image_id: str
    state: api.ContainerState
    health: api.HealthStatus
    exit_code: int | None
    created_at: float
    started_at: float | None
    ports: tuple[api.PortBinding, ...] = ()
    depends_on: tuple[str, ...] = ()  # services, from the depends-on label

    @property
    def running(self) -> bool:
        return self.state in (api.ContainerState.RUNNING, api.ContainerState.RESTARTING,
                              api.ContainerState.PAUSED)


@dataclass(frozen=True, slots=True, kw_only=True)
class Observed:
    """A project as the engine has it. ``images`` maps a reference to its id (None: absent)."""

    project: str
    containers: tuple[ObservedContainer, ...] = ()
    networks: Mapping[str, api.NetworkInfo] = field(default_factory=dict)  # by engine name
    volumes: Mapping[str, api.VolumeInfo] = field(default_factory=dict)  # by engine name
    images: Mapping[str, str | None] = field(default_factory=dict)

    def service_containers(self, service: str, *, oneoff: bool = False
                           ) -> list[ObservedContainer]:
        return sorted((c for c in self.containers if c.service == service and c.oneoff == oneoff),
                      key=lambda c: (c.number, c.created_at))


def observed_container(info: api.ContainerInfo) -> ObservedContainer:
    labels = info.labels
    try:
        number = int(labels.get(api.LABEL_NUMBER, "0"))
    except ValueError:
        number = 0
    return ObservedContainer(
        id=info.id,
        name=info.name,
        service=labels.get(api.LABEL_SERVICE, ""),
        number=number,
        oneoff=labels.get(api.LABEL_ONEOFF, "False") == "True",
        config_hash=labels.get(api.LABEL_CONFIG_HASH, ""),
        field_hashes=decode_field_hashes(labels.get(LABEL_FIELD_HASHES)),
        image=info.image,
        image_id=info.image_id,
        state=info.state,
        health=info.health,
        exit_code=info.exit_code,
        created_at=info.created_at,
        started_at=info.started_at,
        ports=info.ports,
        depends_on=tuple(part.split(":", 1)[0] for part in
                         labels.get(api.LABEL_DEPENDS_ON, "").split(",") if part),
    )


def observe(engine: api.Engine, *, project: str, images: Iterable[str] = (),
            network_names: Iterable[str] = (), volume_names: Iterable[str] = ()) -> Observed:
    """The project's objects, plus the named images, networks and volumes (external ones
    and those named explicitly may lack our labels, so they are looked up by name)."""
    wanted = {api.LABEL_PROJECT: project}
    try:
        containers = tuple(observed_container(c)
                           for c in engine.container_list(all=True, labels=wanted))
        networks = {n.name: n for n in engine.network_list(labels=wanted)}
        volumes = {v.name: v for v in engine.volume_list(labels=wanted)}
        for name in network_names:
            if name not in networks:
                found = _maybe(partial(engine.network_inspect, name))
                if found is not None:
                    networks[name] = found
        for name in volume_names:
            if name not in volumes:
                vol = _maybe(partial(engine.volume_inspect, name))
                if vol is not None:
                    volumes[name] = vol
        image_ids: dict[str, str | None] = {}
        for ref in dict.fromkeys(images):
            img = _maybe(partial(engine.image_inspect, ref))
            image_ids[ref] = img.id if img is not None else None
    except EngineError as exc:
        raise EngineCallError(f'project "{project}": cannot list its objects: {exc.message}') \
            from exc
    return Observed(project=project, containers=containers, networks=networks,
                    volumes=volumes, images=image_ids)


def _maybe(call: Callable[[], T]) -> T | None:
    """The call's result, or None when the object does not exist."""
    try:
        return call()
    except NotFound:
        return None


def list_projects(engine: api.Engine) -> dict[str, list[ObservedContainer]]:
    """Every project on the host that has containers, with them (for ``stack ls``)."""
    try:
        infos = engine.container_list(all=True, labels={api.LABEL_PROJECT: ""})
    except EngineError as exc:
        raise EngineCallError(f"cannot list containers: {exc.message}") from exc
    out: dict[str, list[ObservedContainer]] = {}
    for info in infos:
        out.setdefault(info.labels.get(api.LABEL_PROJECT, ""), []).append(observed_container(info))
    return out
