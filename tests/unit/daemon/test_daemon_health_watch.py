"""The probe schedule of a container's run survives the races around it: a new run
watched while a probe of the previous one is still going (a quick restart), and two
callers watching one new run at once (the API's start and the supervisor's event loop)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime import api
from runtime.daemon.health import HealthMonitor
from runtime.daemon.supervision_store import SupervisionStore
from runtime.metadata import Metadata

CHECK = api.Healthcheck(test=("CMD", "true"), interval=0.05, timeout=5, retries=3,
                        start_period=0, start_interval=0.05)


class _Events:
    def emit(self, *args: Any, **kwargs: Any) -> None:
        pass


class _Engine:
    """What the monitor asks of the engine: a probe that takes a while, and an event log."""

    def __init__(self) -> None:
        self.probes = 0
        self.busy = threading.Event()
        self.event_log = _Events()

    def container_probe(self, ref: str, cmd: Any, *, timeout: float) -> api.ExecResult:
        self.busy.set()
        time.sleep(0.2)
        self.probes += 1
        return api.ExecResult(exit_code=0, stdout=b"", stderr=b"")


def _info(started_at: float) -> api.ContainerInfo:
    config = api.ContainerConfig(name="web", image="busybox", healthcheck=CHECK)
    return api.ContainerInfo(id="c" * 64, name="web", image="busybox", image_id="sha256:0",
                             config=config, state=api.ContainerState.RUNNING, pid=1,
                             exit_code=None, created_at=time.time(), started_at=started_at,
                             finished_at=None)


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[tuple[HealthMonitor, _Engine]]:
    engine = _Engine()
    mon = HealthMonitor(engine, SupervisionStore(Metadata(tmp_path / "md.db")))  # type: ignore[arg-type]
    try:
        yield mon, engine
    finally:
        mon.stop()


def _probes_go_on(engine: _Engine, at_least: int) -> bool:
    deadline = time.monotonic() + 5
    while engine.probes < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    return engine.probes >= at_least


def test_a_run_watched_while_the_previous_ones_probe_runs_is_probed(
        monitor: tuple[HealthMonitor, _Engine]) -> None:
    mon, engine = monitor
    first = _info(time.time() - 10)
    mon.watch(first)
    assert engine.busy.wait(2)  # a probe of the first run is under way ...
    mon.watch(dataclasses.replace(first, started_at=time.time()))  # ... when it restarts
    assert _probes_go_on(engine, 5), "the new run is never probed"
    assert mon.store.get(first.id).health == api.HealthStatus.HEALTHY


def test_concurrent_watches_of_one_run_keep_it_probed(
        monitor: tuple[HealthMonitor, _Engine]) -> None:
    mon, engine = monitor
    info = _info(time.time())
    gate = threading.Barrier(2)

    def watch() -> None:
        gate.wait()
        mon.watch(info)

    threads = [threading.Thread(target=watch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _probes_go_on(engine, 4), "the probes stopped: the run is no longer scheduled"
    assert mon.store.get(info.id).health == api.HealthStatus.HEALTHY
