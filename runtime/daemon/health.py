"""Healthchecks: probes run by exec inside running containers, on a schedule.

The check is the container's ``healthcheck``, else its image's HEALTHCHECK;
``("NONE",)`` disables it. Schedule: the first probe as soon as the container
runs (so a healthy dependency is seen without waiting a whole interval), then
every ``start_interval`` during ``start_period``, then every ``interval``.

Status (Docker's rules): ``starting`` until the first success; a success makes
it ``healthy``; ``retries`` failures in a row make it ``unhealthy``, except that
failures inside the start period do not count. A probe that outlives
``timeout`` fails ("Health check exceeded timeout (1s)", exit code -1, as Docker
says it) and is killed, with whatever it started in the container. The last
five results are kept (``health_log``); every change of status is an event
``health_status: <status>``.

``unready()`` is the set of containers with a check that are not healthy (starting
or unhealthy): the networks' DNS leaves them out of its answers.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from runtime import api
from runtime.containers.exec import ExecTimeout
from runtime.daemon.supervision_store import SupervisionStore
from runtime.errors import EngineError

if TYPE_CHECKING:
    from runtime.engine import LocalEngine

log = logging.getLogger(__name__)

OUTPUT_KEEP = 4096  # bytes of probe output kept per result
MIN_INTERVAL = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class _Check:
    id: str
    name: str
    started_at: float  # which run of the container this schedule belongs to (wall clock)
    started_mono: float
    check: api.Healthcheck
    labels: dict[str, str]
    image: str


def probe_argv(check: api.Healthcheck) -> list[str] | None:
    """The command of a check; None when the check is disabled or empty (pure)."""
    if not check.test or check.test[0] == "NONE":
        return None
    if check.test[0] == "CMD":
        return list(check.test[1:]) or None
    if check.test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(check.test[1:])] if len(check.test) > 1 else None
    return ["/bin/sh", "-c", " ".join(check.test)]  # a bare string, as compose allows


def go_duration(seconds: float) -> str:
    """A duration as Docker prints it in health messages: ``500ms``, ``1s``, ``1m30s`` (pure)."""
    if seconds < 1:
        return f"{round(seconds * 1000, 3):g}ms"
    minutes, rest = divmod(seconds, 60)
    rest = round(rest, 3)
    if not minutes:
        return f"{rest:g}s"
    return f"{int(minutes)}m{rest:g}s" if rest else f"{int(minutes)}m0s"


def next_status(*, current: api.HealthStatus, streak: int, ok: bool, in_start_period: bool,
                retries: int) -> tuple[api.HealthStatus, int]:
    """(status, failing streak) after one probe (pure)."""
    if ok:
        return api.HealthStatus.HEALTHY, 0
    if in_start_period:
        return current, streak
    streak += 1
    if streak >= max(1, retries):
        return api.HealthStatus.UNHEALTHY, streak
    return current, streak


class HealthMonitor:
    def __init__(self, engine: LocalEngine, store: SupervisionStore) -> None:
        self.engine = engine
        self.store = store
        self._lock = threading.Lock()
        self._checks: dict[str, _Check] = {}
        self._queue: list[tuple[float, str, float]] = []  # (due, id, started_at)
        self._busy: set[str] = set()
        self._wake = threading.Condition(self._lock)
        self._stopped = False
        # Replaced, never mutated, so readers (the DNS thread) need no lock. Seeded from the
        # store so a restarted daemon hides what was not healthy before ``adopt`` runs.
        self._unready: frozenset[str] = frozenset(
            cid for cid, item in store.all().items()
            if item.health in (api.HealthStatus.STARTING, api.HealthStatus.UNHEALTHY))
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="stackd-health")
        self._thread = threading.Thread(target=self._loop, name="stackd-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._wake.notify_all()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def unready(self) -> frozenset[str]:
        """Ids of the containers with a healthcheck that are not healthy now."""
        return self._unready

    def _set_ready(self, cid: str, ready: bool) -> None:
        """Caller holds ``_lock``."""
        if ready != (cid not in self._unready):
            self._unready = (self._unready - {cid}) if ready else (self._unready | {cid})

    def effective_check(self, info: api.ContainerInfo) -> api.Healthcheck | None:
        check = info.config.healthcheck
        if check is None:
            try:
                check = self.engine.image_inspect(info.image_id).config.healthcheck
            except EngineError:
                check = None
        if check is None or probe_argv(check) is None:
            return None
        return check

    def watch(self, info: api.ContainerInfo) -> None:
        """Probe this run of a running container (idempotent per run)."""
        with self._lock:
            current = self._checks.get(info.id)
            if current is not None and current.started_at == info.started_at:
                return
        check = self.effective_check(info)
        if check is None or info.started_at is None:
            return
        age = max(0.0, time.time() - info.started_at)
        entry = _Check(id=info.id, name=info.name, started_at=info.started_at,
                       started_mono=time.monotonic() - age, check=check,
                       labels=dict(info.config.labels), image=info.image)
        with self._lock:
            # The API's start and the event loop may both get here for one run: the first
            # to register it wins, so that one schedule, not two half ones, is left.
            current = self._checks.get(info.id)
            if current is not None and current.started_at == info.started_at:
                return
            self._checks[info.id] = entry
        item = self.store.get(info.id)
        if item.health == api.HealthStatus.NONE or current is not None or age < 1.0:
            # a new run starts over; an adopted one (daemon restart) keeps its status
            item = replace(item, health=api.HealthStatus.STARTING, failing_streak=0)
            self.store.put(item)
        with self._lock:
            if self._checks.get(info.id) is not entry:
                return  # a later run took over meanwhile
            self._set_ready(info.id, item.health == api.HealthStatus.HEALTHY)
            heapq.heappush(self._queue, (time.monotonic(), info.id, info.started_at))
            self._wake.notify_all()

    def forget(self, cid: str) -> None:
        with self._lock:
            self._checks.pop(cid, None)
            self._set_ready(cid, True)

    def _loop(self) -> None:
        with self._lock:
            while not self._stopped:
                now = time.monotonic()
                if not self._queue:
                    self._wake.wait(1.0)
                    continue
                due, cid, started_at = self._queue[0]
                if due > now:
                    self._wake.wait(min(1.0, due - now))
                    continue
                heapq.heappop(self._queue)
                entry = self._checks.get(cid)
                if entry is None or entry.started_at != started_at:
                    continue
                if cid in self._busy:
                    # a probe of an earlier run (or entry) is still going: its end will not
                    # schedule this one, so look again shortly instead of dropping it
                    heapq.heappush(self._queue, (now + MIN_INTERVAL, cid, started_at))
                    continue
                self._busy.add(cid)
                self._pool.submit(self._probe, entry)

    def _probe(self, entry: _Check) -> None:
        try:
            self._probe_once(entry)
        except Exception:
            log.exception("healthcheck of %s failed", entry.name)
        finally:
            with self._lock:
                self._busy.discard(entry.id)
                if self._checks.get(entry.id) == entry:
                    in_start = time.monotonic() - entry.started_mono < entry.check.start_period
                    interval = entry.check.start_interval if in_start else entry.check.interval
                    heapq.heappush(self._queue, (time.monotonic() + max(MIN_INTERVAL, interval),
                                                 entry.id, entry.started_at))
                    self._wake.notify_all()

    def _probe_once(self, entry: _Check) -> None:
        argv = probe_argv(entry.check)
        assert argv is not None
        start = time.time()
        try:
            # The engine kills a probe past its timeout, with what it started in the
            # container: a hung check must not leave a process behind on every interval.
            result = self.engine.container_probe(entry.id, argv,
                                                 timeout=max(MIN_INTERVAL, entry.check.timeout))
        except ExecTimeout as exc:
            code, output = -1, f"Health check exceeded timeout ({go_duration(exc.timeout)})"
        except EngineError as exc:
            with self._lock:
                if self._checks.get(entry.id) != entry:
                    return  # the container stopped meanwhile: not a probe failure
            code, output = -1, exc.message
        else:
            code = result.exit_code
            output = (result.stdout + result.stderr)[:OUTPUT_KEEP].decode(errors="replace")
        self._record(entry, api.HealthLogEntry(start=start, end=time.time(), exit_code=code,
                                               output=output))

    def _record(self, entry: _Check, probe: api.HealthLogEntry) -> None:
        with self._lock:
            if self._checks.get(entry.id) != entry:
                return
        item = self.store.get(entry.id)
        in_start = time.monotonic() - entry.started_mono < entry.check.start_period
        status, streak = next_status(current=item.health, streak=item.failing_streak,
                                     ok=probe.exit_code == 0, in_start_period=in_start,
                                     retries=entry.check.retries)
        self.store.put(replace(item.with_probe(probe), health=status, failing_streak=streak))
        with self._lock:
            if self._checks.get(entry.id) == entry:  # not forgotten meanwhile
                self._set_ready(entry.id, status == api.HealthStatus.HEALTHY)
        if status != item.health:
            log.info("container %s is %s", entry.name, status.value)
            self.engine.event_log.emit(
                "container", f"health_status: {status.value}", entry.id,
                {"name": entry.name, "image": entry.image, **entry.labels,
                 "health_status": status.value})
