"""Plan/apply by config hash, dependency order, failures, cycles, SIGKILL'd runs, fast down."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import StackCli

RECREATE = """
services:
  db:
    image: busybox:latest
    command: ["sleep", "3600"]
    environment: {VERSION: "${VERSION:-1}"}
  web:
    image: busybox:latest
    command: ["sleep", "3600"]
    depends_on:
      db: {condition: service_started, restart: true}
  other:
    image: busybox:latest
    command: ["sleep", "3600"]
    depends_on: [db]
"""


def _by_service(rows: list[dict[str, object]]) -> dict[str, tuple[object, object]]:
    return {str(r["Service"]): (r["ID"], r["StartedAt"]) for r in rows}


@pytest.mark.root
def test_recreates_only_what_changed(stack_cli: StackCli) -> None:
    project = stack_cli.project("conv", RECREATE)
    stack_cli.run(*project, "up", "-d")
    first = _by_service(stack_cli.ps(project))

    changed = stack_cli.run(*project, "up", "-d", env={"VERSION": "2"})
    assert "Recreate (config changed: environment)" in changed.stderr
    second = _by_service(stack_cli.ps(project))
    assert second["db"][0] != first["db"][0]  # recreated
    assert second["web"][0] == first["web"][0]  # same container ...
    assert second["web"][1] != first["web"][1]  # ... restarted (restart: true)
    assert second["other"] == first["other"]  # untouched

    plan = stack_cli.run(*project, "plan", env={"VERSION": "2"})
    assert plan.stdout == 'Project "conv" is up to date: nothing to do.\n'
    again = stack_cli.run(*project, "up", "-d", env={"VERSION": "2"})
    assert again.stdout == 'Project "conv" is up to date: nothing to do.\n'
    assert _by_service(stack_cli.ps(project)) == second

    stack_cli.run(*project, "up", "-d", "--force-recreate", env={"VERSION": "2"})
    third = _by_service(stack_cli.ps(project))
    assert all(third[s][0] != second[s][0] for s in third)
    assert len(stack_cli.ps(project)) == 3


MEMO = """
services:
  app:
    image: busybox:latest
    command: ["sleep", "3600"]
    healthcheck: {test: ["CMD", "true"], interval: 200ms}
  other:
    image: busybox:latest
    command: ["sleep", "3600"]
"""


@pytest.mark.root
def test_noop_up_from_the_memo_still_sees_every_change(stack_cli: StackCli) -> None:
    """A no-op `up -d` answered by replaying the last empty plan's engine requests: health
    probes running meanwhile do not spoil it; a stopped container or an edit does."""
    project = stack_cli.project("memo", MEMO)
    stack_cli.run(*project, "up", "-d", "--wait")
    up_to_date = 'Project "memo" is up to date: nothing to do.\n'

    def up() -> tuple[str, str]:
        proc = stack_cli.run("--debug", *project, "up", "-d")
        return proc.stdout, proc.stderr

    assert up()[0] == up_to_date  # planned in full (other options than --wait), remembered
    time.sleep(0.6)  # a few probes ran: their log changed, nothing the plan reads did
    out, err = up()
    assert out == up_to_date and "plan memo" in err and ": hit" in err

    stack_cli.run(*project, "stop", "other")  # behind the memo's back
    out, err = up()
    assert "the answers changed" in err and out != up_to_date
    assert {r["Service"]: r["State"] for r in stack_cli.ps(project)} == {
        "app": "running", "other": "running"}
    out, err = up()  # the plan made after starting it was empty: remembered again
    assert out == up_to_date and ": hit" in err

    edited = MEMO.replace('"3600"]\n    healthcheck', '"3601"]\n    healthcheck')
    assert edited != MEMO
    Path(project[1]).write_text(edited)
    out, err = up()
    assert "Recreate (config changed: command)" in err and ": hit" not in err
    time.sleep(0.6)
    up()  # the recreated one was "starting" when remembered: healthy now, a miss
    # an edit of the service without a healthcheck: loaded afresh, applied, remembered
    Path(project[1]).write_text(edited.replace('"3600"]\n', '"3602"]\n'))
    out, err = up()
    assert "Recreate (config changed: command)" in err and ": hit" not in err
    out, err = up()
    assert out == up_to_date and ": hit" in err


def chain(n: int) -> str:
    lines = ["services:"]
    for i in range(n):
        lines += [f"  s{i}:", "    image: busybox:latest", '    command: ["sleep", "3600"]',
                  "    init: true",
                  "    healthcheck:",
                  '      test: ["CMD", "true"]',
                  "      interval: 1s",
                  "      start_period: 5s",
                  "      start_interval: 100ms"]
        if i + 1 < n:
            lines += ["    depends_on:", f"      s{i + 1}: {{condition: service_healthy}}"]
    return "\n".join(lines) + "\n"


@pytest.mark.root
def test_chain_of_healthy_dependencies_comes_up_in_order(stack_cli: StackCli) -> None:
    project = stack_cli.project("chain", chain(5))
    stack_cli.run(*project, "up", "-d", "--wait")
    rows = {r["Service"]: r for r in stack_cli.ps(project)}
    assert {r["Health"] for r in rows.values()} == {"healthy"}
    started = [rows[f"s{i}"]["StartedAt"] for i in range(5)]
    # s4 first, s0 last: each started after the one it needs
    assert started == sorted(started, reverse=True)


@pytest.mark.root
def test_cycle_is_refused_before_anything_is_made(stack_cli: StackCli) -> None:
    project = stack_cli.project("cyc", """
services:
  a: {image: busybox:latest, depends_on: [b]}
  b: {image: busybox:latest, depends_on: [a]}
  c: {image: busybox:latest}
""")
    out = stack_cli.run(*project, "up", "-d", check=False)
    assert out.returncode == 3
    assert "dependency cycle: a -> b -> a" in out.stderr
    # no daemon was even needed: nothing exists
    assert not (stack_cli.config.run_dir / "stackd.sock").exists()


@pytest.mark.root
def test_failing_dependency_stops_dependants_with_the_cause(stack_cli: StackCli) -> None:
    project = stack_cli.project("fail", """
services:
  app:
    image: busybox:latest
    command: ["sleep", "3600"]
    depends_on:
      db: {condition: service_healthy}
  db:
    image: busybox:latest
    command: ["sleep", "3600"]
    healthcheck: {test: ["CMD", "false"], interval: 100ms, retries: 1}
  lone:
    image: busybox:latest
    command: ["sleep", "3600"]
""")
    out = stack_cli.run(*project, "up", "-d", check=False)
    assert out.returncode == 1
    assert 'error: service "app": dependency "db" failed: container "fail-db-1" is unhealthy' \
        in out.stderr
    rows = {r["Service"]: r["State"] for r in stack_cli.ps(project)}
    assert rows == {"db": "running", "lone": "running"}  # app never created


SIX = "services:\n" + "".join(
    f'  s{i}:\n    image: busybox:latest\n    command: ["sleep", "3600"]\n'
    + (f"    depends_on: [s{i + 1}]\n" if i < 5 else "")
    for i in range(6))


@pytest.mark.root
def test_sigkilled_up_converges_on_rerun(stack_cli: StackCli) -> None:
    project = stack_cli.project("kill", SIX)
    stack_cli.run(*project, "ps")  # the daemon runs before the clock starts
    rounds = ((0.9, signal.SIGKILL), (0.6, signal.SIGKILL), (1.4, signal.SIGKILL),
              (1.0, signal.SIGINT))
    for i, (delay, sig) in enumerate(rounds):
        # first a fresh up (killed while networks/containers are made), then replacements;
        # last a Ctrl-C, which stops at the next step and exits 130
        extra = ("--force-recreate",) if i else ()
        proc = stack_cli.popen(*project, "up", "-d", *extra)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate()
        if sig == signal.SIGINT:
            assert proc.returncode in (0, 130), err  # 0: it was done before the signal
        stack_cli.run(*project, "up", "-d")
        rows = stack_cli.ps(project)
        names = sorted(str(r["Name"]) for r in rows)
        assert names == [f"kill-s{i}-1" for i in range(6)], names
        assert {r["State"] for r in rows} == {"running"}
        again = stack_cli.run(*project, "up", "-d")
        assert "nothing to do" in again.stdout


@pytest.mark.root
def test_down_of_ten_sigterm_ignoring_services_is_fast(stack_cli: StackCli) -> None:
    text = "services:\n" + "".join(
        f'  s{i}:\n    image: busybox:latest\n    command: ["sleep", "3600"]\n'
        for i in range(10))
    project = stack_cli.project("fast", text)
    # best of two: the wall time includes the CLI's start-up, which a busy machine
    # stretches; what is under test is that nobody sits out a 10 s grace period
    times = []
    for _ in range(2):
        stack_cli.run(*project, "up", "-d")
        assert len(stack_cli.ps(project)) == 10
        began = time.monotonic()
        stack_cli.run(*project, "down")
        times.append(time.monotonic() - began)
        assert stack_cli.ps(project) == []
        if times[-1] < 2.0:
            break
    assert min(times) < 2.0, f"down took {', '.join(f'{t:.2f}s' for t in times)}"


@pytest.mark.root
def test_external_objects_are_used_never_made_or_removed(stack_cli: StackCli) -> None:
    import json

    project = stack_cli.project("ext", """
services:
  app:
    image: busybox:latest
    command: ["sh", "-c", "echo kept > /own/file; exec sleep 3600"]
    networks: [outside]
    volumes: [own:/own, shared:/shared]
networks:
  outside: {external: true, name: ext-net}
volumes:
  own: {}
  shared: {external: true, name: ext-vol}
""")
    missing = stack_cli.run(*project, "up", "-d", check=False)
    assert missing.returncode == 1
    assert 'network "ext-net" is declared as external, but could not be found' in missing.stderr
    stack_cli.run("network", "create", "ext-net")
    stack_cli.run("volume", "create", "ext-vol")
    try:
        stack_cli.run(*project, "up", "-d")

        def names(kind: str) -> set[str]:
            rows = json.loads(stack_cli.run(kind, "ls", "--format", "json").stdout)
            return {r.get("Name") or r.get("name") for r in rows}

        assert "ext_own" in names("volume")
        stack_cli.run(*project, "down")
        assert {"ext_own", "ext-vol"} <= names("volume")  # named volumes stay without -v
        assert "ext-net" in names("network")
        stack_cli.run(*project, "up", "-d")
        stack_cli.run(*project, "down", "-v")
        assert "ext_own" not in names("volume")
        assert "ext-vol" in names("volume") and "ext-net" in names("network")
    finally:
        stack_cli.run(*project, "down", "-v", check=False)
        stack_cli.run("network", "rm", "ext-net", check=False)
        stack_cli.run("volume", "rm", "ext-vol", check=False)
