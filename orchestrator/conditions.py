"""Waiting for depends_on conditions: started, healthy, completed successfully.

Health comes from the engine (stackd's supervisor runs the probes and
``container_inspect`` reports the status). An engine that reports no health for
a container that has a healthcheck (the in-process engine, which supervises
nothing) gets the probes run from here instead, by exec, on Docker's schedule:
the first at once, then every ``start_interval`` during ``start_period``, then
every ``interval``; ``retries`` failures in a row outside the start period make
it unhealthy. One prober per container, shared by every waiter (thread-safe).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from runtime import api
from runtime.errors import EngineError

log = logging.getLogger(__name__)

POLL = 0.05  # seconds between looks at a container's state


class ConditionFailed(Exception):
    """A condition can never be met (unhealthy, exited, no healthcheck); message says why."""


class Cancelled(Exception):
    """The run was interrupted (Ctrl-C, or a failure elsewhere with --abort-on-...)."""


@dataclass(slots=True)
class _Probe:
    check: api.Healthcheck
    began: float
    next_at: float
    failures: int = 0
    status: api.HealthStatus = api.HealthStatus.STARTING
    last_output: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)  # one probe at a time


class HealthTracker:
    """The health of containers: the engine's word, or our own probes where it has none."""

    def __init__(self, engine: api.Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._probes: dict[str, _Probe] = {}
        self._image_checks: dict[str, api.Healthcheck | None] = {}

    def healthcheck_of(self, info: api.ContainerInfo) -> api.Healthcheck | None:
        """The check in force: the container's, else its image's; None when there is none."""
        hc = info.config.healthcheck
        if hc is None:
            if info.image_id not in self._image_checks:
                try:
                    image_hc = self._engine.image_inspect(info.image_id).config.healthcheck
                except EngineError:
                    image_hc = None
                self._image_checks[info.image_id] = image_hc
            hc = self._image_checks[info.image_id]
        if hc is None or not hc.test or hc.test[0] == "NONE":
            return None
        return hc

    def status(self, info: api.ContainerInfo) -> tuple[api.HealthStatus, str]:
        """(status, last probe output) for a running container."""
        if info.health is not api.HealthStatus.NONE:
            output = info.health_log[-1].output if info.health_log else ""
            return info.health, output
        hc = self.healthcheck_of(info)
        if hc is None:
            return api.HealthStatus.NONE, ""
        with self._lock:
            probe = self._probes.get(info.id)
            if probe is None:
                began = info.started_at or time.time()
                probe = _Probe(check=hc, began=began, next_at=0.0)
                self._probes[info.id] = probe
        # probes of different containers run side by side; waiters on one share its probe
        with probe.lock:
            now = time.time()
            if probe.status is not api.HealthStatus.UNHEALTHY and now >= probe.next_at:
                self._run_probe(info.id, probe, now)
            return probe.status, probe.last_output

    def _run_probe(self, container: str, probe: _Probe, now: float) -> None:
        test = probe.check.test
        cmd = ["/bin/sh", "-c", test[1]] if test[0] == "CMD-SHELL" else list(test[1:])
        try:
            result = self._engine.container_exec(container, cmd)
            ok = result.exit_code == 0
            probe.last_output = (result.stdout + result.stderr).decode("utf-8", "replace")[-500:]
        except EngineError as exc:
            ok, probe.last_output = False, exc.message
        in_start = time.time() - probe.began < probe.check.start_period
        if ok:
            probe.status, probe.failures = api.HealthStatus.HEALTHY, 0
        elif not in_start:
            probe.failures += 1
            if probe.failures >= max(1, probe.check.retries):
                probe.status = api.HealthStatus.UNHEALTHY
        starting = probe.status is api.HealthStatus.STARTING and in_start
        interval = probe.check.start_interval if starting else probe.check.interval
        probe.next_at = now + max(interval, 0.05)


SETTLE_MARGIN = 10.0  # seconds beyond a healthcheck's own schedule (a busy host, a slow exec)


def settle_time(check: api.Healthcheck) -> float:
    """The longest ``check`` can leave a container "starting" when probes run on schedule:
    the start period, then ``retries`` failed probes (each up to interval + timeout after
    the last) make it unhealthy; plus a margin. Waits without a timeout of their own stop
    there, so a supervisor that never probes cannot hang ``up``."""
    retries = max(1, check.retries)
    return check.start_period + (retries + 1) * (check.interval + check.timeout) + SETTLE_MARGIN


def _sleep(cancel: threading.Event, seconds: float) -> None:
    if cancel.wait(seconds):
        raise Cancelled()


def wait_healthy(engine: api.Engine, tracker: HealthTracker, container: str, *, label: str,
                 cancel: threading.Event, timeout: float | None = None) -> None:
    """Until ``container`` is healthy; ConditionFailed when it cannot become so."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        info = engine.container_inspect(container)
        if info.state in (api.ContainerState.EXITED, api.ContainerState.DEAD):
            raise ConditionFailed(f'container "{label}" exited with code {info.exit_code} '
                                  "before it was healthy")
        if info.state is api.ContainerState.RUNNING:
            status, output = tracker.status(info)
            if status is api.HealthStatus.HEALTHY:
                return
            if status is api.HealthStatus.NONE:
                raise ConditionFailed(f'container "{label}" has no healthcheck to wait for')
            if status is api.HealthStatus.UNHEALTHY:
                detail = f": {output.strip()}" if output.strip() else ""
                raise ConditionFailed(f'container "{label}" is unhealthy{detail}')
        if deadline is not None and time.monotonic() > deadline:
            raise ConditionFailed(f'container "{label}" was not healthy after {timeout:g}s')
        _sleep(cancel, POLL)


def wait_completed(engine: api.Engine, container: str, *, label: str,
                   cancel: threading.Event, timeout: float | None = None) -> None:
    """Until ``container`` has exited 0; ConditionFailed on another exit code."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        info = engine.container_inspect(container)
        if info.state in (api.ContainerState.EXITED, api.ContainerState.DEAD):
            if info.exit_code == 0:
                return
            raise ConditionFailed(f'container "{label}" exited with code {info.exit_code}')
        if deadline is not None and time.monotonic() > deadline:
            raise ConditionFailed(f'container "{label}" did not complete in {timeout:g}s')
        _sleep(cancel, POLL)


def wait_running(engine: api.Engine, tracker: HealthTracker, container: str, *, label: str,
                 cancel: threading.Event, timeout: float | None = None) -> bool:
    """``up --wait``: running, and healthy when it has a healthcheck (then True)."""
    info = engine.container_inspect(container)
    if tracker.healthcheck_of(info) is not None:
        wait_healthy(engine, tracker, container, label=label, cancel=cancel, timeout=timeout)
        return True
    if info.state not in (api.ContainerState.RUNNING, api.ContainerState.PAUSED):
        raise ConditionFailed(f'container "{label}" is {info.state.value} '
                              f"(exit code {info.exit_code})")
    return False
