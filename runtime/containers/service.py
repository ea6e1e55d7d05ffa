"""The container part of the engine: every ``container_*`` call of ``runtime.api.Engine``.

Uses the other parts only through runtime.parts (images, volumes, networks). A
container's life: ``create`` writes a record (no processes); ``start`` mounts the
rootfs, sets up the network sandbox, writes the bundle and runs conmon (which runs
``runc create``), then ``runc start``; the container then lives on without us.
Any call that looks at a live container first reconciles its record with conmon's
exit file and runc (``_refresh``); the first caller that sees an exit records it,
emits "die" and releases the run-time resources (runc state, overlay mount,
network sandbox). ``remove`` deletes what is left.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import re
import secrets
import shutil
import signal as signal_module
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from runtime.api import (
    ContainerConfig,
    ContainerInfo,
    ContainerState,
    ContainerStats,
    EndpointConfig,
    EndpointInfo,
    ExecResult,
    LogEntry,
    PortBinding,
    ProcessInfo,
)
from runtime.config import EngineConfig
from runtime.containers import cgroups, conmon, mounts, spec, state, stop
from runtime.containers.exec import exec_argv, run_exec
from runtime.containers.locks import ContainerLocks
from runtime.containers.logs import read_logs
from runtime.containers.networking import ContainerNetworking, network_mode
from runtime.containers.rootfs import Rootfs, is_mounted
from runtime.containers.runc import Runc
from runtime.containers.state import LIVE_STATES, ContainerRecord, ContainerStore, replace
from runtime.containers.users import resolve_user
from runtime.errors import (
    EngineError,
    Failed,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from runtime.events import EventLog
from runtime.metadata import Metadata
from runtime.parts import ImageStore, NetworkDriver, VolumeStore

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
DEFAULT_STOP_TIMEOUT = 10.0
INIT_CANDIDATES = ("tini-static", "docker-init", "tini")  # static first: images may lack libc

_F = TypeVar("_F", bound=Callable[..., Any])


def _serialized(method: _F) -> _F:
    """Run a ``method(self, ref, ...)`` under the container's lock (resolved to its id)."""
    @functools.wraps(method)
    def wrapper(self: ContainerService, ref: str, *args: Any, **kwargs: Any) -> Any:
        cid = self.store.find(ref).id
        with self.locks.hold(cid):
            return method(self, cid, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class ContainerService:
    def __init__(self, config: EngineConfig, metadata: Metadata, events: EventLog, *,
                 images: ImageStore, volumes: VolumeStore, networks: NetworkDriver) -> None:
        self.config = config
        self.events = events
        self.images = images
        self.volumes = volumes
        self.networks = networks
        self.store = ContainerStore(metadata)
        self.runc = Runc(binary=config.runtime, root=config.runc_root)
        self.locks = ContainerLocks(config.run_dir / "locks")
        self.net = ContainerNetworking(config, networks)

    # --- paths -------------------------------------------------------------------

    def bundle_dir(self, cid: str) -> Path:
        return self.config.containers_dir / cid

    def monitor(self, cid: str) -> conmon.MonitorPaths:
        return conmon.MonitorPaths(dir=self.config.conmon_dir / cid, cid=cid)

    def log_path(self, cid: str) -> Path:
        return self.bundle_dir(cid) / "ctr.log"

    def attach_socket(self, ref: str) -> Path:
        """conmon's attach socket of a container (SOCK_SEQPACKET; see runtime.containers.attach)."""
        return self.bundle_dir(self.store.find(ref).id) / "attach"

    # --- create / start ----------------------------------------------------------

    def container_create(self, config: ContainerConfig) -> ContainerInfo:
        image = self.images.get(config.image)
        cid = secrets.token_hex(32)
        name = config.name or f"c_{cid[:12]}"
        if not _NAME.match(name):
            raise InvalidArgument(f'container name "{name}" is invalid: use '
                                  "[a-zA-Z0-9][a-zA-Z0-9_.-]*")
        config = dataclasses.replace(config, name=name)
        # Validate now what start would refuse later.
        spec.process_args(config, image.config)
        spec.capabilities(config)
        network_mode(config)
        for m in config.mounts:
            if m.type == "file":
                mounts.check_file(name, m)
        anon = tuple((t, secrets.token_hex(32))
                     for t in mounts.anonymous_targets(config, image.config.volumes))
        config = dataclasses.replace(config, mounts=mounts.name_anonymous(config, anon))
        record = ContainerRecord(id=cid, name=name, image=config.image, image_id=image.id,
                                 config=config, state=ContainerState.CREATED,
                                 created_at=time.time(), anon_volumes=anon)
        self.bundle_dir(cid).mkdir(parents=True, exist_ok=True)
        try:
            self.store.insert(record)
        except BaseException:
            shutil.rmtree(self.bundle_dir(cid), ignore_errors=True)
            raise
        self._emit("create", record)
        return record.info()

    @_serialized
    def container_start(self, ref: str) -> None:
        record = self._refresh(self.store.find(ref))
        if record.state == ContainerState.RUNNING:
            return
        if record.state == ContainerState.PAUSED:
            raise FailedPrecondition(f'container "{record.name}" is paused: unpause it instead')
        self._teardown(record)  # leftovers of a previous run (idempotent)
        try:
            pid, endpoints, ports = self._launch(record)
        except BaseException as exc:
            self._teardown(record)
            message = exc.message if isinstance(exc, EngineError) else str(exc)
            failed_state = (ContainerState.EXITED if record.state == ContainerState.RESTARTING
                            else record.state)
            self.store.update(replace(record, error=message, state=failed_state),
                              fields=("error", "state"))
            if isinstance(exc, EngineError) or not isinstance(exc, Exception):
                raise
            raise Failed(f'container "{record.name}": start failed: {exc}') from exc
        started = replace(record, state=ContainerState.RUNNING, pid=pid, exit_code=None,
                          started_at=time.time(), finished_at=None, error="",
                          networks=tuple(endpoints), ports=tuple(ports), stop_requested=False)
        self.store.update(started)
        self._emit("start", started)

    def _launch(self, record: ContainerRecord) -> tuple[int, list[EndpointInfo], list[PortBinding]]:
        cfg = record.config
        image = self.images.get(record.image_id)
        bundle = self.bundle_dir(record.id)
        bundle.mkdir(parents=True, exist_ok=True)
        merged = Rootfs(bundle).mount(self.images.layer_dirs(image.id))
        user = resolve_user(cfg.user if cfg.user is not None else image.config.user, merged)
        joined = self._joined(record)
        netns, endpoints, ports = self.net.setup(
            record, joined_pid=joined.pid if joined is not None else None)
        if joined is not None:  # Docker: its hostname and /etc files come with the network
            hostname, oci_mounts = self.net.joined_etc_files(self.bundle_dir(joined.id))
        else:
            hostname = cfg.hostname or (socket.gethostname() if netns == "host"
                                        else record.id[:12])
            oci_mounts = self.net.etc_files(record, bundle, hostname=hostname,
                                            endpoints=endpoints, netns=netns)
        oci_mounts += mounts.prepare(config=cfg, rootfs=merged, bundle=bundle,
                                     volumes=self.volumes, anonymous=record.anon_volumes)
        document = spec.build_spec(
            config=cfg, image=image.config, rootfs=merged, user=user,
            namespaces=spec.Namespaces(network=netns, hostname=hostname),
            mounts=oci_mounts, cgroups_path=f"/stack/{record.id}",
            init_binary=_init_binary() if cfg.init else None,
            has_swap_accounting=_has_swap_accounting(),
        )
        tmp = bundle / "config.json.tmp"
        tmp.write_text(json.dumps(document, indent=1))
        os.replace(tmp, bundle / "config.json")
        pid = conmon.launch(conmon=self.config.conmon, runtime=self.config.runtime,
                            runc_root=self.config.runc_root, cid=record.id, name=record.name,
                            bundle=bundle, log_path=self.log_path(record.id),
                            paths=self.monitor(record.id), terminal=cfg.tty,
                            stdin=cfg.stdin_open)
        monitor_pid = self.monitor(record.id).conmon_pid()
        if monitor_pid is not None:
            cgroups.move_to_monitor_group(monitor_pid)
        self.runc.start(record.id)
        return pid, endpoints, ports

    def _joined(self, record: ContainerRecord) -> ContainerRecord | None:
        """The running container whose network "container:<ref>" joins (its pid is set)."""
        mode = network_mode(record.config)
        if not mode.startswith("container:"):
            return None
        other = self._refresh(self.store.find(mode.split(":", 1)[1]))
        if other.state not in LIVE_STATES or other.pid is None:
            raise FailedPrecondition(f'container "{record.name}": network container '
                                     f'"{other.name}" is not running')
        return other

    # --- stop / kill / pause -----------------------------------------------------

    @_serialized
    def container_stop(self, ref: str, *, signal: str | None = None,
                       timeout: float | None = None) -> None:
        record = self._refresh(self.store.find(ref))
        if record.state not in LIVE_STATES:
            return
        self._stop(record, signal=signal, timeout=timeout, restarting=False)
        self._emit("stop", record)

    def _stop(self, record: ContainerRecord, *, signal: str | None, timeout: float | None,
              restarting: bool) -> ContainerRecord:
        sig = stop.parse_signal(signal or record.config.stop_signal or self._image_stop_signal(
            record) or "TERM")
        grace = timeout if timeout is not None else (
            record.config.stop_timeout if record.config.stop_timeout is not None
            else DEFAULT_STOP_TIMEOUT)
        self.store.update(replace(record, stop_requested=True), fields=("stop_requested",))
        if record.state == ContainerState.PAUSED:
            self.runc.resume(record.id)  # a frozen PID 1 cannot act on any signal
        monitor = self.monitor(record.id)
        pid = record.pid
        if pid is not None:
            self._emit("kill", record, signal=str(int(sig)))
            stop.stop_process(pid=pid, sig=sig, timeout=grace,
                              exited=lambda: monitor.exit_code() is not None,
                              send=lambda signum: self._signal(record, signum),
                              forwarding_init=record.config.init)
        final = self._refresh(self.store.get(record.id), restarting=restarting)
        if final.state in LIVE_STATES:
            # The monitor is gone or stuck: make sure nothing runs, then record it.
            log.warning("container %s: no exit recorded after stop; forcing", record.name)
            self.runc.delete(record.id, force=True)
            final = self._record_exit(final, exit_code=137, finished_at=time.time(),
                                      state=(ContainerState.RESTARTING if restarting
                                             else ContainerState.EXITED))
        return final

    def _image_stop_signal(self, record: ContainerRecord) -> str:
        try:
            return self.images.get(record.image_id).config.stop_signal
        except NotFound:
            return ""

    def _signal(self, record: ContainerRecord, signum: int) -> None:
        pid = record.pid
        if pid is None or not state.pid_is_container(pid, record.id):
            return  # already gone (and the PID may belong to someone else now)
        with contextlib.suppress(ProcessLookupError):
            stop.signal_pid(pid, signum)

    @_serialized
    def container_restart(self, ref: str, *, timeout: float | None = None) -> None:
        record = self._refresh(self.store.find(ref))
        if record.state in LIVE_STATES:
            self._stop(record, signal=None, timeout=timeout, restarting=True)
        self.container_start(record.id)
        self._emit("restart", self.store.get(record.id))

    @_serialized
    def container_kill(self, ref: str, *, signal: str = "KILL") -> None:
        record = self._refresh(self.store.find(ref))
        if record.state not in LIVE_STATES:
            raise FailedPrecondition(f'container "{record.name}" is not running')
        sig = stop.parse_signal(signal)
        # A kill is a user's stop too: restart policies leave the container down.
        self.store.update(replace(record, stop_requested=True), fields=("stop_requested",))
        self._signal(record, int(sig))
        self._emit("kill", record, signal=str(int(sig)))
        if record.state == ContainerState.PAUSED and sig == signal_module.SIGKILL:
            self.runc.resume(record.id)
        if sig == signal_module.SIGKILL:
            monitor = self.monitor(record.id)
            stop.wait_until(lambda: monitor.exit_code() is not None, timeout=stop.KILL_WAIT)
            self._refresh(self.store.get(record.id))

    @_serialized
    def container_pause(self, ref: str) -> None:
        record = self._refresh(self.store.find(ref))
        if record.state != ContainerState.RUNNING:
            raise FailedPrecondition(f'container "{record.name}" is not running')
        self.runc.pause(record.id)
        self.store.update(replace(record, state=ContainerState.PAUSED), fields=("state",))
        self._emit("pause", record)

    @_serialized
    def container_unpause(self, ref: str) -> None:
        record = self._refresh(self.store.find(ref))
        if record.state != ContainerState.PAUSED:
            raise FailedPrecondition(f'container "{record.name}" is not paused')
        self.runc.resume(record.id)
        self.store.update(replace(record, state=ContainerState.RUNNING), fields=("state",))
        self._emit("unpause", record)

    # --- remove ------------------------------------------------------------------

    @_serialized
    def container_remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        record = self._refresh(self.store.find(ref))
        if record.state in LIVE_STATES:
            if not force:
                raise FailedPrecondition(f'container "{record.name}" is {record.state.value}: '
                                         "stop it first or remove it with force")
            record = self._stop(record, signal="KILL", timeout=0, restarting=False)
            if record.config.auto_remove:
                return  # recording the exit removed it already
        self._delete(record, volumes=volumes)

    def _delete(self, record: ContainerRecord, *, volumes: bool) -> None:
        """Remove a stopped container's record and files (caller holds its lock)."""
        self._teardown(record)
        bundle = self.bundle_dir(record.id)
        if is_mounted(Rootfs(bundle).merged):
            raise Failed(f'container "{record.name}": rootfs is still mounted, not removing')
        self.store.delete(record.id)
        shutil.rmtree(bundle, ignore_errors=True)
        shutil.rmtree(self.monitor(record.id).dir, ignore_errors=True)
        self.locks.forget(record.id)
        if volumes:
            for _, name in record.anon_volumes:
                with contextlib.suppress(NotFound):
                    self.volumes.remove(name)
        self._emit("destroy", record)

    # --- read --------------------------------------------------------------------

    def container_inspect(self, ref: str) -> ContainerInfo:
        return self._refresh(self.store.find(ref)).info()

    def container_list(self, *, all: bool = False,
                       labels: Mapping[str, str] | None = None) -> list[ContainerInfo]:
        records = [self._refresh(r) for r in self.store.all(labels=labels)]
        shown = (ContainerState.RUNNING, ContainerState.PAUSED, ContainerState.RESTARTING)
        return [r.info() for r in records if all or r.state in shown]

    def container_logs(self, ref: str, *, follow: bool = False, since: float | None = None,
                       tail: int | None = None) -> Iterator[LogEntry]:
        record = self.store.find(ref)
        monitor = self.monitor(record.id)
        last_look = 0.0

        def still_running() -> bool:
            # Polled many times a second: while no exit file exists the container runs,
            # and a stat says so; the full reconciliation runs on an exit (or a restart)
            # and every 2 s, for a monitor that died without writing one.
            nonlocal last_look
            if monitor.exit_code() is None and time.monotonic() - last_look < 2.0:
                return True
            last_look = time.monotonic()
            try:
                current = self._refresh(self.store.get(record.id))
            except NotFound:
                return False
            return (current.state in (*LIVE_STATES, ContainerState.RESTARTING)
                    or _restart_pending(current))

        return read_logs(self.log_path(record.id), follow=follow, since=since, tail=tail,
                         still_running=still_running)

    def container_wait(self, ref: str, *, timeout: float | None = None) -> int:
        record = self._refresh(self.store.find(ref))
        monitor = self.monitor(record.id)
        last_check = time.monotonic()

        def done() -> bool:
            nonlocal record, last_check
            if record.state not in (*LIVE_STATES, ContainerState.RESTARTING):
                return True
            if monitor.exit_code() is not None or time.monotonic() - last_check > 1.0:
                last_check = time.monotonic()
                record = self._refresh(self.store.get(record.id))
                return record.state not in (*LIVE_STATES, ContainerState.RESTARTING)
            return False

        if not stop.wait_until(done, timeout=timeout):
            raise Unavailable(f'container "{record.name}" is still running after {timeout} s')
        return record.exit_code if record.exit_code is not None else -1

    def container_exec(self, ref: str, cmd: Sequence[str], *,
                       env: Mapping[str, str] | None = None, user: str | None = None,
                       workdir: str | None = None, stdin: bytes | None = None) -> ExecResult:
        argv = self.exec_command(ref, cmd, tty=False, env=env, user=user, workdir=workdir)
        return run_exec(argv, stdin=stdin)

    def exec_command(self, ref: str, cmd: Sequence[str], *, tty: bool,
                     env: Mapping[str, str] | None = None, user: str | None = None,
                     workdir: str | None = None) -> list[str]:
        """The ``runc exec`` command line; the CLI runs it in the foreground for ``exec -it``."""
        record = self._running(ref)
        return exec_argv(self.runc, record.id, cmd, rootfs=Rootfs(self.bundle_dir(record.id)).merged,
                         tty=tty, env=env, user=user, workdir=workdir)

    def container_stats(self, ref: str) -> ContainerStats:
        record = self._running(ref)
        assert record.pid is not None
        try:
            return cgroups.stats(record.pid)
        except OSError as exc:
            raise FailedPrecondition(f'container "{record.name}" is not running') from exc

    def container_top(self, ref: str) -> list[ProcessInfo]:
        record = self._running(ref)
        assert record.pid is not None
        try:
            return cgroups.processes(record.pid)
        except OSError as exc:  # it exited while we looked
            raise FailedPrecondition(f'container "{record.name}" is not running') from exc

    def _running(self, ref: str) -> ContainerRecord:
        record = self._refresh(self.store.find(ref))
        if record.state not in LIVE_STATES or record.pid is None:
            raise FailedPrecondition(f'container "{record.name}" is not running')
        return record

    @contextlib.contextmanager
    def mounted_bundle(self, ref: str) -> Iterator[Path]:
        """The container's bundle with its rootfs mounted (for copying files in and out);
        a stopped container's rootfs is mounted for the duration and unmounted after."""
        record = self._refresh(self.store.find(ref))
        bundle = self.bundle_dir(record.id)
        rootfs = Rootfs(bundle)
        if record.state in LIVE_STATES or is_mounted(rootfs.merged):
            yield bundle
            return
        rootfs.mount(self.images.layer_dirs(record.image_id))
        try:
            yield bundle
        finally:
            rootfs.unmount()

    # --- networks ----------------------------------------------------------------

    @_serialized
    def network_connect(self, container: str, endpoint: EndpointConfig) -> None:
        record = self._refresh(self.store.find(container))
        if network_mode(record.config) != "bridge":
            raise FailedPrecondition(f'container "{record.name}" uses network_mode '
                                     f'"{record.config.network_mode}": cannot connect networks')
        changed = self.net.connect(record, endpoint, live=record.state in LIVE_STATES)
        if changed is not None:
            self.store.update(replace(record, config=changed[0], networks=changed[1]),
                              fields=("config", "networks"))

    @_serialized
    def network_disconnect(self, container: str, network: str) -> None:
        record = self._refresh(self.store.find(container))
        config, endpoints = self.net.disconnect(record, network,
                                                live=record.state in LIVE_STATES)
        self.store.update(replace(record, config=config, networks=endpoints),
                          fields=("config", "networks"))

    # --- reconciliation ----------------------------------------------------------

    def reconcile(self) -> list[str]:
        """Look at every live container: record exits (with their codes), release what
        exited containers held (runc state, mounts, sandboxes), remove auto-remove ones.
        The engine does this lazily on each look; a supervisor (stackd) calls this
        periodically so nothing waits for a look. Returns the ids found exited."""
        exited = []
        for record in self.store.all():
            if record.state in LIVE_STATES:
                after = self._refresh(record)
                if after.state not in LIVE_STATES:
                    exited.append(record.id)
        return exited

    def _refresh(self, record: ContainerRecord, *, restarting: bool = False) -> ContainerRecord:
        observed = state.observe(record, monitor=self.monitor(record.id), runc=self.runc)
        if observed is None:
            return record
        if observed.state in (ContainerState.RUNNING, ContainerState.PAUSED):
            updated = replace(record, state=observed.state)
            self.store.update(updated, fields=("state",), expect_state=record.state)
            return self.store.get(record.id)
        final = observed.state
        if restarting and final == ContainerState.EXITED:
            final = ContainerState.RESTARTING
        return self._record_exit(record, exit_code=observed.exit_code,
                                 finished_at=observed.finished_at, state=final)

    def _record_exit(self, record: ContainerRecord, *, exit_code: int | None,
                     finished_at: float | None, state: ContainerState) -> ContainerRecord:
        exited = replace(record, state=state, exit_code=exit_code, finished_at=finished_at,
                         error="" if state != ContainerState.DEAD else
                         "the container's monitor (conmon) died without recording an exit")
        with self.locks.hold(record.id):
            # Compare-and-set on (state, started_at): of several reconcilers only one wins,
            # and a run started meanwhile (new started_at) is never torn down.
            if not self.store.update(exited, fields=("state", "exit_code", "finished_at", "error"),
                                     expect_state=record.state,
                                     expect_started_at=record.started_at):
                return self.store.get(record.id)
            self._emit("die", exited, exitCode=str(exit_code))
            self._teardown(exited)
            if exited.config.auto_remove and state != ContainerState.RESTARTING:
                self._delete(exited, volumes=True)
        return exited

    def _teardown(self, record: ContainerRecord) -> None:
        """Release a stopped container's run-time resources. Idempotent, best effort
        for the network (it must not block removal), strict for the rootfs."""
        # runc keeps its state in <runc_root>/<id>: nothing there, nothing to delete.
        if (self.config.runc_root / record.id).exists():
            try:
                self.runc.delete(record.id, force=True)
            except EngineError as exc:
                log.warning("container %s: runc delete: %s", record.name, exc)
        self.net.teardown(record)
        Rootfs(self.bundle_dir(record.id)).unmount()

    def _emit(self, action: str, record: ContainerRecord, **extra: str) -> None:
        attributes = {"name": record.name, "image": record.image, **record.config.labels, **extra}
        self.events.emit("container", action, record.id, attributes)


# Longer than the supervisor's longest back-off (stackd restarts within a minute).
RESTART_GRACE = 65.0


def _restart_pending(record: ContainerRecord) -> bool:
    """Whether a supervisor will start this exited container again soon (its restart
    policy says so and nobody stopped it): a log follower keeps waiting for that run."""
    policy = record.config.restart.name
    if record.state != ContainerState.EXITED or policy == "no" or record.stop_requested:
        return False
    if policy == "on-failure" and record.exit_code == 0:
        return False
    return time.time() - (record.finished_at or 0.0) < RESTART_GRACE


def _init_binary() -> Path | None:
    for name in INIT_CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def _has_swap_accounting() -> bool:
    v1 = Path("/sys/fs/cgroup/memory")
    if v1.is_dir():
        return (v1 / "memory.memsw.limit_in_bytes").exists()
    return True

