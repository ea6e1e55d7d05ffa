"""Restart policies and healthchecks, run by a real stackd over real runc/conmon."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from runtime.api import (
    ContainerConfig,
    ContainerState,
    Healthcheck,
    HealthStatus,
    ImageInfo,
    RestartPolicy,
)
from tests.integration.containers.harness import conmon_pids
from tests.integration.daemon.stackd_harness import StackdProcess

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]


def busybox(name: str, script: str, **kwargs: object) -> ContainerConfig:
    return ContainerConfig(name=name, image="busybox:latest", command=("sh", "-c", script),
                           network_mode="none", **kwargs)  # type: ignore[arg-type]


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def starts(stackd: StackdProcess, name: str, since: float) -> int:
    events = stackd.client.events(since=since, until=time.time(),
                                  filters={"container": name, "event": "start"})
    return sum(1 for _ in events)


def test_on_failure_3_restarts_exactly_three_times(busybox_image: ImageInfo,
                                                   stackd: StackdProcess) -> None:
    client = stackd.client
    t0 = time.time()
    client.container_create(busybox("flaky", "exit 1", restart=RestartPolicy(
        name="on-failure", max_attempts=3)))
    client.container_start("flaky")

    def settled() -> bool:
        info = client.container_inspect("flaky")
        return info.restart_count == 3 and info.state == ContainerState.EXITED
    wait_for("three restarts", settled)
    time.sleep(1.5)  # longer than the next back-off would be: nothing more happens
    info = client.container_inspect("flaky")
    assert (info.state, info.exit_code, info.restart_count) == (ContainerState.EXITED, 1, 3)
    assert starts(stackd, "flaky", t0) == 4


def test_always_restarts_a_crash_but_not_a_user_stop(busybox_image: ImageInfo,
                                                     stackd: StackdProcess) -> None:
    client = stackd.client
    client.container_create(busybox("svc", "sleep 60", restart=RestartPolicy(name="always")))
    client.container_start("svc")
    first = client.container_inspect("svc")
    assert first.pid is not None
    os.kill(first.pid, signal.SIGKILL)  # a crash nobody asked for

    def restarted() -> bool:
        info = client.container_inspect("svc")
        return info.state == ContainerState.RUNNING and info.restart_count == 1
    wait_for("the restart after a crash", restarted)
    client.container_stop("svc", timeout=1)
    time.sleep(1.5)
    info = client.container_inspect("svc")
    assert info.state == ContainerState.EXITED and info.restart_count == 1


def test_no_policy_leaves_an_exit_alone(busybox_image: ImageInfo, stackd: StackdProcess) -> None:
    client = stackd.client
    client.container_create(busybox("once", "exit 4"))
    client.container_start("once")
    wait_for("the exit", lambda: client.container_inspect("once").state == ContainerState.EXITED)
    time.sleep(0.8)
    info = client.container_inspect("once")
    assert (info.state, info.exit_code, info.restart_count) == (ContainerState.EXITED, 4, 0)


def test_unless_stopped_survives_a_daemon_restart(busybox_image: ImageInfo,
                                                  stackd: StackdProcess) -> None:
    client = stackd.client
    policy = RestartPolicy(name="unless-stopped")
    for name in ("up", "down"):
        client.container_create(busybox(name, "sleep 60", restart=policy))
        client.container_start(name)
    client.container_create(busybox("back", "sleep 60", restart=RestartPolicy(name="always")))
    client.container_start("back")
    for name in ("down", "back"):
        client.container_stop(name, timeout=1)
    before = client.container_inspect("up")

    assert stackd.stop() == 0  # a clean daemon restart ...
    stackd.start()
    time.sleep(1.0)
    up, down = client.container_inspect("up"), client.container_inspect("down")
    assert up.state == ContainerState.RUNNING and up.started_at == before.started_at
    assert down.state == ContainerState.EXITED  # ... does not start what the user stopped
    wait_for("'always' to come back after the daemon restart",  # (Docker's rule)
             lambda: client.container_inspect("back").state == ContainerState.RUNNING)
    assert up.pid is not None
    os.kill(up.pid, signal.SIGKILL)  # the new daemon supervises the adopted container
    wait_for("the adopted container's restart",
             lambda: client.container_inspect("up").restart_count == 1
             and client.container_inspect("up").state == ContainerState.RUNNING)


def test_health_goes_starting_healthy_unhealthy(busybox_image: ImageInfo,
                                               stackd: StackdProcess) -> None:
    client = stackd.client
    t0 = time.time()
    check = Healthcheck(test=("CMD-SHELL", "cat /tmp/ok"), interval=0.3, timeout=5,
                        retries=2, start_period=0, start_interval=0.3)
    client.container_create(busybox("web", "echo fine > /tmp/ok; sleep 60", healthcheck=check))
    client.container_start("web")
    assert client.container_inspect("web").health in (HealthStatus.STARTING,
                                                       HealthStatus.HEALTHY)
    wait_for("healthy", lambda: client.container_inspect("web").health == HealthStatus.HEALTHY)
    healthy = client.container_inspect("web")
    assert healthy.health_log[-1].exit_code == 0 and healthy.health_log[-1].output == "fine\n"

    client.container_exec("web", ["rm", "/tmp/ok"])  # the probe starts failing
    wait_for("unhealthy",
             lambda: client.container_inspect("web").health == HealthStatus.UNHEALTHY)
    wait_for("five results kept", lambda: len(client.container_inspect("web").health_log) == 5)
    time.sleep(0.7)  # more probes: still only the last five
    info = client.container_inspect("web")
    assert len(info.health_log) == 5 and info.health_log[-1].exit_code != 0
    actions = [e.action for e in client.events(since=t0, until=time.time(),
                                               filters={"container": "web"})]
    health = [a for a in actions if a.startswith("health_status")]
    assert health == ["health_status: healthy", "health_status: unhealthy"]


def test_the_image_healthcheck_applies_and_none_disables_it(busybox_image: ImageInfo,
                                                            stackd: StackdProcess) -> None:
    client = stackd.client
    client.container_create(busybox("plain", "sleep 60"))  # busybox has no HEALTHCHECK
    client.container_create(busybox("off", "sleep 60", healthcheck=Healthcheck(test=("NONE",))))
    for name in ("plain", "off"):
        client.container_start(name)
    time.sleep(0.5)
    assert client.container_inspect("plain").health == HealthStatus.NONE
    assert client.container_inspect("off").health == HealthStatus.NONE


def test_kill_9_of_the_daemon_stops_no_container(busybox_image: ImageInfo,
                                                 stackd: StackdProcess) -> None:
    client = stackd.client
    for i in range(4):
        client.container_create(busybox(f"run{i}", "sleep 60"))
        client.container_start(f"run{i}")
    client.container_create(busybox("quits", "sleep 2; exit 3",
                                    restart=RestartPolicy(name="on-failure", max_attempts=1)))
    client.container_start("quits")
    assert stackd.proc is not None
    daemon_sid = os.getsid(stackd.proc.pid)
    monitors = conmon_pids(stackd.config.run_dir)
    assert len(monitors) == 5
    assert all(os.getsid(pid) != daemon_sid and os.getpgid(pid) != stackd.proc.pid
               for pid in monitors)

    stackd.kill9()
    time.sleep(2.5)  # "quits" exits while no daemon watches
    assert len(conmon_pids(stackd.config.run_dir)) >= 4  # the others never noticed
    restarted_at = time.time()
    stackd.start()

    def settled() -> bool:
        # exited again AFTER the restart (not the first, missed exit: that one reads
        # "restarting" until the new run has started)
        info = client.container_inspect("quits")
        return (info.restart_count == 1 and info.state == ContainerState.EXITED
                and (info.started_at or 0) >= restarted_at)
    wait_for("the missed exit's restart, and its second exit", settled)
    infos = {c.name: c for c in client.container_list(all=True)}
    assert sorted(n for n, c in infos.items() if c.state == ContainerState.RUNNING) == [
        f"run{i}" for i in range(4)]
    assert infos["quits"].exit_code == 3


def test_a_probe_past_its_timeout_is_killed_with_what_it_started(busybox_image: ImageInfo,
                                                                 stackd: StackdProcess) -> None:
    client = stackd.client
    # The probe's shell stays (two commands) and starts a background child: all must go.
    check = Healthcheck(test=("CMD-SHELL", "sleep 31 & sleep 30; echo late"), interval=60,
                        timeout=0.5, retries=1, start_period=0, start_interval=60)
    client.container_create(busybox("hung", "sleep 60", healthcheck=check))
    client.container_start("hung")
    wait_for("the probe's result", lambda: len(client.container_inspect("hung").health_log) == 1)
    info = client.container_inspect("hung")
    [probe] = info.health_log
    assert (probe.exit_code, probe.output) == (-1, "Health check exceeded timeout (500ms)")
    assert probe.end - probe.start < 5
    assert info.health == HealthStatus.UNHEALTHY
    # Only the container's own process is left (the next probe is a minute away).
    assert [p.command for p in client.container_top("hung")] == ["sleep 60"]


def test_restarting_during_the_back_off_then_running(busybox_image: ImageInfo,
                                                     stackd: StackdProcess) -> None:
    client = stackd.client
    client.container_create(busybox("flap", "sleep 1; exit 1", restart=RestartPolicy(
        name="on-failure", max_attempts=1, delay=2.0)))
    client.container_start("flap")
    wait_for("the back-off",
             lambda: client.container_inspect("flap").state == ContainerState.RESTARTING)
    info = client.container_inspect("flap")
    assert (info.exit_code, info.restart_count) == (1, 0)
    assert info.finished_at is not None
    exited_at = info.finished_at
    listed = {c.name: c for c in client.container_list()}  # listed without --all, as docker ps
    assert listed["flap"].state == ContainerState.RESTARTING
    while (info := client.container_inspect("flap")).state == ContainerState.RESTARTING:
        assert time.time() - exited_at < 10, "still restarting long after the delay"
        time.sleep(0.05)
    # No "exited" in between (the new count with the old exit): straight to the new run.
    assert (info.state, info.restart_count) == (ContainerState.RUNNING, 1), info
    assert info.started_at is not None and info.started_at - exited_at >= 1.9
    wait_for("the second exit, the last (max_attempts=1)",
             lambda: client.container_inspect("flap").state == ContainerState.EXITED)
    time.sleep(0.5)
    info = client.container_inspect("flap")
    assert (info.state, info.exit_code, info.restart_count) == (ContainerState.EXITED, 1, 1)
    assert "flap" not in {c.name for c in client.container_list()}


def test_a_stop_during_the_back_off_cancels_the_restart(busybox_image: ImageInfo,
                                                        stackd: StackdProcess) -> None:
    client = stackd.client
    t0 = time.time()
    client.container_create(busybox("stopme", "exit 1", restart=RestartPolicy(
        name="on-failure", delay=2.0)))
    client.container_start("stopme")
    wait_for("the back-off",
             lambda: client.container_inspect("stopme").state == ContainerState.RESTARTING)
    client.container_stop("stopme", timeout=1)
    info = client.container_inspect("stopme")
    assert (info.state, info.exit_code, info.restart_count) == (ContainerState.EXITED, 1, 0)
    time.sleep(2.5)  # past the delay: nothing starts it
    info = client.container_inspect("stopme")
    assert (info.state, info.restart_count) == (ContainerState.EXITED, 0)
    assert starts(stackd, "stopme", t0) == 1
