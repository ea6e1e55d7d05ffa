"""Carry out a down-plan: containers in reverse dependency generations (with -v, their
anonymous volumes too), then networks, then (with -v) the project's own named volumes.

Each generation's containers are stopped and removed side by side; the next
generation (what they depended on) starts when the previous one is gone. Stop
signal and grace period are the container's own (its config carries
stop_signal / stop_grace_period) unless ``-t`` overrides the grace period; the
engine kills at once a PID 1 that cannot act on the signal. Errors are
collected, not raised, so one stuck object does not keep the rest around.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from orchestrator.parallel import wait_all
from orchestrator.plan import ContainerChange, DownPlan, ResourceChange
from orchestrator.progress import Phase, ProgressEvent, Reporter, ignore
from runtime import api
from runtime.errors import EngineError, NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class DownResult:
    errors: tuple[str, ...] = ()


def apply_down(*, engine: api.Engine, plan: DownPlan, reporter: Reporter = ignore,
               timeout: float | None = None, max_workers: int = 32) -> DownResult:
    errors: list[str] = []
    lock = threading.Lock()

    def event(kind: str, name: str, status: str, phase: Phase = Phase.DONE,
              detail: str = "") -> None:
        reporter(ProgressEvent(kind=kind, name=name, status=status, phase=phase, detail=detail))

    def fail(kind: str, name: str, exc: EngineError) -> None:
        event(kind, name, "Error", Phase.ERROR, exc.message)
        with lock:
            errors.append(f'{kind.lower()} "{name}": {exc.message}')

    def remove_container(change: ContainerChange) -> None:
        assert change.container_id is not None
        try:
            event("Container", change.name, "Stopping", Phase.WORKING)
            engine.container_stop(change.container_id, timeout=timeout)
            event("Container", change.name, "Stopped")
            event("Container", change.name, "Removing", Phase.WORKING)
            engine.container_remove(change.container_id, force=True,
                                    volumes=plan.anonymous_volumes)
            event("Container", change.name, "Removed")
        except NotFound:
            event("Container", change.name, "Removed")
        except EngineError as exc:
            fail("Container", change.name, exc)

    def remove_resource(kind: str, remove: Callable[[str], None], change: ResourceChange) -> None:
        try:
            event(kind, change.name, "Removing", Phase.WORKING)
            remove(change.name)
            event(kind, change.name, "Removed")
        except NotFound:
            event(kind, change.name, "Removed")
        except EngineError as exc:
            fail(kind, change.name, exc)

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        for generation in plan.stop_generations:
            _run_all(pool, [partial(remove_container, c) for c in generation])
        _run_all(pool, [partial(remove_resource, "Network", engine.network_remove, n)
                       for n in plan.networks])
        _run_all(pool, [partial(remove_resource, "Volume", engine.volume_remove, v)
                       for v in plan.volumes])
    return DownResult(errors=tuple(errors))


def _run_all(pool: ThreadPoolExecutor, jobs: list[Callable[[], None]]) -> None:
    wait_all([pool.submit(job) for job in jobs])
