"""Contract: containers through the Engine API (every implementation, same behaviour)."""

from __future__ import annotations

import time

import pytest

from runtime.api import ContainerConfig, ContainerState, Engine, Mount
from runtime.errors import Conflict, FailedPrecondition, NotFound

pytestmark = pytest.mark.root


def _config(name: str, *command: str, **kwargs: object) -> ContainerConfig:
    return ContainerConfig(name=name, image="busybox:latest", command=command,
                           network_mode="none", **kwargs)  # type: ignore[arg-type]


def test_create_start_inspect_wait_logs_remove(engine: Engine) -> None:
    created = engine.container_create(_config("c1", "sh", "-c", "echo one; echo two >&2; exit 5",
                                              labels={"io.stack.project": "k"}))
    assert created.state == ContainerState.CREATED and created.name == "c1"
    assert created.labels == {"io.stack.project": "k"}
    engine.container_start("c1")
    assert engine.container_wait("c1", timeout=20) == 5
    info = engine.container_inspect(created.id)
    assert (info.state, info.exit_code) == (ContainerState.EXITED, 5)
    assert [(e.stream, e.data) for e in engine.container_logs("c1")] == [
        ("stdout", b"one"), ("stderr", b"two")]
    assert [e.data for e in engine.container_logs("c1", tail=1)] == [b"two"]
    engine.container_remove("c1")
    with pytest.raises(NotFound):
        engine.container_inspect("c1")


def test_list_by_labels_and_running_only(engine: Engine) -> None:
    engine.container_create(_config("r", "sleep", "30", labels={"io.stack.project": "a"}))
    engine.container_create(_config("s", "true", labels={"io.stack.project": "b"}))
    engine.container_start("r")
    assert [c.name for c in engine.container_list()] == ["r"]
    assert [c.name for c in engine.container_list(all=True, labels={"io.stack.project": "b"})] == ["s"]
    assert {c.name for c in engine.container_list(all=True,
                                                  labels={"io.stack.project": ""})} == {"r", "s"}


def test_exec_and_stop(engine: Engine) -> None:
    engine.container_create(_config("e", "sleep", "30", env={"X": "y"}))
    engine.container_start("e")
    result = engine.container_exec("e", ["sh", "-c", "echo $X; exit 2"])
    assert (result.exit_code, result.stdout, result.stderr) == (2, b"y\n", b"")
    engine.container_stop("e")
    info = engine.container_inspect("e")
    assert info.state == ContainerState.EXITED and info.pid is None


def test_error_categories(engine: Engine) -> None:
    with pytest.raises(NotFound, match='container "ghost" not found'):
        engine.container_inspect("ghost")
    with pytest.raises(NotFound):
        engine.container_start("ghost")
    engine.container_create(_config("dup", "sleep", "30"))
    with pytest.raises(Conflict, match='container name "dup" is already in use'):
        engine.container_create(_config("dup", "true"))
    engine.container_start("dup")
    with pytest.raises(FailedPrecondition):
        engine.container_remove("dup")
    engine.container_remove("dup", force=True)


def test_kill_pause_restart_and_follow(engine: Engine) -> None:
    engine.container_create(_config("k", "sh", "-c", "echo up; sleep 30"))
    engine.container_start("k")
    engine.container_pause("k")
    assert engine.container_inspect("k").state == ContainerState.PAUSED
    engine.container_unpause("k")
    engine.container_restart("k", timeout=0)
    assert engine.container_inspect("k").state == ContainerState.RUNNING
    # The restarted shell must have printed before it is killed (a fast kill can win).
    deadline = time.monotonic() + 10
    while len(list(engine.container_logs("k"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    engine.container_kill("k", signal="KILL")
    assert engine.container_wait("k", timeout=10) == 137
    # Following a stopped container's log returns what it has and ends.
    assert [e.data for e in engine.container_logs("k", follow=True)] == [b"up", b"up"]
    with pytest.raises(FailedPrecondition):
        engine.container_kill("k")


def test_events_of_a_container(engine: Engine) -> None:
    since = time.time() - 1
    info = engine.container_create(_config("ev", "sh", "-c", "exit 3"))
    engine.container_start("ev")
    assert engine.container_wait("ev", timeout=10) == 3
    engine.container_remove("ev")
    actions = [(e.action, e.attributes.get("exitCode"))
               for e in engine.events(since=since, until=time.time() + 0.5,
                                      filters={"container": info.id})]
    assert actions == [("create", None), ("start", None), ("die", "3"), ("destroy", None)]


def test_file_mounts_carry_their_bytes(engine: Engine) -> None:
    """A "file" mount (secrets, configs): the bytes in the config, a read-only file at the
    target with the mode asked for (0444 when none), also after a restart."""
    files = (Mount(type="file", target="/run/secrets/token", content=b"t0ken\n"),
             Mount(type="file", target="/etc/app.conf", content=b"k=v\n", file_mode=0o440,
                   file_uid=1000))
    engine.container_create(_config("f", "sleep", "30", mounts=files))
    script = ("cat /run/secrets/token /etc/app.conf; stat -c '%a %u' /run/secrets/token "
              "/etc/app.conf; echo x > /run/secrets/token 2>/dev/null || echo ro")
    for _ in range(2):
        engine.container_start("f")
        result = engine.container_exec("f", ["sh", "-c", script])
        assert result.stdout == b"t0ken\nk=v\n444 0\n440 1000\nro\n"
        engine.container_stop("f", timeout=1)
    assert engine.container_inspect("f").config.mounts == files
