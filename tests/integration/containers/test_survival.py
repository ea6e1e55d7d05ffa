"""Containers outlive the process that started them; a new engine sees the truth."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from runtime.api import ContainerState
from runtime.config import EngineConfig
from runtime.containers.rootfs import is_mounted
from runtime.containers.service import ContainerService
from tests.integration.containers.harness import busybox

pytestmark = pytest.mark.root

# Starts two containers with a fresh engine, reports, then waits to be killed.
STARTER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from runtime.api import ContainerConfig
    from runtime.config import EngineConfig
    from runtime.engine import LocalEngine
    from runtime.containers.service import ContainerService
    from tests.integration.containers.harness import _EngineNetworks
    cfg = EngineConfig(state_root=Path(sys.argv[1]), run_dir=Path(sys.argv[2]))
    eng = LocalEngine(cfg)
    svc = ContainerService(cfg, eng.metadata, eng.event_log, images=eng.images,
                           volumes=eng.volumes, networks=_EngineNetworks(eng))
    for name, script in (("long", "sleep 60"), ("short", "sleep 1.5; exit 9")):
        svc.container_create(ContainerConfig(name=name, image="busybox:latest",
                                             command=("sh", "-c", script), network_mode="none"))
        svc.container_start(name)
    print("started", flush=True)
    time.sleep(600)
""")


def test_containers_survive_a_killed_engine(containers: ContainerService,
                                            engine_config: EngineConfig) -> None:
    proc = subprocess.Popen([sys.executable, "-c", STARTER, str(engine_config.state_root),
                             str(engine_config.run_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
    finally:
        proc.send_signal(signal.SIGKILL)  # the engine dies without any clean-up
        proc.wait()
    # A different engine instance (this test's) sees both running.
    states = {c.name: c.state for c in containers.container_list(all=True)}
    assert states == {"long": ContainerState.RUNNING, "short": ContainerState.RUNNING}
    # "short" exits while no engine looks; conmon records its code for whoever asks next.
    time.sleep(2.0)
    short_id = containers.store.find("short").id
    merged = containers.bundle_dir(short_id) / "merged"
    assert is_mounted(merged)
    assert containers.reconcile() == [short_id]  # what a supervisor calls now and then
    assert not is_mounted(merged)
    short = containers.container_inspect("short")
    assert (short.state, short.exit_code) == (ContainerState.EXITED, 9)
    assert containers.container_inspect("long").state == ContainerState.RUNNING
    containers.container_stop("long")
    assert containers.container_inspect("long").exit_code == 137


def test_die_events_are_recorded_once(containers: ContainerService) -> None:
    containers.container_create(busybox("ev", "sh", "-c", "exit 3"))
    since = time.time() - 1
    containers.container_start("ev")
    containers.container_wait("ev", timeout=10)
    for _ in range(3):  # more looks do not make more events
        containers.container_inspect("ev")
    events = [(e.action, dict(e.attributes).get("exitCode"))
              for e in containers.events.stream(since=since, filters={"container": "ev"})]
    assert events == [("create", None), ("start", None), ("die", "3")]


def test_monitor_leaves_the_starters_cgroup(containers: ContainerService) -> None:
    """A service manager that kills the engine's cgroup must not take the monitors along."""
    containers.container_create(busybox("mon", "sleep", "30"))
    containers.container_start("mon")
    conmon_pid = containers.monitor(containers.store.find("mon").id).conmon_pid()
    with open(f"/proc/{conmon_pid}/cgroup") as f:
        tracking = [line for line in f if line.split(":")[1] in ("", "name=systemd")]
    assert tracking and all(line.rstrip().endswith("/stack-conmon") for line in tracking)
