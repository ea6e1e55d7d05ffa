"""A recording fake of the Engine, enough to exercise the wire format without root."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from runtime import api
from runtime.errors import Conflict, NotFound

IMAGE = api.ImageInfo(
    id="sha256:" + "a" * 64, repo_tags=("docker.io/library/busybox:latest",), repo_digests=(),
    created=1.5, size=1234, architecture="amd64", os="linux",
    config=api.ImageConfig(env=("PATH=/bin",), cmd=("sh",), labels={"k": "v"},
                           healthcheck=api.Healthcheck(test=("CMD", "true"))),
    layers=("sha256:" + "b" * 64,))


def container(name: str = "web") -> api.ContainerInfo:
    config = api.ContainerConfig(
        name=name, image="busybox", command=("sleep", "1"), env={"A": "1"},
        labels={api.LABEL_PROJECT: "p"},
        mounts=(api.Mount(type="tmpfs", target="/tmp", tmpfs_size=1024),),
        ports=(api.PortBinding(container_port=80, host_port=8080),),
        extra_hosts=(("db", "10.0.0.2"),),
        restart=api.RestartPolicy(name="on-failure", max_attempts=3))
    return api.ContainerInfo(
        id="c" * 64, name=name, image="busybox", image_id=IMAGE.id, config=config,
        state=api.ContainerState.RUNNING, pid=42, exit_code=None, created_at=1.0,
        started_at=2.0, finished_at=None, health=api.HealthStatus.HEALTHY,
        health_log=(api.HealthLogEntry(start=1, end=2, exit_code=0, output="ok"),))


class FakeEngine:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _record(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))

    def image_list(self, *, labels: Mapping[str, str] | None = None) -> list[api.ImageInfo]:
        self._record("image_list", labels=labels)
        return [IMAGE]

    def image_inspect(self, ref: str) -> api.ImageInfo:
        if ref != "busybox":
            raise NotFound(f'image "{ref}" not found')
        return IMAGE

    def image_pull(self, ref: str, *, progress: api.ProgressFn | None = None) -> api.ImageInfo:
        if ref == "missing":
            raise NotFound(f'image "{ref}": no such repository')
        for i in range(3):
            if progress is not None:
                progress(api.PullProgress(ref=ref, layer="l", status="downloading", current=i,
                                          total=3))
        return IMAGE

    def container_create(self, config: api.ContainerConfig) -> api.ContainerInfo:
        self._record("container_create", config=config)
        return container(config.name)

    def container_stop(self, ref: str, *, signal: str | None = None,
                       timeout: float | None = None) -> None:
        self._record("container_stop", ref=ref, signal=signal, timeout=timeout)

    def container_remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        if not force:
            raise Conflict(f'container "{ref}" is running: stop it first or use force')
        self._record("container_remove", ref=ref, force=force, volumes=volumes)

    def container_inspect(self, ref: str) -> api.ContainerInfo:
        if ref != "web":
            raise NotFound(f'container "{ref}" not found')
        return container()

    def container_logs(self, ref: str, *, follow: bool = False, since: float | None = None,
                       tail: int | None = None) -> Iterator[api.LogEntry]:
        if ref != "web":
            raise NotFound(f'container "{ref}" not found')
        return self._logs(follow)

    def _logs(self, follow: bool) -> Iterator[api.LogEntry]:
        for i in range(3):
            yield api.LogEntry(stream="stdout", time=float(i), data=b"line\x00\xff%d" % i)
        if follow:
            time.sleep(0.8)  # after the first-line wait: the error goes in-band
            raise Conflict('container "web": log file vanished')

    def container_exec(self, ref: str, cmd: Sequence[str], *,
                       env: Mapping[str, str] | None = None, user: str | None = None,
                       workdir: str | None = None, stdin: bytes | None = None) -> api.ExecResult:
        self._record("container_exec", ref=ref, cmd=cmd, env=env, stdin=stdin)
        return api.ExecResult(exit_code=3, stdout=stdin or b"", stderr=b"\xff")

    def container_wait(self, ref: str, *, timeout: float | None = None) -> int:
        raise RuntimeError("boom")  # a bug in the engine: 500, the server keeps serving

    def events(self, *, since: float | None = None, until: float | None = None,
               filters: Mapping[str, str] | None = None) -> Iterator[api.Event]:
        self._record("events", since=since, until=until, filters=filters)
        yield api.Event(time=1.0, type="container", action="start", id="c",
                        attributes={"name": "web"})
