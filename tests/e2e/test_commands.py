"""The project commands around up/down: scale, logs, run, stop/start/restart, kill, rm,
attached up with Ctrl-C, plan --format json, ls."""

from __future__ import annotations

import json
import re
import signal
import time

import pytest

from tests.e2e.conftest import StackCli

TEXT = """
services:
  talk:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo hello from $$HOSTNAME; exec sleep 3600"]
  quiet:
    image: busybox:latest
    command: ["sleep", "3600"]
    depends_on: [talk]
"""


@pytest.mark.root
def test_project_commands(stack_cli: StackCli) -> None:
    project = stack_cli.project("cmds", TEXT)
    plan = json.loads(stack_cli.run(*project, "plan", "--format", "json").stdout)
    assert plan["counts"] == {"create": 3}

    stack_cli.run(*project, "up", "-d", "--scale", "talk=2")
    rows = stack_cli.ps(project)
    assert sorted(r["Name"] for r in rows) == ["cmds-quiet-1", "cmds-talk-1", "cmds-talk-2"]
    assert stack_cli.run(*project, "ps", "--services").stdout.split() == ["quiet", "talk"]
    assert len(stack_cli.run(*project, "ps", "-q").stdout.split()) == 3
    assert "cmds" in stack_cli.run("ls").stdout

    logs = stack_cli.run(*project, "logs", "--no-color", "talk").stdout
    assert re.search(r"^talk-1 +\| hello from ", logs, re.M)
    assert re.search(r"^talk-2 +\| hello from ", logs, re.M)

    out = stack_cli.run(*project, "run", "--rm", "--no-deps", "quiet", "echo", "one-off")
    assert out.stdout == "one-off\n"
    code = stack_cli.run(*project, "run", "--rm", "--no-deps", "quiet", "sh", "-c", "exit 3",
                         check=False)
    assert code.returncode == 3
    assert len(stack_cli.ps(project)) == 3  # --rm removed the one-offs

    stack_cli.run(*project, "stop", "quiet")
    states = {r["Name"]: r["State"] for r in stack_cli.ps(project)}
    assert states["cmds-quiet-1"] == "exited"
    stack_cli.run(*project, "start")
    before = {r["Name"]: r["StartedAt"] for r in stack_cli.ps(project)}
    stack_cli.run(*project, "restart", "talk")
    after = {r["Name"]: r["StartedAt"] for r in stack_cli.ps(project)}
    assert after["cmds-talk-1"] != before["cmds-talk-1"]
    assert after["cmds-quiet-1"] == before["cmds-quiet-1"]

    stack_cli.run(*project, "kill", "-s", "KILL", "quiet")
    stack_cli.run(*project, "rm", "-f", "quiet")
    assert sorted(r["Name"] for r in stack_cli.ps(project)) == ["cmds-talk-1", "cmds-talk-2"]
    # up brings back what rm took away, keeps the scale it is told
    stack_cli.run(*project, "up", "-d", "--scale", "talk=1")
    assert sorted(r["Name"] for r in stack_cli.ps(project)) == ["cmds-quiet-1", "cmds-talk-1"]


@pytest.mark.root
def test_attached_up_stops_cleanly_on_ctrl_c(stack_cli: StackCli) -> None:
    project = stack_cli.project("attach", TEXT)
    proc = stack_cli.popen(*project, "up")
    try:
        deadline = time.monotonic() + 60
        seen = ""
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen += line
            if "hello from" in line:
                break
        assert "hello from" in seen
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Gracefully stopping" in out
    assert {r["State"] for r in stack_cli.ps(project)} == {"exited"}


@pytest.mark.root
def test_logs_follow_keeps_following_a_recreated_container(stack_cli: StackCli) -> None:
    project = stack_cli.project("follow", """
services:
  tick:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "while true; do echo tick-$$V; sleep 0.2; done"]
    environment: {V: "${V:-1}"}
""")
    stack_cli.run(*project, "up", "-d")
    proc = stack_cli.popen(*project, "logs", "-f", "--no-color")
    try:
        assert proc.stdout is not None
        seen = ""
        deadline = time.monotonic() + 60
        recreated = False
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen += line
            if "tick-1" in line and not recreated:
                stack_cli.run(*project, "up", "-d", env={"V": "2"})
                recreated = True
            if "tick-2" in line:
                break
    finally:
        proc.kill()
        proc.communicate()
    assert re.search(r"^tick-1 +\| tick-1$", seen, re.M)
    assert re.search(r"^tick-1 +\| tick-2$", seen, re.M)  # the new container, same name


ECHO = """
services:
  a:
    image: busybox:latest
    command: ["echo", "from a"]
  b:
    image: busybox:latest
    command: ["sh", "-c", "sleep 0.3; echo from b"]
    depends_on: [a]
"""


@pytest.mark.root
def test_attached_up_shows_what_the_attach_options_ask(stack_cli: StackCli) -> None:
    project = stack_cli.project("att", ECHO)
    out = stack_cli.run(*project, "up", "--no-color", "--no-attach", "a", "--timestamps",
                        "--no-log-prefix").stdout
    assert "from a" not in out
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[.\d]*Z from b$", out, re.M), out

    named = stack_cli.run(*project, "up", "--no-color", "--force-recreate", "b").stdout
    assert re.search(r"^b-1 +\| from b$", named, re.M) and "from a" not in named
    deps = stack_cli.run(*project, "up", "--no-color", "--force-recreate", "b",
                         "--attach-dependencies").stdout
    assert re.search(r"^a-1 +\| from a$", deps, re.M), deps
    assert re.search(r"^b-1 +\| from b$", deps, re.M), deps
    only = stack_cli.run(*project, "up", "--no-color", "--force-recreate", "--attach", "a").stdout
    assert re.search(r"^a-1 +\| from a$", only, re.M) and "from b" not in only

    unknown = stack_cli.run(*project, "up", "--attach", "nope", check=False)
    assert unknown.returncode == 2 and "--attach: no such service: nope" in unknown.stderr
    detached = stack_cli.run(*project, "up", "-d", "--no-attach", "a", check=False)
    assert detached.returncode == 2 and "cannot be used with -d" in detached.stderr


@pytest.mark.root
def test_anonymous_volumes_go_with_down_v_only(stack_cli: StackCli) -> None:
    """As `docker compose down`: a container's anonymous volume outlives a plain down
    (it may hold data) and goes with `down -v`."""
    project = stack_cli.project("anon", """
services:
  app:
    image: busybox:latest
    command: ["sleep", "3600"]
    volumes: ["/data"]
""")

    def volumes() -> list[str]:
        return stack_cli.run("volume", "ls", "-q").stdout.split()

    stack_cli.run(*project, "up", "-d")
    first = volumes()
    assert len(first) == 1
    stack_cli.run(*project, "down", "-t", "0")
    assert volumes() == first
    stack_cli.run("volume", "rm", first[0])

    stack_cli.run(*project, "up", "-d")
    assert len(volumes()) == 1
    stack_cli.run(*project, "down", "-v", "-t", "0")
    assert volumes() == []
