"""Interactive exec through a real stackd: the WebSocket attach, and `stack container exec -it`."""

from __future__ import annotations

import os
import sys

import pytest

from runtime.api import ContainerConfig, ImageInfo
from runtime.errors import FailedPrecondition, NotFound
from tests.integration.daemon.stackd_harness import StackdProcess, drain
from tests.terminal import run_on_terminal

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]


def _sleeper(stackd: StackdProcess, name: str) -> None:
    stackd.client.container_create(ContainerConfig(name=name, image="busybox:latest",
                                                   command=("sleep", "60"), network_mode="none"))
    stackd.client.container_start(name)


def test_attach_with_pipes_and_with_a_terminal(busybox_image: ImageInfo,
                                               stackd: StackdProcess) -> None:
    _sleeper(stackd, "at")
    client = stackd.client
    piped = client.container_exec_attach("at", ["sh", "-c", "cat; echo err >&2; exit 4"])
    try:
        piped.send(b"typed\n")
        piped.close_stdin()
        assert drain(piped) == ({"stdout": b"typed\n", "stderr": b"err\n"}, 4)
    finally:
        piped.close()

    term = client.container_exec_attach("at", ["sh", "-c", "stty size; read line; echo got $line"],
                                        tty=True, rows=33, cols=101)
    try:
        term.send(b"abc\r")
        out, code = drain(term)
    finally:
        term.close()
    assert code == 0
    assert b"33 101" in out["stdout"] and b"got abc" in out["stdout"]

    with pytest.raises(NotFound):
        client.container_exec_attach("ghost", ["true"])
    client.container_stop("at", timeout=1)
    with pytest.raises(FailedPrecondition, match="is not running"):
        client.container_exec_attach("at", ["true"])


def test_cli_exec_it_from_a_terminal(busybox_image: ImageInfo, stackd: StackdProcess) -> None:
    _sleeper(stackd, "tt")
    env = {k: v for k, v in os.environ.items() if k != "STACK_ENGINE"}
    env["STACK_HOST"] = f"unix://{stackd.config.socket_path}"
    argv = [sys.executable, "-m", "orchestrator.cli.main", "container", "exec", "-it", "tt", "sh"]
    output, code = run_on_terminal(argv, env=env, prompt=b"#", answer=b"echo hi; exit 3\r")
    assert b"hi\r\n" in output, output
    assert code == 3, output
