"""`stack run SERVICE CMD` attached like `docker compose run`: stdin from a pipe, a terminal
when stdin is one (not with -T), the container's exit code, --rm."""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.conftest import STACK, StackCli
from tests.terminal import run_on_terminal

TEXT = """
services:
  svc:
    image: busybox:latest
    network_mode: none
    command: ["sleep", "3600"]
"""


@pytest.mark.root
def test_run_passes_piped_stdin_and_exits_with_the_code(stack_cli: StackCli) -> None:
    project = stack_cli.project("runin", TEXT)
    piped = subprocess.run([*STACK, *project, "run", "--rm", "svc", "cat"], input="hi\n",
                           cwd=stack_cli.cwd, env=stack_cli.env, capture_output=True, text=True,
                           timeout=120, check=False)
    assert (piped.returncode, piped.stdout) == (0, "hi\n"), piped.stderr
    failing = subprocess.run([*STACK, *project, "run", "--rm", "svc", "sh", "-c",
                              "cat >/dev/null; echo oops >&2; exit 6"], input="ignored\n",
                             cwd=stack_cli.cwd, env=stack_cli.env, capture_output=True,
                             text=True, timeout=120, check=False)
    assert (failing.returncode, failing.stderr) == (6, "oops\n")
    assert stack_cli.ps(project) == []  # --rm


@pytest.mark.root
@pytest.mark.parametrize("no_tty", [False, True])
def test_run_from_a_terminal_gets_one_unless_t(stack_cli: StackCli, no_tty: bool) -> None:
    project = stack_cli.project("runtty", TEXT)
    argv = [*STACK, *project, "run", "--rm", *(["-T"] if no_tty else []), "svc",
            "sh", "-c", "tty; echo ready; read x; echo got:$x; exit 3"]
    output, code = run_on_terminal(argv, env=stack_cli.env, cwd=stack_cli.cwd,
                                   prompt=b"ready", answer=b"abc\n" if no_tty else b"abc\r",
                                   timeout=90)
    assert b"got:abc" in output, output
    if no_tty:
        assert b"not a tty" in output and b"/dev/pts/" not in output, output
    else:
        assert b"/dev/pts/" in output, output
    assert code == 3, output
