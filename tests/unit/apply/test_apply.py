"""The executor against a fake engine: order, conditions, failures, restart: true, cancel, down."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from orchestrator import graph
from orchestrator.apply import ApplyOptions, ApplyResult, apply_up, prepare_images
from orchestrator.convert import desired_services, image_ref
from orchestrator.down import apply_down
from orchestrator.model import Stack
from orchestrator.observe import observe
from orchestrator.plan import Plan, PlanOptions, plan_down, plan_up
from orchestrator.progress import ProgressEvent
from runtime import api
from tests.unit.apply.fake_engine import FakeEngine
from tests.unit.plan.stacks import load_text


def run_up(engine: FakeEngine, stack: Stack, *, options: PlanOptions | None = None,
           cancel: threading.Event | None = None,
           events: list[ProgressEvent] | None = None) -> tuple[Plan, ApplyResult]:
    desired = desired_services(stack)
    refs = [image_ref(stack.name, s) for s in stack.services.values()]
    opts = options or PlanOptions()
    plan = plan_up(stack, desired, observe(engine, project=stack.name, images=refs),  # type: ignore[arg-type]
                   options=opts)
    failed = prepare_images(engine=engine, stack=stack, plan=plan)  # type: ignore[arg-type]
    import dataclasses

    plan = plan_up(stack, desired, observe(engine, project=stack.name, images=refs),  # type: ignore[arg-type]
                   options=dataclasses.replace(opts, images_ready=True))
    result = apply_up(engine=engine, stack=stack, plan=plan, desired=desired,  # type: ignore[arg-type]
                      reporter=events.append if events is not None else lambda e: None,
                      options=ApplyOptions(), cancel=cancel, failed_images=failed)
    return plan, result


def chain(n: int, condition: str = "service_healthy") -> str:
    lines = ["services:"]
    for i in range(n):
        lines.append(f"  s{i}:\n    image: busybox:latest")
        if i + 1 < n:
            lines.append(f"    depends_on:\n      s{i + 1}: {{condition: {condition}}}")
    return "\n".join(lines) + "\n"


def test_chain_of_healthy_dependencies_starts_in_order(tmp_path: Path) -> None:
    stack = load_text(chain(5), tmp_path)
    engine = FakeEngine(health={f"s{i}": "slow:0.05" for i in range(5)})
    _, result = run_up(engine, stack)
    assert not result.failed
    starts = engine.names("container_start")
    assert starts == ["proj-s4-1", "proj-s3-1", "proj-s2-1", "proj-s1-1", "proj-s0-1"]
    # each started only after the one it needs had been healthy (>= 0.05 s later)
    for i in range(4):
        assert (engine.first("container_start", f"proj-s{i}-1")
                - engine.first("container_start", f"proj-s{i + 1}-1")) >= 0.05


def test_network_and_image_first(tmp_path: Path) -> None:
    stack = load_text("services:\n  a: {image: other:1}\n", tmp_path)
    engine = FakeEngine(images=())
    run_up(engine, stack)
    methods = [m for m, _, _ in engine.calls]
    # images before anything else: containers are planned against the pulled image ids
    assert methods == ["image_pull", "network_create", "container_create", "container_start"]


def test_failing_dependency_stops_dependants_but_not_independent_services(tmp_path: Path) -> None:
    text = chain(3) + "  lone:\n    image: busybox:latest\n"
    stack = load_text(text, tmp_path)
    engine = FakeEngine(health={"s2": "unhealthy"})
    _, result = run_up(engine, stack)
    failed = {r.service: r.error for r in result.failed}
    assert failed == {
        "s1": 'dependency "s2" failed: container "proj-s2-1" is unhealthy',
        "s0": 'dependency "s1" failed: dependency "s2" failed: container "proj-s2-1" is '
              "unhealthy",
    }
    assert sorted(engine.names("container_start")) == ["proj-lone-1", "proj-s2-1"]


def test_failed_start_names_the_container(tmp_path: Path) -> None:
    stack = load_text(chain(2, "service_started"), tmp_path)
    engine = FakeEngine(fail_start={"s1"})
    _, result = run_up(engine, stack)
    assert {r.service: r.error for r in result.failed} == {
        "s1": 'container "proj-s1-1": container "proj-s1-1": runc says no',
        "s0": 'dependency "s1" failed: container "proj-s1-1": container "proj-s1-1": '
              "runc says no"}


def test_optional_dependency_only_warns(tmp_path: Path) -> None:
    text = """
services:
  a:
    image: busybox:latest
    depends_on:
      b: {condition: service_healthy, required: false}
  b: {image: busybox:latest}
"""
    stack = load_text(text, tmp_path)
    engine = FakeEngine(health={"b": "unhealthy"})
    _, result = run_up(engine, stack)
    assert not result.failed
    assert result.warnings == ('service "a": optional dependency "b" is not ready (container '
                               '"proj-b-1" is unhealthy); starting anyway',)


def test_completed_successfully(tmp_path: Path) -> None:
    text = """
services:
  app:
    image: busybox:latest
    depends_on:
      migrate: {condition: service_completed_successfully}
  migrate: {image: busybox:latest}
  bad:
    image: busybox:latest
    depends_on:
      broken: {condition: service_completed_successfully}
  broken: {image: busybox:latest}
"""
    stack = load_text(text, tmp_path)
    engine = FakeEngine(exit_codes={"migrate": 0, "broken": 3})
    _, result = run_up(engine, stack)
    assert {r.service: r.error for r in result.failed} == {
        "bad": 'dependency "broken" failed: container "proj-broken-1" exited with code 3'}
    assert "proj-app-1" in engine.names("container_start")


def test_rerun_is_a_no_op_and_recreate_restarts_dependants_that_ask(tmp_path: Path) -> None:
    text = """
services:
  web:
    image: busybox:latest
    depends_on:
      db: {condition: service_started, restart: true}
  other:
    image: busybox:latest
    depends_on: [db]
  db:
    image: busybox:latest
    environment: {V: "1"}
"""
    engine = FakeEngine()
    run_up(engine, load_text(text, tmp_path))
    engine.calls.clear()
    plan, _ = run_up(engine, load_text(text, tmp_path))
    assert plan.empty
    assert engine.calls == []
    plan, result = run_up(engine, load_text(text.replace('V: "1"', 'V: "2"'), tmp_path))
    assert not result.failed
    assert [c.action.value for c in plan.services["db"].containers] == ["recreate"]
    assert engine.names("container_remove") == ["proj-db-1"]
    assert engine.names("container_create") == ["proj-db-1"]
    assert engine.names("container_restart") == ["proj-web-1"]  # not "other"


def test_force_recreate_replaces_all_without_duplicates(tmp_path: Path) -> None:
    stack = load_text(chain(3, "service_started"), tmp_path)
    engine = FakeEngine()
    run_up(engine, stack)
    run_up(engine, stack, options=PlanOptions(force_recreate=True))
    assert sorted(c.name for c in engine.containers.values()) == [
        "proj-s0-1", "proj-s1-1", "proj-s2-1"]
    assert len(engine.names("container_create")) == 6


def test_adopts_what_an_interrupted_run_left(tmp_path: Path) -> None:
    """A created-but-not-started container (the CLI was killed) is started, not duplicated."""
    stack = load_text(chain(2, "service_started"), tmp_path)
    engine = FakeEngine()
    run_up(engine, stack)
    victim = next(c for c in engine.containers.values() if c.name == "proj-s0-1")
    engine._set(victim, state=api.ContainerState.CREATED)
    plan, _ = run_up(engine, stack)
    assert [c.action.value for c in plan.services["s0"].containers] == ["start"]
    assert len(engine.containers) == 2


def test_cancel_stops_before_touching_containers(tmp_path: Path) -> None:
    stack = load_text(chain(3), tmp_path)
    engine = FakeEngine()
    cancel = threading.Event()
    cancel.set()
    _, result = run_up(engine, stack, cancel=cancel)
    assert {r.error for r in result.services.values()} == {"interrupted"}
    assert engine.names("container_create") == []


def test_progress_events(tmp_path: Path) -> None:
    stack = load_text(chain(2, "service_started"), tmp_path)
    events: list[ProgressEvent] = []
    run_up(FakeEngine(), stack, events=events)
    done = [(e.kind, e.name, e.status) for e in events if e.phase == "done"]
    assert done == [("Network", "proj_default", "Created"),
                    ("Container", "proj-s1-1", "Created"), ("Container", "proj-s1-1", "Started"),
                    ("Container", "proj-s0-1", "Created"), ("Container", "proj-s0-1", "Started")]


def test_down_reverse_order_then_networks(tmp_path: Path) -> None:
    text = chain(3, "service_started") + "    volumes: [data:/d]\nvolumes:\n  data: {}\n"
    stack = load_text(text, tmp_path)
    engine = FakeEngine()
    run_up(engine, stack)
    engine.calls.clear()
    observed = observe(engine, project="proj")  # type: ignore[arg-type]
    plan = plan_down(observed, stop_order=graph.stop_order(graph.build_graph(stack)),
                     services=frozenset(stack.services), remove_volumes=False,
                     remove_orphans=False)
    result = apply_down(engine=engine, plan=plan)  # type: ignore[arg-type]
    assert result.errors == ()
    assert engine.names("container_stop") == ["proj-s0-1", "proj-s1-1", "proj-s2-1"]
    assert engine.names("network_remove") == ["proj_default"]
    assert engine.names("volume_remove") == []
    assert engine.containers == {}


@pytest.mark.parametrize("n", [1, 12])
def test_many_independent_services_in_parallel(tmp_path: Path, n: int) -> None:
    text = "services:\n" + "".join(f"  s{i}: {{image: busybox:latest}}\n" for i in range(n))
    engine = FakeEngine()
    _, result = run_up(engine, load_text(text, tmp_path))
    assert not result.failed
    assert len(engine.names("container_start")) == n


def test_start_first_update_keeps_the_old_one_until_the_new_one_is_healthy(
        tmp_path: Path) -> None:
    text = """
services:
  web:
    image: busybox:latest
    environment: {V: "1"}
    healthcheck: {test: ["CMD", "true"]}
    deploy: {update_config: {order: start-first}}
"""
    engine = FakeEngine(health={"web": "slow:0.05"})
    run_up(engine, load_text(text, tmp_path))
    engine.calls.clear()
    _, result = run_up(engine, load_text(text.replace('V: "1"', 'V: "2"'), tmp_path))
    assert not result.failed
    assert [(m, n) for m, n, _ in engine.calls] == [
        ("container_create", "proj-web-2"), ("container_start", "proj-web-2"),
        ("container_stop", "proj-web-1"), ("container_remove", "proj-web-1")]
    assert engine.first("container_stop", "proj-web-1") - engine.first(
        "container_start", "proj-web-2") >= 0.05


def test_start_first_numbers_stay_within_one_more_than_the_replicas(tmp_path: Path) -> None:
    text = """
services:
  web:
    image: busybox:latest
    scale: 3
    environment: {V: "0"}
    healthcheck: {test: ["CMD", "true"]}
    deploy: {update_config: {order: start-first}}
"""
    engine = FakeEngine(health={"web": "healthy"})
    run_up(engine, load_text(text, tmp_path))
    seen = []
    for version in range(1, 4):
        _, result = run_up(engine, load_text(text.replace('V: "0"', f'V: "{version}"'),
                                             tmp_path))
        assert not result.failed
        seen.append(sorted(c.name for c in engine.containers.values()))
    # each replacement takes the lowest number free at that moment, never a running one's
    assert seen == [["proj-web-1", "proj-web-2", "proj-web-4"],
                    ["proj-web-1", "proj-web-2", "proj-web-3"],
                    ["proj-web-1", "proj-web-2", "proj-web-4"]]


def test_start_first_update_gives_up_when_health_never_settles(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new replica left "starting" for good (a supervisor that never probes) must not
    hang `up`: the wait ends where the healthcheck's own schedule would have, the old
    replica stays and the new one goes."""
    from orchestrator import conditions

    monkeypatch.setattr(conditions, "SETTLE_MARGIN", 0.0)
    text = """
services:
  web:
    image: busybox:latest
    environment: {V: "1"}
    healthcheck: {test: ["CMD", "true"], interval: 20ms, timeout: 30ms, retries: 1}
    deploy: {update_config: {order: start-first}}
"""
    engine = FakeEngine(health={"web": "starting"})
    run_up(engine, load_text(text, tmp_path))
    _, result = run_up(engine, load_text(text.replace('V: "1"', 'V: "2"'), tmp_path))
    assert [(r.service, r.error) for r in result.failed] == [
        ("web", 'start-first update of "proj-web-1" failed: container "proj-web-2" was not '
                "healthy after 0.1s")]
    assert [c.name for c in engine.containers.values()] == ["proj-web-1"]


def test_scale_up_then_down(tmp_path: Path) -> None:
    text = "services:\n  w: {image: busybox:latest, scale: 3}\n"
    engine = FakeEngine()
    run_up(engine, load_text(text, tmp_path))
    assert sorted(c.name for c in engine.containers.values()) == [
        "proj-w-1", "proj-w-2", "proj-w-3"]
    run_up(engine, load_text(text.replace("scale: 3", "scale: 1"), tmp_path))
    assert [c.name for c in engine.containers.values()] == ["proj-w-1"]


def test_build_then_rebuild_recreates_on_the_new_image(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    text = "services:\n  app:\n    build: {context: ./ctx, args: {A: b}}\n"
    engine = FakeEngine(images=())
    run_up(engine, load_text(text, tmp_path))
    assert engine.builds[0]["tags"] == ("proj-app",)
    assert engine.builds[0]["build_args"] == {"A": "b"}
    assert engine.names("container_create") == ["proj-app-1"]
    plan, _ = run_up(engine, load_text(text, tmp_path))
    assert plan.empty  # built once: not again without --build
    plan, _ = run_up(engine, load_text(text, tmp_path), options=PlanOptions(build=True))
    assert [c.reason for c in plan.services["app"].containers] == ["image changed"]
    assert engine.names("container_create") == ["proj-app-1", "proj-app-1"]


def test_engine_without_health_gets_probes_run_from_here(tmp_path: Path) -> None:
    """The in-process engine reports no health: the executor runs the healthcheck itself."""
    text = """
services:
  app:
    image: busybox:latest
    depends_on:
      db: {condition: service_healthy}
  db:
    image: busybox:latest
    healthcheck: {test: ["CMD-SHELL", "true"], interval: 100ms, retries: 2}
  app2:
    image: busybox:latest
    depends_on:
      bad: {condition: service_healthy}
  bad:
    image: busybox:latest
    healthcheck: {test: ["CMD", "false"], interval: 50ms, retries: 2}
"""
    engine = FakeEngine()  # no health scripts: inspect says "none"
    engine.exec_codes = {"bad": 1}
    _, result = run_up(engine, load_text(text, tmp_path))
    assert {r.service: r.error for r in result.failed} == {
        "app2": 'dependency "bad" failed: container "proj-bad-1" is unhealthy: probe says 1'}
    assert "proj-app-1" in engine.names("container_start")
    assert engine.names("container_exec").count("proj-bad-1") == 2  # retries
