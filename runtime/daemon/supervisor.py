"""Restart policies: stackd notices exits and starts containers again, with back-off.

One thread ticks every ``TICK`` seconds. Exits are noticed cheaply by watching
conmon's exit file of each running container (the container part's
``monitor(id)``); then ``container_inspect`` reconciles the record (emitting
"die") and the policy decides. New and restarted containers are learnt from
the event log ("start", "destroy"), which every process writes to, so
containers started without the daemon (``STACK_ENGINE=local``) are supervised too.

Policy (Docker's, plus deploy.restart_policy):
- ``no``: never; ``always``: after any exit; ``unless-stopped``: the same. Both
  spare a container the user stopped (stop/kill through the API, or a record the
  container part marked ``stop_requested``), until the daemon starts again:
  then ``always`` brings it back, ``unless-stopped`` does not (Docker's rule);
- ``on-failure[:max]``: after a non-zero exit, at most ``max_attempts`` restarts
  since the user last started it (a run that outlasts ``window``, when given,
  counts as a success and starts the count over);
- back-off: ``delay`` (default 100 ms) doubling per quick failure, capped at
  1 min; a run of 10 s resets it.

From the exit until the policy's start is done (the back-off included), inspect
and list show the container "restarting" (``overlay``), as Docker does; a user
stop or start meanwhile cancels the restart, and the state reads "exited" again.

State that must survive a daemon restart (counts, user stops, the exit already
handled) is in ``SupervisionStore``; ``adopt`` runs the policy for exits that
happened while no daemon was watching.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from runtime import api
from runtime.daemon.health import HealthMonitor
from runtime.daemon.supervision_store import Supervised, SupervisionStore
from runtime.errors import EngineError, NotFound

if TYPE_CHECKING:
    from runtime.engine import LocalEngine

log = logging.getLogger(__name__)

TICK = 0.1
RESCAN = 10.0  # full list now and then: a safety net under the event log
BACKOFF_START = 0.1
BACKOFF_CAP = 60.0
RESET_AFTER = 10.0


def backoff(*, failures: int, policy: api.RestartPolicy) -> float:
    """Delay before restarting after ``failures + 1`` quick failures in a row (pure)."""
    start = policy.delay if policy.delay is not None else BACKOFF_START
    return float(min(BACKOFF_CAP, start * (2.0 ** min(failures, 30))))


def wants_restart(info: api.ContainerInfo, item: Supervised) -> bool:
    """Whether the policy restarts this exited container (pure)."""
    policy = info.config.restart
    if item.stopped_during(info.started_at) or policy.name == "no":
        return False
    if policy.name in ("always", "unless-stopped"):
        return policy.max_attempts is None or item.attempts < policy.max_attempts
    # on-failure
    if info.exit_code == 0:
        return False
    return policy.max_attempts is None or item.attempts < policy.max_attempts


@dataclass(frozen=True, slots=True, kw_only=True)
class _Watched:
    id: str
    name: str
    started_at: float | None


class Supervisor:
    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine
        self.store = SupervisionStore(engine.metadata)
        self.health = HealthMonitor(engine, self.store)
        self._lock = threading.RLock()
        self._watched: dict[str, _Watched] = {}
        self._pending: dict[str, float] = {}  # id -> monotonic time of the restart
        self._starting: set[str] = set()  # ids the policy is starting again right now
        # Quick failures in a row (back-off exponent); memory only: a new daemon starts gently.
        self._failures: dict[str, int] = {}
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._event_cursor = time.time()
        self._seen_at_cursor: set[tuple[str, str]] = set()

    # --- life ----------------------------------------------------------------------

    def start(self) -> None:
        self.adopt()
        self._thread = threading.Thread(target=self._loop, name="stackd-supervisor",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.health.stop()

    def adopt(self) -> None:
        """Take over every container: watch the running ones, apply the policy to exits
        that happened while nobody watched; make sure the networks' DNS answers."""
        self._event_cursor = time.time()
        self.keep_dns()
        known = self.store.all()
        containers = self.engine.container_list(all=True)
        for info in containers:
            item = known.get(info.id)
            if (item is not None and info.config.restart.name == "always"
                    and info.state == api.ContainerState.EXITED
                    and item.stopped_during(info.started_at)):
                # Docker's rule: "always" brings back even a container the user stopped
                # when the daemon starts; "unless-stopped" is the one that stays down.
                self.store.put(replace(item, user_stopped_at=None,
                                       handled_exit=info.finished_at))
                with self._lock:
                    self._pending[info.id] = time.monotonic()
                continue
            self._observe(info, item)
        for cid in set(known) - {c.id for c in containers}:
            self.store.delete(cid)  # removed while no daemon watched

    def keep_dns(self) -> None:
        """Start the networks' resolver again when networks exist but it is gone (in stackd
        a thread the daemon starts first: this is a safety net should it have failed).
        Without networks nothing is imported or started."""
        try:
            if not self.engine.metadata.query("SELECT 1 FROM net_networks LIMIT 1"):
                return
        except sqlite3.Error:  # no network was ever made here: no table yet
            return
        try:
            networks = self.engine.networks
            if networks.dns.pid() is not None:
                return
            log.warning("embedded DNS was not running: starting it again")
            networks.dns.ensure_running()
            networks.dns.wait_listening([p.gateway for n in networks.list() for p in n.ipam
                                         if p.gateway])
        except EngineError as exc:
            log.warning("embedded DNS: %s", exc.message)

    # --- hooks from the API (DaemonService) ---------------------------------------------

    def _record(self, ref: str) -> tuple[str, float | None]:
        """(id, finished_at) of a container by any reference, cheaply: the stored record,
        without reconciling it (hooks run on every stop and start; they must be fast)."""
        try:
            record = self.engine.containers.store.find(ref)
            return record.id, record.finished_at
        except AttributeError:  # a container part without a store: ask the API
            info = self.engine.container_inspect(ref)
            return info.id, info.finished_at

    def user_starting(self, ref: str) -> None:
        """Before a start the user asked for: a fresh run, no user stop, no pending restart."""
        with contextlib.suppress(NotFound):
            cid, finished_at = self._record(ref)
            with self._lock:
                item = self.store.get(cid)
                self.store.put(replace(item, user_stopped_at=None, attempts=0,
                                       handled_exit=finished_at or item.handled_exit))
                self._pending.pop(cid, None)
                self._failures.pop(cid, None)

    def user_started(self, ref: str) -> None:
        """After that start: watch the run at once (its first health probe is due now)."""
        with contextlib.suppress(NotFound):
            self._observe(self.engine.container_inspect(ref), None)

    def user_stopping(self, ref: str) -> None:
        with contextlib.suppress(NotFound):
            cid, _ = self._record(ref)
            with self._lock:
                self.store.put(replace(self.store.get(cid), user_stopped_at=time.time()))
                self._pending.pop(cid, None)
            self.health.forget(cid)

    def overlay(self, info: api.ContainerInfo, item: Supervised | None = None
                ) -> dict[str, Any]:
        """Fields of ``info`` the supervisor knows better (for inspect and list);
        ``item``: its record, when the caller read them all at once (a listing)."""
        item = item or self.store.get(info.id)
        extra: dict[str, Any] = {}
        if item.restart_count > info.restart_count:
            extra["restart_count"] = item.restart_count
        if item.health != api.HealthStatus.NONE:
            extra["health"] = item.health
            extra["health_log"] = item.health_log
        if self._restarting(info, item):
            extra["state"] = api.ContainerState.RESTARTING
        return extra

    def _restarting(self, info: api.ContainerInfo, item: Supervised) -> bool:
        """Docker's "restarting": an exited container the policy will start again, from
        the exit (even before the next tick handles it) through the back-off to the end
        of the start; a user stop or start meanwhile ends it."""
        if info.state not in (api.ContainerState.EXITED, api.ContainerState.DEAD):
            return False
        with self._lock:
            if info.id in self._pending or info.id in self._starting:
                return True
        if info.finished_at is None or item.handled_exit == info.finished_at:
            return False
        return wants_restart(info, self._policy_view(info, item))

    # --- the loop --------------------------------------------------------------------

    def _loop(self) -> None:
        last_scan = time.monotonic()
        while not self._stopped.wait(TICK):
            try:
                self._read_events()
                self._check_exits()
                self._run_due_restarts()
                if time.monotonic() - last_scan > RESCAN:
                    last_scan = time.monotonic()
                    self.keep_dns()
                    for info in self.engine.container_list(all=True):
                        self._observe(info, None)
            except Exception:  # never let one bad tick end supervision
                log.exception("supervisor tick failed")

    def _read_events(self) -> None:
        for event in self.engine.event_log.stream(since=self._event_cursor, follow=False,
                                                  filters={"type": "container"}):
            key = (event.action, event.id)
            if event.time == self._event_cursor and key in self._seen_at_cursor:
                continue
            if event.time != self._event_cursor:
                self._event_cursor, self._seen_at_cursor = event.time, set()
            self._seen_at_cursor.add(key)
            if event.action == "destroy":
                self._forget(event.id)
                continue
            if event.action in ("stop", "kill"):
                # Only explicit API calls emit these (maybe not through us: STACK_ENGINE=local).
                with self._lock:
                    item = self.store.get(event.id)
                    if item.user_stopped_at is None or item.user_stopped_at < event.time:
                        self.store.put(replace(item, user_stopped_at=event.time))
                    self._pending.pop(event.id, None)
            if event.action in ("start", "die", "unpause"):
                with contextlib.suppress(NotFound):
                    self._observe(self.engine.container_inspect(event.id), None)

    def _check_exits(self) -> None:
        with self._lock:
            watched = list(self._watched.values())
        for w in watched:
            if self.engine.containers.monitor(w.id).exit_code() is None:
                continue
            try:
                info = self.engine.container_inspect(w.id)  # reconciles: records the exit
            except NotFound:
                self._forget(w.id)
                continue
            self._observe(info, None)

    def _observe(self, info: api.ContainerInfo, item: Supervised | None) -> None:
        """Bring our view of one container up to date and act on an unhandled exit."""
        if info.state in (api.ContainerState.RUNNING, api.ContainerState.PAUSED):
            with self._lock:
                self._watched[info.id] = _Watched(id=info.id, name=info.name,
                                                  started_at=info.started_at)
            self.health.watch(info)
            return
        with self._lock:
            self._watched.pop(info.id, None)
        self.health.forget(info.id)
        if info.state in (api.ContainerState.EXITED, api.ContainerState.DEAD):
            self._exited(info, item or self.store.get(info.id))

    def _exited(self, info: api.ContainerInfo, item: Supervised) -> None:
        with self._lock:
            if info.finished_at is None or item.handled_exit == info.finished_at:
                return  # this exit was handled already (or the container never ran)
            if info.id in self._pending:
                return
            ran = (info.finished_at - info.started_at) if info.started_at else 0.0
            policy = info.config.restart
            if ran >= RESET_AFTER:
                self._failures.pop(info.id, None)
            item = self._policy_view(info, item)
            if not wants_restart(info, item):
                self.store.put(item)
                log.info("container %s exited (%s): policy %s, not restarting", info.name,
                         info.exit_code, policy.name)
                return
            failures = self._failures.get(info.id, 0)
            self._failures[info.id] = failures + 1
            delay = backoff(failures=failures, policy=policy)
            self.store.put(item)
            self._pending[info.id] = time.monotonic() + delay
            log.info("container %s exited (%s): restart in %.1f s (policy %s)", info.name,
                     info.exit_code, delay, policy.name)

    def _policy_view(self, info: api.ContainerInfo, item: Supervised) -> Supervised:
        """``item`` once the exit of ``info`` is handled: a stop through the container part
        counts as a user stop, a run longer than the policy's window starts the count over."""
        assert info.finished_at is not None
        if not item.stopped_during(info.started_at) and self._stop_requested(info.id):
            item = replace(item, user_stopped_at=info.finished_at)
        ran = (info.finished_at - info.started_at) if info.started_at else 0.0
        window = info.config.restart.window
        if window is not None and ran >= window:
            item = replace(item, attempts=0)
        return replace(item, handled_exit=info.finished_at)

    def _stop_requested(self, cid: str) -> bool:
        """Did someone stop it through the container part (maybe without the daemon)?"""
        try:
            return bool(self.engine.containers.store.get(cid).stop_requested)
        except (NotFound, AttributeError):
            return False

    def _run_due_restarts(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [cid for cid, at in self._pending.items() if at <= now]
        for cid in due:
            try:
                current = self.engine.container_inspect(cid)
            except NotFound:
                self._forget(cid)
                continue
            with self._lock:
                if self._pending.pop(cid, None) is None:
                    continue  # the user acted meanwhile
                item = self.store.get(cid)
                if (current.state not in (api.ContainerState.EXITED, api.ContainerState.DEAD)
                        or item.stopped_during(current.started_at)):
                    continue  # started by someone, or a user stop seen since the exit
                # Still "restarting" (not "exited" with the new count) until the start is done.
                self._starting.add(cid)
                self.store.put(replace(item, restart_count=item.restart_count + 1,
                                       attempts=item.attempts + 1))
            try:
                self._restart(cid)
            finally:
                with self._lock:
                    self._starting.discard(cid)

    def _restart(self, cid: str) -> None:
        try:
            self.engine.container_start(cid)
            info = self.engine.container_inspect(cid)
        except NotFound:
            self._forget(cid)
            return
        except EngineError as exc:
            log.warning("container %s: restart failed: %s", cid[:12], exc.message)
            with contextlib.suppress(NotFound):
                info = self.engine.container_inspect(cid)
                # A failed start is an exit of its own: back off further.
                self._retry_failed_start(info)
            return
        self._observe(info, None)

    def _retry_failed_start(self, info: api.ContainerInfo) -> None:
        with self._lock:
            item = self.store.get(info.id)
            if not wants_restart(info, item):
                return
            failures = self._failures.get(info.id, 0)
            self._failures[info.id] = failures + 1
            self._pending[info.id] = time.monotonic() + backoff(failures=failures,
                                                                policy=info.config.restart)

    def _forget(self, cid: str) -> None:
        with self._lock:
            self._watched.pop(cid, None)
            self._pending.pop(cid, None)
            self._starting.discard(cid)
            self._failures.pop(cid, None)
        self.health.forget(cid)
        self.store.delete(cid)
