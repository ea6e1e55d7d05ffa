"""An in-memory engine that records calls, for executor tests (no root, no runc).

Containers go created -> running -> exited; health is scripted per service:
``health={"db": "healthy"}`` makes db's containers healthy once they run,
"unhealthy" makes them unhealthy, "slow:<seconds>" healthy after that long.
``exit_codes={"job": 0}`` makes a service's containers exit at once with that code.
``fail_start={"x"}`` makes starting x's containers fail.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from runtime import api
from runtime.errors import AlreadyExists, Failed, NotFound


class FakeEngine:
    def __init__(self, *, health: Mapping[str, str] | None = None,
                 exit_codes: Mapping[str, int] | None = None,
                 fail_start: set[str] | None = None,
                 images: Sequence[str] = ("busybox:latest",)) -> None:
        self.health = dict(health or {})
        self.exit_codes = dict(exit_codes or {})
        self.fail_start = set(fail_start or ())
        self.calls: list[tuple[str, str, float]] = []  # (method, name, time)
        self.containers: dict[str, api.ContainerInfo] = {}
        self.networks: dict[str, api.NetworkInfo] = {}
        self.volumes: dict[str, api.VolumeInfo] = {}
        self.images = {ref: "sha256:" + hashlib.sha256(ref.encode()).hexdigest()
                       for ref in images}
        self.lock = threading.Lock()
        self.builds: list[dict[str, Any]] = []
        self.exec_codes: dict[str, int] = {}  # service -> exit code of every exec

    # --- helpers -------------------------------------------------------------------

    def record(self, method: str, name: str) -> None:
        with self.lock:
            self.calls.append((method, name, time.monotonic()))

    def names(self, method: str) -> list[str]:
        return [n for m, n, _ in self.calls if m == method]

    def first(self, method: str, name: str) -> float:
        return next(t for m, n, t in self.calls if m == method and n == name)

    def _find(self, ref: str) -> api.ContainerInfo:
        for c in self.containers.values():
            if ref in (c.id, c.name):
                return c
        raise NotFound(f'container "{ref}" not found')

    def _set(self, info: api.ContainerInfo, **changes: Any) -> None:
        with self.lock:
            self.containers[info.id] = dataclasses.replace(info, **changes)

    # --- images ----------------------------------------------------------------------

    def image_inspect(self, ref: str) -> api.ImageInfo:
        if ref not in self.images and ref not in self.images.values():
            raise NotFound(f'image "{ref}" not found')
        image_id = self.images.get(ref, ref)
        return api.ImageInfo(id=image_id, repo_tags=(ref,), repo_digests=(), created=0.0,
                             size=0, architecture="amd64", os="linux",
                             config=api.ImageConfig(), layers=())

    def image_pull(self, ref: str, *, progress: Any = None) -> api.ImageInfo:
        self.record("image_pull", ref)
        self.images[ref] = "sha256:" + hashlib.sha256(ref.encode()).hexdigest()
        return self.image_inspect(ref)

    def image_build(self, context: str, *, tags: Sequence[str] = (), **options: Any
                    ) -> api.ImageInfo:
        self.record("image_build", context)
        self.builds.append({"context": context, "tags": tuple(tags), **options})
        for tag in tags:
            self.images[tag] = "sha256:" + hashlib.sha256(f"{tag}{len(self.builds)}".encode()
                                                          ).hexdigest()
        return self.image_inspect(tags[0])

    # --- containers -------------------------------------------------------------------

    def container_create(self, config: api.ContainerConfig) -> api.ContainerInfo:
        self.record("container_create", config.name)
        with self.lock:
            if any(c.name == config.name for c in self.containers.values()):
                raise AlreadyExists(f'container name "{config.name}" is in use')
            cid = hashlib.sha256(f"{config.name}{time.time_ns()}".encode()).hexdigest()
            info = api.ContainerInfo(
                id=cid, name=config.name, image=config.image,
                image_id=self.images.get(config.image, ""), config=config,
                state=api.ContainerState.CREATED, pid=None, exit_code=None,
                created_at=time.time(), started_at=None, finished_at=None)
            self.containers[cid] = info
        return info

    def container_start(self, ref: str) -> None:
        info = self._find(ref)
        self.record("container_start", info.name)
        service = info.labels.get(api.LABEL_SERVICE, "")
        if service in self.fail_start:
            raise Failed(f'container "{info.name}": runc says no')
        now = time.time()
        if service in self.exit_codes:
            self._set(info, state=api.ContainerState.EXITED, started_at=now, finished_at=now,
                      exit_code=self.exit_codes[service])
        else:
            self._set(info, state=api.ContainerState.RUNNING, started_at=now, pid=1)

    def container_stop(self, ref: str, *, signal: str | None = None,
                       timeout: float | None = None) -> None:
        info = self._find(ref)
        self.record("container_stop", info.name)
        if info.state is api.ContainerState.RUNNING:
            self._set(info, state=api.ContainerState.EXITED, exit_code=0,
                      finished_at=time.time())

    def container_restart(self, ref: str, *, timeout: float | None = None) -> None:
        info = self._find(ref)
        self.record("container_restart", info.name)
        self._set(info, state=api.ContainerState.RUNNING, started_at=time.time())

    def container_remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        info = self._find(ref)
        self.record("container_remove", info.name)
        with self.lock:
            del self.containers[info.id]

    def container_inspect(self, ref: str) -> api.ContainerInfo:
        info = self._find(ref)
        script = self.health.get(info.labels.get(api.LABEL_SERVICE, ""))
        if script is None or info.state is not api.ContainerState.RUNNING:
            return info
        if script.startswith("slow:"):
            ready = (info.started_at or 0) + float(script.split(":")[1]) <= time.time()
            status = api.HealthStatus.HEALTHY if ready else api.HealthStatus.STARTING
        else:
            status = api.HealthStatus(script)
        return dataclasses.replace(info, health=status)

    def container_list(self, *, all: bool = False,
                       labels: Mapping[str, str] | None = None) -> list[api.ContainerInfo]:
        return [c for c in list(self.containers.values())
                if api.labels_match(c.labels, labels)
                and (all or c.state is api.ContainerState.RUNNING)]

    def container_exec(self, ref: str, cmd: Sequence[str], **_: Any) -> api.ExecResult:
        info = self._find(ref)
        self.record("container_exec", info.name)
        code = self.exec_codes.get(info.labels.get(api.LABEL_SERVICE, ""), 0)
        return api.ExecResult(exit_code=code, stdout=b"", stderr=b"probe says %d" % code)

    def container_logs(self, ref: str, **_: Any) -> Iterator[api.LogEntry]:
        return iter(())

    # --- networks and volumes --------------------------------------------------------------

    def network_create(self, config: api.NetworkConfig) -> api.NetworkInfo:
        self.record("network_create", config.name)
        info = api.NetworkInfo(id=config.name, name=config.name, driver="bridge", bridge="br0",
                               internal=config.internal, enable_ipv6=False, ipam=(),
                               mtu=None, labels=dict(config.labels), created_at=0.0)
        self.networks[config.name] = info
        return info

    def network_inspect(self, ref: str) -> api.NetworkInfo:
        if ref not in self.networks:
            raise NotFound(f'network "{ref}" not found')
        return self.networks[ref]

    def network_list(self, *, labels: Mapping[str, str] | None = None) -> list[api.NetworkInfo]:
        return [n for n in self.networks.values() if api.labels_match(n.labels, labels)]

    def network_remove(self, ref: str) -> None:
        self.record("network_remove", ref)
        self.networks.pop(ref)

    def volume_create(self, config: api.VolumeConfig) -> api.VolumeInfo:
        self.record("volume_create", config.name)
        info = api.VolumeInfo(name=config.name, driver="local", mountpoint="/x",
                              labels=dict(config.labels), created_at=0.0)
        self.volumes[config.name] = info
        return info

    def volume_inspect(self, name: str) -> api.VolumeInfo:
        if name not in self.volumes:
            raise NotFound(f'volume "{name}" not found')
        return self.volumes[name]

    def volume_list(self, *, labels: Mapping[str, str] | None = None) -> list[api.VolumeInfo]:
        return [v for v in self.volumes.values() if api.labels_match(v.labels, labels)]

    def volume_remove(self, name: str, *, force: bool = False) -> None:
        self.record("volume_remove", name)
        self.volumes.pop(name)
