"""Two callers watching one new run at once (the API's start and the supervisor's event
loop both do) must leave exactly one probe schedule behind, never none."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

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
        self.event_log = _Events()

    def container_probe(self, ref: str, cmd: Any, *, timeout: float) -> api.ExecResult:
        time.sleep(0.2)  # long enough for the second watcher's first turn to come meanwhile
        self.probes += 1
        return api.ExecResult(exit_code=0, stdout=b"", stderr=b"")


def test_concurrent_watches_of_one_run_keep_it_probed(tmp_path: Path) -> None:
    engine = _Engine()
    monitor = HealthMonitor(engine, SupervisionStore(Metadata(tmp_path / "md.db")))  # type: ignore[arg-type]
    config = api.ContainerConfig(name="web", image="busybox", healthcheck=CHECK)
    info = api.ContainerInfo(id="c" * 64, name="web", image="busybox", image_id="sha256:0",
                             config=config, state=api.ContainerState.RUNNING, pid=1,
                             exit_code=None, created_at=time.time(), started_at=time.time(),
                             finished_at=None)
    gate = threading.Barrier(2)

    def watch() -> None:
        gate.wait()
        monitor.watch(info)

    try:
        threads = [threading.Thread(target=watch) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadline = time.monotonic() + 5
        while engine.probes < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine.probes >= 4, "the probes stopped: the run is no longer scheduled"
        assert monitor.store.get(info.id).health == api.HealthStatus.HEALTHY
    finally:
        monitor.stop()
