"""Orchestration against real containers: start-first updates, scale with DNS, depends_on
conditions, up --wait / --abort-on-container-exit / --exit-code-from, orphans, down --rmi."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import StackCli, _our_bridges, free_port

ROLLING = """
services:
  web:
    image: busybox:latest
    environment: {V: "${V:-1}"}
    # on SIGTERM it leaves a file behind: the moment it was told to stop, by the host's clock
    command: ["sh", "-c", "trap 'touch /marks/stopped-$$V; exit 0' TERM; while true; do sleep 0.05; done"]
    volumes: ["MARKS:/marks"]
    healthcheck: {test: ["CMD", "true"], interval: 200ms, start_period: 5s,
                  start_interval: 100ms}
    deploy: {update_config: {order: start-first}}
"""


def _inspect(stack_cli: StackCli, ref: str) -> dict[str, Any]:
    data = json.loads(stack_cli.run("container", "inspect", ref).stdout)
    assert isinstance(data, list) and len(data) == 1
    return dict(data[0])


class _Poller:
    """``ps`` snapshots of a project, taken over and over in a thread until stopped."""

    def __init__(self, stack_cli: StackCli, project: tuple[str, ...]) -> None:
        self._cli, self._project = stack_cli, project
        self.snapshots: list[tuple[float, list[dict[str, Any]]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.time()
            rows = self._cli.ps(self._project)
            self.snapshots.append((began, rows))
            self._stop.wait(0.1)

    def __enter__(self) -> _Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.mark.root
def test_start_first_update_has_no_moment_without_a_healthy_replica(
        stack_cli: StackCli, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    project = stack_cli.project("roll", ROLLING.replace("MARKS", str(marks)))
    stack_cli.run(*project, "up", "-d", "--wait", "--wait-timeout", "30")
    [old] = stack_cli.ps(project)
    assert (old["Name"], old["Health"]) == ("roll-web-1", "healthy")

    plan = json.loads(stack_cli.run(*project, "plan", "--format", "json",
                                    env={"V": "2"}).stdout)
    [change] = plan["services"]["web"]["containers"]
    assert (change["action"], change.get("start_first")) == ("recreate", True)

    began = time.time()
    with _Poller(stack_cli, project) as poller:
        time.sleep(0.3)  # a snapshot or two before the update begins
        out = stack_cli.run(*project, "up", "-d", env={"V": "2"})
        time.sleep(0.3)
    assert "Recreate" in out.stderr or "recreated" in out.stdout, out
    assert len(poller.snapshots) >= 3
    for at, rows in poller.snapshots:
        serving = [r for r in rows if r["State"] == "running" and r["Health"] == "healthy"]
        assert serving, f"no healthy replica at {at}: {rows}"

    [new] = stack_cli.ps(project)
    assert new["ID"] != old["ID"] and new["State"] == "running"
    # both run for a while, so the replacement takes the lowest number free then (the
    # engine cannot rename); its name and number label agree
    assert (new["Name"], new["Number"]) == ("roll-web-2", 2)
    info = _inspect(stack_cli, str(new["ID"]))
    assert info["config"]["env"]["V"] == "2"
    # the engine's own record: the new one's first "healthy" before the old one's stop
    events = [json.loads(line) for line in stack_cli.run(
        "system", "events", "--since", str(began), "--until", str(time.time() + 0.1),
        "--format", "json", "--filter", "type=container").stdout.splitlines()]
    healthy_at = min(e["time"] for e in events
                     if e["id"] == new["ID"] and e["action"] == "health_status: healthy")
    stopped = marks / "stopped-1"
    assert stopped.exists(), "the old replica was never sent SIGTERM"
    assert healthy_at <= stopped.stat().st_mtime, (healthy_at, stopped.stat().st_mtime, events)
    old_stop = [e["time"] for e in events if e["id"] == old["ID"] and e["action"] in
                ("kill", "stop", "die")]
    assert old_stop and healthy_at <= min(old_stop), events
    assert not (marks / "stopped-2").exists()  # the new one still runs

    # the next update takes number 1 again: numbers do not climb update after update
    stack_cli.run(*project, "up", "-d", env={"V": "3"})
    rows = stack_cli.ps(project)
    assert [(r["Name"], r["Number"], r["State"]) for r in rows] == [
        ("roll-web-1", 1, "running")]
    assert (marks / "stopped-2").exists()


@pytest.mark.root
def test_start_first_update_that_never_gets_healthy_keeps_the_old_one(
        stack_cli: StackCli) -> None:
    project = stack_cli.project("rollbad", """
services:
  web:
    image: busybox:latest
    init: true
    command: ["sleep", "3600"]
    environment: {V: "${V:-1}"}
    healthcheck: {test: ["CMD-SHELL", "[ $$V != bad ]"], interval: 200ms, retries: 2}
    deploy: {update_config: {order: start-first}}
""")
    stack_cli.run(*project, "up", "-d", "--wait", "--wait-timeout", "30")
    [old] = stack_cli.ps(project)
    out = stack_cli.run(*project, "up", "-d", env={"V": "bad"}, check=False)
    assert out.returncode == 1, out
    assert ('service "web": start-first update of "rollbad-web-1" failed: container '
            '"rollbad-web-2" is unhealthy') in out.stderr, out.stderr
    # the old one still serves, the failed replacement is gone
    rows = stack_cli.ps(project)
    assert [(r["ID"], r["State"], r["Health"]) for r in rows] == [
        (old["ID"], "running", "healthy")]


@pytest.mark.root
def test_stop_first_where_start_first_could_clash(stack_cli: StackCli) -> None:
    port = free_port()
    project = stack_cli.project("sfirst", f"""
services:
  nocheck:
    image: busybox:latest
    command: ["sleep", "3600"]
    environment: {{V: "${{V:-1}}"}}
    deploy: {{update_config: {{order: start-first}}}}
  port:
    image: busybox:latest
    command: ["sleep", "3600"]
    environment: {{V: "${{V:-1}}"}}
    ports: ["127.0.0.1:{port}:80"]
    healthcheck: {{test: ["CMD", "true"], interval: 200ms}}
    deploy: {{update_config: {{order: start-first}}}}
""")
    stack_cli.run(*project, "up", "-d")
    before = {r["Service"]: r["ID"] for r in stack_cli.ps(project)}
    plan = json.loads(stack_cli.run(*project, "plan", "--format", "json",
                                    env={"V": "2"}).stdout)
    for service in ("nocheck", "port"):
        [change] = plan["services"][service]["containers"]
        assert change["action"] == "recreate" and "start_first" not in change
    stack_cli.run(*project, "up", "-d", env={"V": "2"})
    rows = stack_cli.ps(project)
    # replaced in place: same names, new containers, the port bound again
    assert sorted(r["Name"] for r in rows) == ["sfirst-nocheck-1", "sfirst-port-1"]
    assert all(r["ID"] != before[r["Service"]] and r["State"] == "running" for r in rows)
    [port_row] = [r for r in rows if r["Service"] == "port"]
    assert [p["PublishedPort"] for p in port_row["Publishers"]] == [port]


SCALE = """
services:
  web:
    image: busybox:latest
    command: ["sleep", "3600"]
  client:
    image: busybox:latest
    command: ["sleep", "3600"]
"""


def _addresses(stack_cli: StackCli, project: tuple[str, ...], name: str) -> set[str]:
    out = stack_cli.run(*project, "exec", "-T", "client", "nslookup", name)
    # busybox: "Server: <gw>", "Address: <gw>:53", then per answer "Name:" / "Address: ip"
    answers = out.stdout.split("Name:", 1)[1] if "Name:" in out.stdout else ""
    found = set(re.findall(r"^Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)\s*$", answers, re.M))
    assert found, f"nslookup {name}: {out.stdout!r} {out.stderr!r}"
    return found


def _ip(stack_cli: StackCli, ref: str) -> str:
    return str(_inspect(stack_cli, ref)["networks"][0]["ipv4_address"]).split("/")[0]


@pytest.mark.root
def test_scale_is_seen_in_dns_and_scales_down_from_the_top(stack_cli: StackCli) -> None:
    project = stack_cli.project("scl", SCALE)
    stack_cli.run(*project, "up", "-d", "--scale", "web=3")
    rows = stack_cli.ps(project, "web")
    assert sorted(r["Name"] for r in rows) == ["scl-web-1", "scl-web-2", "scl-web-3"]
    ips = {_ip(stack_cli, str(r["ID"])) for r in rows}
    assert len(ips) == 3
    assert _addresses(stack_cli, project, "web") == ips
    assert _addresses(stack_cli, project, "scl-web-2") == {_ip(stack_cli, "scl-web-2")}

    [bridge] = _our_bridges(stack_cli.config)
    gateway_mac = Path(f"/sys/class/net/{bridge}/address").read_text()
    down = stack_cli.run(*project, "up", "-d", "--scale", "web=1")
    # highest numbers go first, as Compose takes them away
    assert 0 <= down.stderr.find("scl-web-3  Removed") < down.stderr.find("scl-web-2  Removed")
    # the gateway keeps its address when ports leave: the client's ARP entry stays good
    assert Path(f"/sys/class/net/{bridge}/address").read_text() == gateway_mac
    rows = stack_cli.ps(project, "web")
    assert [r["Name"] for r in rows] == ["scl-web-1"]
    assert _addresses(stack_cli, project, "web") == {_ip(stack_cli, "scl-web-1")}


@pytest.mark.root
def test_completed_successfully_runs_the_one_shot_first(stack_cli: StackCli) -> None:
    project = stack_cli.project("mig", """
services:
  migrate:
    image: busybox:latest
    command: ["sh", "-c", "sleep 0.5; echo migrated"]
  app:
    image: busybox:latest
    command: ["sleep", "3600"]
    depends_on:
      migrate: {condition: service_completed_successfully}
      extra: {condition: service_started, required: false}
  extra:
    image: busybox:latest
    command: ["sleep", "3600"]
    profiles: [debug]
""")
    out = stack_cli.run(*project, "up", "-d")
    rows = {r["Service"]: r for r in stack_cli.ps(project)}
    assert set(rows) == {"migrate", "app"}  # extra's profile is off: not started for app
    assert (rows["migrate"]["State"], rows["migrate"]["ExitCode"]) == ("exited", 0)
    assert rows["app"]["State"] == "running"
    migrate = _inspect(stack_cli, str(rows["migrate"]["ID"]))
    app = _inspect(stack_cli, str(rows["app"]["ID"]))
    assert migrate["finished_at"] <= app["started_at"]
    assert "error" not in out.stderr.lower()

    # as Compose: required: false forgives a service that is switched off, not a typo
    text = Path(project[1]).read_text()
    Path(project[1]).write_text(text.replace("      extra: {", "      extr: {"))
    typo = stack_cli.run(*project, "up", "-d", check=False)
    Path(project[1]).write_text(text)  # for the fixture's down
    assert typo.returncode == 3
    assert 'service "app" depends on undefined service "extr"' in typo.stderr


@pytest.mark.root
def test_failed_one_shot_stops_its_dependants(stack_cli: StackCli) -> None:
    project = stack_cli.project("migfail", """
services:
  migrate:
    image: busybox:latest
    command: ["sh", "-c", "exit 1"]
  app:
    image: busybox:latest
    command: ["sleep", "3600"]
    depends_on:
      migrate: {condition: service_completed_successfully}
  lone:
    image: busybox:latest
    command: ["sleep", "3600"]
""")
    out = stack_cli.run(*project, "up", "-d", check=False)
    assert out.returncode == 1
    assert ('service "app": dependency "migrate" failed: container "migfail-migrate-1" '
            "exited with code 1") in out.stderr, out.stderr
    rows = {r["Service"]: r["State"] for r in stack_cli.ps(project)}
    assert rows == {"migrate": "exited", "lone": "running"}


@pytest.mark.root
def test_up_wait_gives_up_on_a_service_that_never_gets_healthy(stack_cli: StackCli) -> None:
    project = stack_cli.project("never", """
services:
  sick:
    image: busybox:latest
    command: ["sleep", "3600"]
    healthcheck: {test: ["CMD", "false"], interval: 200ms, retries: 1000}
  fine:
    image: busybox:latest
    command: ["sleep", "3600"]
""")
    began = time.monotonic()
    out = stack_cli.run(*project, "up", "--wait", "--wait-timeout", "2", check=False)
    took = time.monotonic() - began
    assert out.returncode == 1, out
    assert 'service "sick": container "never-sick-1" was not healthy after 2s' in out.stderr
    assert "fine" not in out.stderr.replace("never-fine-1", "")  # only the sick one named
    assert took < 15, took


@pytest.mark.root
def test_abort_on_container_exit_and_exit_code_from(stack_cli: StackCli) -> None:
    project = stack_cli.project("abort", """
services:
  long:
    image: busybox:latest
    init: true
    command: ["sleep", "3600"]
  short:
    image: busybox:latest
    command: ["sh", "-c", "sleep 0.5; exit 3"]
  other:
    image: busybox:latest
    command: ["sh", "-c", "sleep 1; exit 5"]
""")
    out = stack_cli.run(*project, "up", "--abort-on-container-exit", timeout=60, check=False)
    assert out.returncode == 3, out
    assert {r["State"] for r in stack_cli.ps(project)} == {"exited"}

    out = stack_cli.run(*project, "up", "--exit-code-from", "other", timeout=60, check=False)
    assert out.returncode == 5, out
    assert {r["State"] for r in stack_cli.ps(project)} == {"exited"}


@pytest.mark.root
def test_orphans_warned_then_removed(stack_cli: StackCli) -> None:
    two = """
services:
  keep: {image: busybox:latest, command: ["sleep", "3600"]}
  gone: {image: busybox:latest, command: ["sleep", "3600"]}
"""
    project = stack_cli.project("orph", two)
    stack_cli.run(*project, "up", "-d")
    Path(project[1]).write_text(two.replace('  gone: {image: busybox:latest, command: '
                                            '["sleep", "3600"]}\n', ""))
    out = stack_cli.run(*project, "up", "-d")
    assert ('found orphan container "orph-gone-1" for service "gone": remove it with '
            "--remove-orphans") in out.stderr
    assert sorted(r["Name"] for r in stack_cli.ps(project)) == ["orph-gone-1", "orph-keep-1"]
    out = stack_cli.run(*project, "up", "-d", "--remove-orphans")
    assert "orphan" not in out.stderr
    assert [r["Name"] for r in stack_cli.ps(project)] == ["orph-keep-1"]
    again = stack_cli.run(*project, "up", "-d")
    assert again.stdout == 'Project "orph" is up to date: nothing to do.\n'
    assert "orphan" not in again.stderr


def _image_refs(stack_cli: StackCli) -> set[str]:
    rows = json.loads(stack_cli.run("image", "ls", "--format", "json").stdout)
    return {str(tag) for row in rows for tag in row["repo_tags"]}


@pytest.mark.root
def test_down_rmi_local_removes_the_built_image_only(stack_cli: StackCli,
                                                     tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nRUN echo hi > /x\n")
    project = stack_cli.project("rmi", f"""
services:
  built:
    build: {{context: {ctx}}}
    command: ["sh", "-c", "cat /x; exec sleep 3600"]
  pulled:
    image: busybox:latest
    command: ["sleep", "3600"]
""")
    stack_cli.run(*project, "up", "-d", timeout=180)
    assert {r["State"] for r in stack_cli.ps(project)} == {"running"}
    assert "hi" in stack_cli.run(*project, "logs", "--no-color", "built").stdout
    refs = _image_refs(stack_cli)
    assert any("rmi-built" in r for r in refs), refs
    stack_cli.run(*project, "down", "--rmi", "local")
    refs = _image_refs(stack_cli)
    assert not any("rmi-built" in r for r in refs), refs
    assert any(r.endswith("/busybox:latest") for r in refs), refs
    stack_cli.run("image", "inspect", "busybox:latest")
