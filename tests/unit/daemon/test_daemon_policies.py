"""Pure decisions of the supervisor and the health monitor."""

from __future__ import annotations

import dataclasses

import pytest
from daemon_fake_engine import container

from runtime import api
from runtime.daemon.health import next_status, probe_argv
from runtime.daemon.supervision_store import Supervised
from runtime.daemon.supervisor import backoff, wants_restart


def _exited(policy: api.RestartPolicy, code: int) -> api.ContainerInfo:
    info = container()
    config = dataclasses.replace(info.config, restart=policy)
    return dataclasses.replace(info, config=config, state=api.ContainerState.EXITED,
                               exit_code=code)


def test_backoff_doubles_from_100ms_and_caps_at_a_minute() -> None:
    policy = api.RestartPolicy(name="always")
    assert [backoff(failures=n, policy=policy) for n in range(4)] == [0.1, 0.2, 0.4, 0.8]
    assert backoff(failures=20, policy=policy) == 60.0
    assert backoff(failures=10_000, policy=policy) == 60.0
    assert backoff(failures=1, policy=api.RestartPolicy(name="always", delay=2.0)) == 4.0


@pytest.mark.parametrize(("policy", "code", "attempts", "stopped", "expected"), [
    (api.RestartPolicy(name="no"), 1, 0, False, False),
    (api.RestartPolicy(name="always"), 0, 0, False, True),
    (api.RestartPolicy(name="always"), 1, 50, False, True),
    (api.RestartPolicy(name="always"), 1, 0, True, False),
    (api.RestartPolicy(name="unless-stopped"), 0, 0, False, True),
    (api.RestartPolicy(name="unless-stopped"), 0, 0, True, False),
    (api.RestartPolicy(name="on-failure"), 0, 0, False, False),
    (api.RestartPolicy(name="on-failure"), 3, 99, False, True),
    (api.RestartPolicy(name="on-failure", max_attempts=3), 1, 2, False, True),
    (api.RestartPolicy(name="on-failure", max_attempts=3), 1, 3, False, False),
    (api.RestartPolicy(name="on-failure", max_attempts=3), 1, 0, True, False),
])
def test_wants_restart(policy: api.RestartPolicy, code: int, attempts: int, stopped: bool,
                       expected: bool) -> None:
    item = Supervised(id="c", attempts=attempts, user_stopped_at=5.0 if stopped else None)
    assert wants_restart(_exited(policy, code), item) is expected


def test_a_user_stop_applies_to_the_run_it_ended_only() -> None:
    item = Supervised(id="c", user_stopped_at=10.0)
    assert item.stopped_during(5.0) and item.stopped_during(None)
    assert not item.stopped_during(11.0)  # started again later (by anyone): a new run
    assert not Supervised(id="c").stopped_during(5.0)


def test_probe_commands() -> None:
    assert probe_argv(api.Healthcheck(test=("CMD", "curl", "-f", "x"))) == ["curl", "-f", "x"]
    assert probe_argv(api.Healthcheck(test=("CMD-SHELL", "test -f /ok"))) == [
        "/bin/sh", "-c", "test -f /ok"]
    assert probe_argv(api.Healthcheck(test=("NONE",))) is None
    assert probe_argv(api.Healthcheck(test=())) is None
    assert probe_argv(api.Healthcheck(test=("CMD",))) is None


def test_health_transitions() -> None:
    s, h, u = api.HealthStatus.STARTING, api.HealthStatus.HEALTHY, api.HealthStatus.UNHEALTHY
    assert next_status(current=s, streak=0, ok=True, in_start_period=True, retries=3) == (h, 0)
    # failures inside the start period do not count
    assert next_status(current=s, streak=0, ok=False, in_start_period=True, retries=1) == (s, 0)
    assert next_status(current=h, streak=0, ok=False, in_start_period=False, retries=2) == (h, 1)
    assert next_status(current=h, streak=1, ok=False, in_start_period=False, retries=2) == (u, 2)
    assert next_status(current=u, streak=5, ok=True, in_start_period=False, retries=2) == (h, 0)
    assert next_status(current=s, streak=0, ok=False, in_start_period=False, retries=0) == (u, 1)


def test_health_log_keeps_the_last_five() -> None:
    item = Supervised(id="c")
    for i in range(7):
        item = item.with_probe(api.HealthLogEntry(start=i, end=i, exit_code=0, output=str(i)))
    assert [e.output for e in item.health_log] == ["2", "3", "4", "5", "6"]
