"""The in-process engine: the four parts composed behind the ``Engine`` API.

Each part is a service class in its own package, built lazily so a command
that only lists images never imports pyroute2:

    images      runtime.images.service.ImageService          image_*
    volumes     runtime.volumes.service.VolumeService        volume_*
    networks    runtime.network.service.NetworkService       network_* (+ parts.NetworkDriver)
    containers  runtime.containers.service.ContainerService  container_*

Rules that span parts live here and only here: an image or a volume that a
container uses cannot be removed (unless forced), network connect goes
through the container part (it owns the sandbox).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from runtime import api
from runtime.config import EngineConfig
from runtime.errors import Conflict
from runtime.events import EventLog
from runtime.metadata import Metadata

if TYPE_CHECKING:
    from runtime.containers.service import ContainerService
    from runtime.images.service import ImageService
    from runtime.network.dnsproc import DnsRunner
    from runtime.network.service import NetworkService
    from runtime.volumes.service import VolumeService


class LocalEngine:
    def __init__(self, config: EngineConfig | None = None, *,
                 dns: DnsRunner | None = None) -> None:
        """``dns``: who runs the networks' resolver; by default a process of its own
        (runtime.network.dnsproc), while stackd passes the thread it owns."""
        self.config = config or EngineConfig.from_env()
        self._dns = dns

    # --- parts ---------------------------------------------------------------

    @cached_property
    def metadata(self) -> Metadata:
        return Metadata(self.config.metadata_db)

    @cached_property
    def event_log(self) -> EventLog:
        return EventLog(self.metadata)

    @cached_property
    def images(self) -> ImageService:
        from runtime.images.service import ImageService

        return ImageService(self.config, self.metadata, self.event_log)

    @cached_property
    def volumes(self) -> VolumeService:
        from runtime.volumes.service import VolumeService

        return VolumeService(self.config, self.metadata, self.event_log)

    @cached_property
    def networks(self) -> NetworkService:
        from runtime.network.service import NetworkService

        return NetworkService(self.config, self.metadata, self.event_log, dns=self._dns)

    @cached_property
    def containers(self) -> ContainerService:
        from runtime.containers.service import ContainerService

        return ContainerService(self.config, self.metadata, self.event_log,
                                images=self.images, volumes=self.volumes,
                                networks=self.networks)

    def close(self) -> None:
        if "metadata" in self.__dict__:
            self.metadata.close()

    # --- images --------------------------------------------------------------

    def image_list(self, *, labels: Mapping[str, str] | None = None) -> list[api.ImageInfo]:
        return self.images.image_list(labels=labels)

    def image_inspect(self, ref: str) -> api.ImageInfo:
        return self.images.image_inspect(ref)

    def image_pull(self, ref: str, *, progress: api.ProgressFn | None = None) -> api.ImageInfo:
        return self.images.image_pull(ref, progress=progress)

    def image_push(self, ref: str, *, progress: api.ProgressFn | None = None) -> None:
        self.images.image_push(ref, progress=progress)

    def image_tag(self, source: str, target: str) -> None:
        self.images.image_tag(source, target)

    def image_remove(self, ref: str, *, force: bool = False) -> list[str]:
        image = self.images.image_inspect(ref)
        users = [c.name for c in self.containers.container_list(all=True)
                 if c.image_id == image.id]
        if users and not force:
            raise Conflict(f'image "{ref}" is used by container(s) {", ".join(users)}: '
                           "remove them first or use --force")
        # Forced while in use: untagged only, so the containers keep their layers.
        return self.images.image_remove(ref, force=force,
                                        in_use={image.id} if users else frozenset())

    def image_build(self, context: str, *, dockerfile: str | None = None,
                    dockerfile_text: str | None = None,
                    build_args: Mapping[str, str] | None = None, target: str = "",
                    labels: Mapping[str, str] | None = None, tags: Sequence[str] = (),
                    no_cache: bool = False, pull: bool = False, network: str = "host",
                    progress: api.BuildProgressFn | None = None) -> api.ImageInfo:
        # The builder spans two parts (RUN steps are containers), so it is composed here.
        from pathlib import Path

        from runtime.images.build.builder import BuildRequest, build
        from runtime.images.build.cache import BuildCache
        from runtime.images.build.run import ContainerStepRunner

        request = BuildRequest(
            context=Path(context), dockerfile=Path(dockerfile) if dockerfile else None,
            dockerfile_text=dockerfile_text, build_args=dict(build_args or {}), target=target,
            labels=dict(labels or {}), tags=tuple(tags), no_cache=no_cache, pull=pull,
            network=network)
        runner = ContainerStepRunner(self.config, self.metadata, self.event_log,
                                     images=self.images, volumes=self.volumes,
                                     networks=self.networks)
        return build(request, images=self.images, cache=BuildCache(self.metadata),
                     runner=runner, progress=progress)

    def image_import(self, path: str, *, ref: str | None = None) -> list[api.ImageInfo]:
        return self.images.image_import(path, ref=ref)

    def image_load(self, path: str) -> list[api.ImageInfo]:
        return self.images.image_load(path)

    def image_save(self, refs: Sequence[str], dest: str, *,
                   format: api.ImageArchiveFormat = "docker") -> None:
        self.images.image_save(refs, dest, format=format)

    def image_history(self, ref: str) -> list[api.ImageHistoryEntry]:
        return self.images.image_history(ref)

    def image_prune(self, *, all: bool = False) -> list[str]:
        in_use = {c.image_id for c in self.containers.container_list(all=True)}
        return self.images.image_prune(all=all, in_use=in_use)

    def image_login(self, registry: str, *, username: str, password: str) -> str:
        return self.images.image_login(registry, username=username, password=password)

    def image_logout(self, registry: str) -> bool:
        return self.images.image_logout(registry)

    # --- containers ----------------------------------------------------------

    def container_create(self, config: api.ContainerConfig) -> api.ContainerInfo:
        return self.containers.container_create(config)

    def container_start(self, ref: str) -> None:
        self.containers.container_start(ref)

    def container_stop(self, ref: str, *, signal: str | None = None,
                       timeout: float | None = None) -> None:
        self.containers.container_stop(ref, signal=signal, timeout=timeout)

    def container_restart(self, ref: str, *, timeout: float | None = None) -> None:
        self.containers.container_restart(ref, timeout=timeout)

    def container_kill(self, ref: str, *, signal: str = "KILL") -> None:
        self.containers.container_kill(ref, signal=signal)

    def container_pause(self, ref: str) -> None:
        self.containers.container_pause(ref)

    def container_unpause(self, ref: str) -> None:
        self.containers.container_unpause(ref)

    def container_remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        self.containers.container_remove(ref, force=force, volumes=volumes)

    def container_inspect(self, ref: str) -> api.ContainerInfo:
        return self.containers.container_inspect(ref)

    def container_list(self, *, all: bool = False,
                       labels: Mapping[str, str] | None = None) -> list[api.ContainerInfo]:
        return self.containers.container_list(all=all, labels=labels)

    def container_logs(self, ref: str, *, follow: bool = False, since: float | None = None,
                       tail: int | None = None) -> Iterator[api.LogEntry]:
        return self.containers.container_logs(ref, follow=follow, since=since, tail=tail)

    def container_exec(self, ref: str, cmd: Sequence[str], *,
                       env: Mapping[str, str] | None = None, user: str | None = None,
                       workdir: str | None = None, stdin: bytes | None = None) -> api.ExecResult:
        return self.containers.container_exec(ref, cmd, env=env, user=user, workdir=workdir,
                                              stdin=stdin)

    def container_probe(self, ref: str, cmd: Sequence[str], *, timeout: float) -> api.ExecResult:
        """``container_exec`` with a deadline (stackd's healthchecks; not in the Engine API):
        past ``timeout`` seconds the command and what it started in the container are
        killed, and ``runtime.containers.exec.ExecTimeout`` is raised."""
        from runtime.containers.exec import run_exec

        return run_exec(self.containers.exec_command(ref, cmd, tty=False), stdin=None,
                        timeout=timeout)

    def container_wait(self, ref: str, *, timeout: float | None = None) -> int:
        return self.containers.container_wait(ref, timeout=timeout)

    def container_stats(self, ref: str) -> api.ContainerStats:
        return self.containers.container_stats(ref)

    def container_top(self, ref: str) -> list[api.ProcessInfo]:
        return self.containers.container_top(ref)

    # --- networks ------------------------------------------------------------

    def network_create(self, config: api.NetworkConfig) -> api.NetworkInfo:
        return self.networks.create(config)

    def network_remove(self, ref: str) -> None:
        network = self.networks.get(ref)
        if network.containers:
            raise Conflict(f'network "{network.name}" has containers attached: '
                           f'{", ".join(network.containers)}')
        self.networks.remove(ref)

    def network_inspect(self, ref: str) -> api.NetworkInfo:
        return self.networks.get(ref)

    def network_list(self, *, labels: Mapping[str, str] | None = None) -> list[api.NetworkInfo]:
        return self.networks.list(labels=labels)

    def network_connect(self, ref: str, container: str, endpoint: api.EndpointConfig) -> None:
        self.containers.network_connect(container, endpoint)

    def network_disconnect(self, ref: str, container: str) -> None:
        self.containers.network_disconnect(container, ref)

    # --- volumes -------------------------------------------------------------

    def volume_create(self, config: api.VolumeConfig) -> api.VolumeInfo:
        return self.volumes.create(config)

    def volume_remove(self, name: str, *, force: bool = False) -> None:
        users = [c.name for c in self.containers.container_list(all=True)
                 if any(m.type == "volume" and m.source == name for m in c.config.mounts)]
        if users:
            raise Conflict(f'volume "{name}" is in use by container(s) {", ".join(users)}')
        self.volumes.remove(name)

    def volume_inspect(self, name: str) -> api.VolumeInfo:
        return self.volumes.get(name)

    def volume_list(self, *, labels: Mapping[str, str] | None = None) -> list[api.VolumeInfo]:
        return self.volumes.list(labels=labels)

    # --- events --------------------------------------------------------------

    def events(self, *, since: float | None = None, until: float | None = None,
               filters: Mapping[str, str] | None = None) -> Iterator[api.Event]:
        return self.event_log.stream(since=since, until=until, filters=filters,
                                     follow=until is None)
