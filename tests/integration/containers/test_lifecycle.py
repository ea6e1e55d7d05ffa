"""Create, start, exit codes, logs, exec, wait, pause, restart, remove: real runc and conmon."""

from __future__ import annotations

import time

import pytest

from runtime.api import ContainerState
from runtime.containers.service import ContainerService
from runtime.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from tests.integration.containers.harness import busybox

pytestmark = pytest.mark.root


def _logs(containers: ContainerService, ref: str) -> str:
    return "\n".join(e.data.decode() for e in containers.container_logs(ref))


def test_runs_prints_and_exits_with_its_code(containers: ContainerService) -> None:
    info = containers.container_create(busybox("hello", "sh", "-c", "echo hello; echo oops >&2; exit 7"))
    assert len(info.id) == 64 and info.state == ContainerState.CREATED
    containers.container_start("hello")
    assert containers.container_wait("hello", timeout=10) == 7
    done = containers.container_inspect(info.id[:10])
    assert done.state == ContainerState.EXITED and done.exit_code == 7
    assert done.started_at is not None and done.finished_at is not None
    entries = list(containers.container_logs("hello"))
    assert [(e.stream, e.data) for e in entries] == [("stdout", b"hello"), ("stderr", b"oops")]
    assert all(abs(e.time - time.time()) < 60 for e in entries)


def test_refs_names_and_errors(containers: ContainerService) -> None:
    containers.container_create(busybox("one", "true"))
    with pytest.raises(Conflict, match='container name "one" is already in use'):
        containers.container_create(busybox("one", "true"))
    with pytest.raises(NotFound, match='container "nope" not found'):
        containers.container_inspect("nope")
    with pytest.raises(InvalidArgument, match="invalid"):
        containers.container_create(busybox("bad name!", "true"))
    with pytest.raises(NotFound):
        containers.container_create(busybox("x", "true", image="nosuch:image"))


def test_exec_env_user_workdir_and_stdin(containers: ContainerService) -> None:
    containers.container_create(busybox("ex", "sleep", "30", env={"A": "1"}))
    containers.container_start("ex")
    r = containers.container_exec("ex", ["sh", "-c", "echo $A $B; id -u; pwd; exit 4"],
                                  env={"B": "2"}, user="nobody", workdir="/tmp")
    assert (r.exit_code, r.stdout) == (4, b"1 2\n65534\n/tmp\n")
    r = containers.container_exec("ex", ["cat"], stdin=b"piped")
    assert (r.exit_code, r.stdout) == (0, b"piped")
    stats = containers.container_stats("ex")
    assert stats.pids >= 1 and stats.memory_usage > 0 and stats.memory_limit is None
    assert [p.command for p in containers.container_top("ex")] == ["sleep 30"]
    missing = containers.container_exec("ex", ["nosuch"])
    assert missing.exit_code == 127 and b"not found" in missing.stderr
    containers.container_stop("ex")
    with pytest.raises(FailedPrecondition, match='container "ex" is not running'):
        containers.container_exec("ex", ["true"])


def test_pause_unpause_restart_and_logs_across_runs(containers: ContainerService) -> None:
    containers.container_create(busybox("pr", "sh", "-c", "echo run; sleep 30"))
    containers.container_start("pr")
    containers.container_pause("pr")
    assert containers.container_inspect("pr").state == ContainerState.PAUSED
    containers.container_unpause("pr")
    assert containers.container_inspect("pr").state == ContainerState.RUNNING
    first_pid = containers.container_inspect("pr").pid
    containers.container_restart("pr", timeout=1)
    again = containers.container_inspect("pr")
    assert again.state == ContainerState.RUNNING and again.pid != first_pid
    deadline = time.monotonic() + 5
    while _logs(containers, "pr").count("run") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _logs(containers, "pr") == "run\nrun"
    with pytest.raises(FailedPrecondition, match="stop it first"):
        containers.container_remove("pr")
    containers.container_remove("pr", force=True)
    with pytest.raises(NotFound):
        containers.container_inspect("pr")


def test_list_filters_by_labels_and_state(containers: ContainerService) -> None:
    containers.container_create(busybox("a", "sleep", "30", labels={"io.stack.project": "p"}))
    containers.container_create(busybox("b", "true", labels={"io.stack.project": "q"}))
    containers.container_start("a")
    assert [c.name for c in containers.container_list()] == ["a"]
    assert {c.name for c in containers.container_list(all=True)} == {"a", "b"}
    assert [c.name for c in containers.container_list(all=True,
                                                      labels={"io.stack.project": "q"})] == ["b"]


def test_follow_keeps_going_across_restarts(containers: ContainerService) -> None:
    import threading

    containers.container_create(busybox("f", "sh", "-c", "echo start; sleep 30", stop_timeout=0))
    containers.container_start("f")
    seen: list[bytes] = []
    follower = threading.Thread(target=lambda: seen.extend(
        e.data for e in containers.container_logs("f", follow=True)))
    follower.start()
    try:
        containers.container_restart("f")
        deadline = time.monotonic() + 5
        while seen.count(b"start") < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert follower.is_alive()  # a restart does not end the stream
        containers.container_stop("f")
        follower.join(timeout=5)
        assert not follower.is_alive()  # a stop does
    finally:
        if containers.container_inspect("f").pid:
            containers.container_kill("f")
        follower.join(timeout=5)
    assert seen == [b"start", b"start"]


def test_list_sees_pauses_and_exits_without_asking_runc(
        containers: ContainerService, monkeypatch: pytest.MonkeyPatch) -> None:
    containers.container_create(busybox("fz", "sleep", "30"))
    containers.container_start("fz")
    # Paused behind the engine's back: the freezer says so (no runc state per container).
    containers.runc.pause(containers.store.find("fz").id)
    asked: list[str] = []
    real_state = containers.runc.state
    monkeypatch.setattr(containers.runc, "state", lambda cid: asked.append(cid) or real_state(cid))
    assert [c.state for c in containers.container_list()] == [ContainerState.PAUSED]
    containers.runc.resume(containers.store.find("fz").id)
    assert containers.container_inspect("fz").state == ContainerState.RUNNING
    assert asked == []
    containers.container_kill("fz", signal="KILL")
    assert containers.container_list() == []
    assert containers.container_inspect("fz").exit_code == 137
