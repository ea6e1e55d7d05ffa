"""Stop: the signal, the grace period, SIGKILL, and no waiting when the signal cannot work."""

from __future__ import annotations

import time

import pytest

from runtime.api import ContainerState
from runtime.containers.service import ContainerService
from tests.integration.containers.harness import busybox

pytestmark = pytest.mark.root

TRAPPING = "trap 'echo got TERM' TERM; echo ready; while true; do sleep 0.1; done"


def _wait_for_log(containers: ContainerService, ref: str, text: str) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if any(text in e.data.decode() for e in containers.container_logs(ref)):
            return
        time.sleep(0.02)
    raise AssertionError(f"{text!r} never appeared in the logs of {ref}")


def _timed_stop(containers: ContainerService, ref: str, **kwargs: float) -> float:
    start = time.monotonic()
    containers.container_stop(ref, **kwargs)  # type: ignore[arg-type]
    return time.monotonic() - start


def test_pid1_without_handler_stops_at_once(containers: ContainerService) -> None:
    containers.container_create(busybox("sleeper", "sleep", "3600"))
    containers.container_start("sleeper")
    elapsed = _timed_stop(containers, "sleeper")
    info = containers.container_inspect("sleeper")
    assert info.state == ContainerState.EXITED and info.exit_code == 137
    assert elapsed < 0.8, f"stop took {elapsed:.2f} s"


def test_pid1_under_init_stops_at_once_by_term(containers: ContainerService) -> None:
    containers.container_create(busybox("tini", "sleep", "3600", init=True))
    containers.container_start("tini")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        commands = sorted(p.command for p in containers.container_top("tini"))
        if "sleep 3600" in commands:
            break
        time.sleep(0.02)
    assert commands == ["/sbin/docker-init -- sleep 3600", "sleep 3600"]
    elapsed = _timed_stop(containers, "tini")
    info = containers.container_inspect("tini")
    # tini forwarded SIGTERM; sleep died of it (128 + 15): no SIGKILL was needed.
    assert info.exit_code == 143
    assert elapsed < 0.8, f"stop took {elapsed:.2f} s"


def test_handler_that_ignores_term_is_killed_after_grace(containers: ContainerService) -> None:
    containers.container_create(busybox("stubborn", "sh", "-c", TRAPPING, stop_timeout=1))
    containers.container_start("stubborn")
    _wait_for_log(containers, "stubborn", "ready")
    elapsed = _timed_stop(containers, "stubborn")
    assert 0.9 < elapsed < 3, f"stop took {elapsed:.2f} s"
    assert containers.container_inspect("stubborn").exit_code == 137
    _wait_for_log(containers, "stubborn", "got TERM")


def test_handler_that_exits_on_term_is_not_killed(containers: ContainerService) -> None:
    script = "trap 'echo bye; exit 0' TERM; echo ready; while true; do sleep 0.1; done"
    containers.container_create(busybox("polite", "sh", "-c", script))
    containers.container_start("polite")
    _wait_for_log(containers, "polite", "ready")
    elapsed = _timed_stop(containers, "polite")
    assert containers.container_inspect("polite").exit_code == 0
    assert elapsed < 2


def test_custom_stop_signal_and_kill(containers: ContainerService) -> None:
    script = "trap 'echo usr1; exit 5' USR1; echo ready; while true; do sleep 0.1; done"
    containers.container_create(busybox("sig", "sh", "-c", script, stop_signal="SIGUSR1"))
    containers.container_start("sig")
    _wait_for_log(containers, "sig", "ready")
    containers.container_stop("sig")
    assert containers.container_inspect("sig").exit_code == 5
    containers.container_start("sig")
    containers.container_kill("sig")
    info = containers.container_inspect("sig")
    assert (info.state, info.exit_code) == (ContainerState.EXITED, 137)
