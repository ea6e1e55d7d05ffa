"""Attach to a container's main process through a real stackd: the API (``container_attach``)
on its unix socket, and `stack container run -i/-it`, `start -a`, `attach` over TLS TCP."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.api import ContainerConfig, ContainerState, ImageInfo
from runtime.config import EngineConfig
from runtime.errors import NotFound
from tests.integration.daemon.pki import make_pki
from tests.integration.daemon.stackd_harness import StackdProcess, cleanup_engine, drain
from tests.terminal import run_on_terminal

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]


def _box(name: str, *cmd: str, stdin_open: bool = False, tty: bool = False) -> ContainerConfig:
    return ContainerConfig(name=name, image="busybox:latest", command=cmd, network_mode="none",
                           stdin_open=stdin_open, tty=tty)


def test_attach_before_start_misses_nothing_and_passes_stdin(busybox_image: ImageInfo,
                                                            stackd: StackdProcess) -> None:
    client = stackd.client
    client.container_create(_box("early", "sh", "-c", "echo early; cat; echo err >&2; exit 5",
                                 stdin_open=True))
    session = client.container_attach("early", stdin=True)
    try:
        session.send(b"typed\n")  # before the start: kept until the process is there
        client.container_start("early")
        session.close_stdin()
        assert drain(session) == ({"stdout": b"early\ntyped\n", "stderr": b"err\n"}, 5)
    finally:
        session.close()

    # Attached again and started again: this run's output only, not the first run's.
    again = client.container_attach("early", stdin=True)
    try:
        client.container_start("early")
        again.send(b"second\n")
        again.close_stdin()
        assert drain(again) == ({"stdout": b"early\nsecond\n", "stderr": b"err\n"}, 5)
    finally:
        again.close()

    with pytest.raises(NotFound):
        client.container_attach("ghost")


def test_leaving_an_attach_leaves_the_container_running(busybox_image: ImageInfo,
                                                       stackd: StackdProcess) -> None:
    client = stackd.client
    client.container_create(_box("stay", "sh", "-c", "while true; do echo tick; sleep 0.1; done"))
    client.container_start("stay")
    session = client.container_attach("stay")
    chunk = session.read()
    while chunk is None:
        chunk = session.read()
    assert chunk.stream == "stdout" and b"tick" in chunk.data
    session.close()
    time.sleep(0.5)
    assert client.container_inspect("stay").state == ContainerState.RUNNING


# --- the CLI over TLS TCP ------------------------------------------------------------


@pytest.fixture
def remote(busybox_image: ImageInfo, engine_config: EngineConfig,
           short_tmp: Path) -> Iterator[tuple[StackdProcess, list[str]]]:
    """stackd on TCP with TLS; the `stack` command line that reaches it."""
    (short_tmp / "pki").mkdir()
    pki = make_pki(short_tmp / "pki")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    daemon = StackdProcess(engine_config, short_tmp)
    try:
        daemon.start("-H", f"unix://{engine_config.socket_path}", "-H", address,
                     "--tlscacert", str(pki["ca"]), "--tlscert", str(pki["server"]),
                     "--tlskey", str(pki["server_key"]))
        yield daemon, [sys.executable, "-m", "orchestrator.cli.main", "-H", address,
                       "--tlscacert", str(pki["ca"]), "--tlscert", str(pki["client"]),
                       "--tlskey", str(pki["client_key"])]
    finally:
        daemon.client.close()
        print(f"--- stackd log ---\n{daemon.log()}")
        daemon.stop()
        cleanup_engine(engine_config, short_tmp)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("STACK_ENGINE", "STACK_HOST")}


def test_run_i_pipes_stdin_through_a_remote_daemon(
        remote: tuple[StackdProcess, list[str]]) -> None:
    daemon, stack = remote
    piped = subprocess.run([*stack, "container", "run", "-i", "--rm", "--network", "none",
                            "busybox", "cat"], input=b"hello\n", capture_output=True,
                           env=_env(), timeout=60, check=False)
    assert (piped.returncode, piped.stdout) == (0, b"hello\n"), piped.stderr
    plain = subprocess.run([*stack, "container", "run", "--rm", "--network", "none", "busybox",
                            "sh", "-c", "echo out; echo err >&2; exit 7"],
                           capture_output=True, env=_env(), timeout=60, check=False)
    assert (plain.returncode, plain.stdout, plain.stderr) == (7, b"out\n", b"err\n")
    assert daemon.client.container_list(all=True) == []  # --rm

    # start -a -i: a stopped container again in the foreground, with this run's output only.
    daemon.client.container_create(_box("again", "sh", "-c", "read x; echo got:$x",
                                        stdin_open=True))
    for word in (b"one", b"two"):
        run = subprocess.run([*stack, "container", "start", "-a", "-i", "again"],
                             input=word + b"\n", capture_output=True, env=_env(), timeout=60,
                             check=False)
        assert (run.returncode, run.stdout) == (0, b"got:" + word + b"\n"), run.stderr

    # attach to a running one: its output from now on, stdin to it, its exit code.
    daemon.client.container_create(_box("late", "sh", "-c", "echo before; read x; exit 4",
                                        stdin_open=True))
    daemon.client.container_start("late")
    attach = subprocess.run([*stack, "container", "attach", "late"], input=b"go\n",
                            capture_output=True, env=_env(), timeout=60, check=False)
    assert (attach.returncode, attach.stdout) == (4, b""), attach.stderr
    refused = subprocess.run([*stack, "container", "attach", "late"], capture_output=True,
                             env=_env(), timeout=60, check=False)
    assert refused.returncode != 0 and b"is not running" in refused.stderr
    assert b"Traceback" not in refused.stderr


def test_run_it_under_a_terminal_through_a_remote_daemon(
        remote: tuple[StackdProcess, list[str]]) -> None:
    _, stack = remote
    argv = [*stack, "container", "run", "-it", "--rm", "--network", "none",
            "busybox", "sh", "-c", "echo ready; read x; echo got:$x; exit 3"]
    # "ready" is written at once: not lost to the start
    output, code = run_on_terminal(argv, env=_env(), prompt=b"ready", answer=b"abc\r")
    assert b"got:abc" in output, output
    assert code == 3, output


def test_attach_to_an_auto_remove_container_gets_its_output_and_exit_code(
        busybox_image: ImageInfo, stackd: StackdProcess) -> None:
    """`run -d --rm -i`, then `attach`: the exit removes the container, but the session
    still ends with what it wrote last and its exit code (docker attach does)."""
    client = stackd.client
    config = _box("gone", "sh", "-c", "cat; echo last; exit 7", stdin_open=True)
    client.container_create(dataclasses.replace(config, auto_remove=True))
    session = client.container_attach("gone", stdin=True)
    try:
        client.container_start("gone")
        session.send(b"typed\n")
        session.close_stdin()
        assert drain(session) == ({"stdout": b"typed\nlast\n", "stderr": b""}, 7)
    finally:
        session.close()
