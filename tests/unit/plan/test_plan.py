"""The planner: desired vs observed -> actions with reasons. Pure, so no engine at all."""

from __future__ import annotations

import json

import pytest

from orchestrator import graph
from orchestrator.convert import desired_services
from orchestrator.errors import ConfigError, StackError
from orchestrator.observe import Observed
from orchestrator.plan import Action, PlanOptions, plan_down, plan_up
from runtime import api
from tests.unit.plan.stacks import LoadFn, load_text, running

STACK = """
services:
  db:
    image: busybox:latest
    environment: {A: "1"}
    volumes: [data:/data]
  web:
    image: busybox:latest
    depends_on:
      db: {condition: service_healthy, restart: true}
    ports: ["127.0.0.1:8080:80"]
volumes:
  data: {}
"""


def observed_for(stack, *containers, images=None, networks=None, volumes=None):  # type: ignore[no-untyped-def]
    nets = {n: api.NetworkInfo(id=n, name=n, driver="bridge", bridge="br", internal=False,
                               enable_ipv6=False, ipam=(), mtu=None,
                               labels={api.LABEL_PROJECT: stack.name}, created_at=0.0)
            for n in (networks if networks is not None else ["proj_default"])}
    vols = {v: api.VolumeInfo(name=v, driver="local", mountpoint="/x",
                              labels={api.LABEL_PROJECT: stack.name}, created_at=0.0)
            for v in (volumes if volumes is not None else ["proj_data"])}
    return Observed(project=stack.name, containers=tuple(containers), networks=nets,
                    volumes=vols,
                    images=images if images is not None else {"busybox:latest": "sha256:img"})


def test_fresh_stack_creates_everything(load: LoadFn) -> None:
    stack = load(STACK)
    plan = plan_up(stack, desired_services(stack),
                   Observed(project="proj", images={"busybox:latest": None}))
    assert [(n.name, n.action) for n in plan.networks] == [("proj_default", Action.CREATE)]
    assert [(v.name, v.action) for v in plan.volumes] == [("proj_data", Action.CREATE)]
    assert [(i.ref, i.action) for i in plan.images()] == [("busybox:latest", Action.PULL)]
    assert [(c.name, c.action, c.reason) for s in plan.services.values()
            for c in s.containers] == [("proj-db-1", Action.CREATE, "missing"),
                                       ("proj-web-1", Action.CREATE, "missing")]
    assert plan.counts() == {"create": 4, "pull": 1}


def test_unchanged_stack_is_a_no_op_and_says_so(load: LoadFn) -> None:
    stack = load(STACK)
    observed = observed_for(stack, running(stack, "db"), running(stack, "web"))
    plan = plan_up(stack, desired_services(stack), observed)
    assert plan.empty
    assert plan.render() == ['Project "proj" is up to date: nothing to do.']


def test_changed_environment_recreates_that_service_only_and_names_the_field(
        load: LoadFn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    before = load(STACK)
    after = load_text(STACK.replace('A: "1"', 'A: "2"'), tmp_path)
    observed = observed_for(after, running(before, "db"), running(before, "web"))
    plan = plan_up(after, desired_services(after), observed)
    db = plan.services["db"].containers[0]
    assert (db.action, db.reason, db.fields) == (Action.RECREATE, "config changed: environment",
                                                 ("environment",))
    assert plan.services["web"].containers[0].action is Action.NOOP
    assert plan.render() == [
        "-/+ container proj-db-1: config changed: environment",
        'Plan for project "proj": 1 to recreate.',
    ]


def test_unknown_previous_fields_still_recreate_on_hash_change(load: LoadFn) -> None:
    stack = load(STACK)
    observed = observed_for(stack, running(stack, "db", config_hash="old", fields={}),
                            running(stack, "web"))
    db = plan_up(stack, desired_services(stack), observed).services["db"].containers[0]
    assert (db.action, db.reason) == (Action.RECREATE, "config hash changed")


def test_force_recreate_recreates_all_and_no_recreate_keeps_changed(load: LoadFn) -> None:
    stack = load(STACK)
    observed = observed_for(stack, running(stack, "db", config_hash="old"),
                            running(stack, "web"))
    forced = plan_up(stack, desired_services(stack), observed,
                     options=PlanOptions(force_recreate=True))
    assert {c.action for s in forced.services.values() for c in s.containers} == {
        Action.RECREATE}
    kept = plan_up(stack, desired_services(stack), observed,
                   options=PlanOptions(no_recreate=True))
    assert kept.empty
    with pytest.raises(ConfigError, match="cannot be used together"):
        plan_up(stack, desired_services(stack), observed,
                options=PlanOptions(force_recreate=True, no_recreate=True))


def test_stopped_container_is_started(load: LoadFn) -> None:
    stack = load(STACK)
    observed = observed_for(stack, running(stack, "db", state=api.ContainerState.EXITED),
                            running(stack, "web"))
    db = plan_up(stack, desired_services(stack), observed).services["db"].containers[0]
    assert (db.action, db.reason, db.container_id) == (Action.START, "exited", "id-db-1")


def test_image_changed_recreates(load: LoadFn) -> None:
    stack = load(STACK)
    observed = observed_for(stack, running(stack, "db", image_id="sha256:older"),
                            running(stack, "web"))
    db = plan_up(stack, desired_services(stack), observed).services["db"].containers[0]
    assert (db.action, db.reason) == (Action.RECREATE, "image changed")


def test_scale_up_and_down_numbers_like_compose(load: LoadFn) -> None:
    stack = load(STACK)
    up = plan_up(stack, desired_services(stack, scale={"db": 3}),
                 observed_for(stack, running(stack, "db"), running(stack, "web")))
    assert [(c.number, c.action, c.reason) for c in up.services["db"].containers] == [
        (1, Action.NOOP, "up to date"), (2, Action.CREATE, "scale to 3"),
        (3, Action.CREATE, "scale to 3")]
    down = plan_up(stack, desired_services(stack, scale={"db": 1}),
                   observed_for(stack, *(running(stack, "db", n) for n in (1, 2, 3)),
                                running(stack, "web")))
    assert [(c.name, c.action) for c in down.services["db"].containers] == [
        ("proj-db-1", Action.NOOP), ("proj-db-3", Action.REMOVE), ("proj-db-2", Action.REMOVE)]


def test_scale_fills_the_lowest_free_number(load: LoadFn) -> None:
    stack = load(STACK)
    plan = plan_up(stack, desired_services(stack, scale={"db": 3}),
                   observed_for(stack, running(stack, "db", 1), running(stack, "db", 3),
                                running(stack, "web")))
    assert [(c.number, c.action) for c in plan.services["db"].containers] == [
        (1, Action.NOOP), (3, Action.NOOP), (2, Action.CREATE)]


def test_replicas_from_deploy_and_scale(load: LoadFn) -> None:
    stack = load("services:\n  a: {image: busybox:latest, deploy: {replicas: 2}}\n")
    plan = plan_up(stack, desired_services(stack), Observed(project="proj"))
    assert [c.name for c in plan.services["a"].containers] == ["proj-a-1", "proj-a-2"]


def test_orphans_warned_or_removed(load: LoadFn) -> None:
    stack = load(STACK)
    orphan = running(stack, "db")
    orphan = type(orphan)(**{**{f: getattr(orphan, f) for f in orphan.__slots__},
                             "service": "gone", "name": "proj-gone-1", "id": "id-gone"})
    observed = observed_for(stack, running(stack, "db"), running(stack, "web"), orphan)
    kept = plan_up(stack, desired_services(stack), observed)
    assert kept.empty
    assert kept.orphans[0].reason == ('orphan: service "gone" is not in the stack '
                                      "(use --remove-orphans to remove it)")
    removed = plan_up(stack, desired_services(stack), observed,
                      options=PlanOptions(remove_orphans=True))
    assert [(c.name, c.action) for c in removed.orphans] == [("proj-gone-1", Action.REMOVE)]


def test_selected_services_only(load: LoadFn) -> None:
    stack = load(STACK)
    plan = plan_up(stack, desired_services(stack), Observed(project="proj"),
                   options=PlanOptions(services=frozenset({"db"})))
    assert list(plan.services) == ["db"]
    assert plan.networks[0].name == "proj_default"


def test_missing_external_network_is_an_error(load: LoadFn) -> None:
    stack = load("services:\n  a: {image: busybox:latest, networks: [ext]}\n"
                 "networks:\n  ext: {external: true, name: outside}\n")
    with pytest.raises(StackError, match='network "outside" is declared as external, but '
                                         "could not be found"):
        plan_up(stack, desired_services(stack), Observed(project="proj"))


def test_external_network_present_is_used_not_created(load: LoadFn) -> None:
    stack = load("services:\n  a: {image: busybox:latest, networks: [ext]}\n"
                 "networks:\n  ext: {external: true, name: outside}\n")
    plan = plan_up(stack, desired_services(stack),
                   observed_for(stack, networks=["outside"], volumes=[]))
    assert [(n.name, n.action, n.external) for n in plan.networks] == [
        ("outside", Action.NOOP, True)]


def test_container_name_cannot_scale(load: LoadFn) -> None:
    stack = load("services:\n  a: {image: busybox:latest, container_name: fixed}\n")
    with pytest.raises(ConfigError, match='service "a" has a container_name and cannot be '
                                          "scaled to 2 replicas"):
        plan_up(stack, desired_services(stack, scale={"a": 2}), Observed(project="proj"))


def test_start_first_only_where_asked_and_safe(load: LoadFn) -> None:
    text = """
services:
  a:
    image: busybox:latest
    environment: {X: "1"}
    healthcheck: {test: ["CMD", "true"]}
    deploy: {update_config: {order: start-first}}
  b:
    image: busybox:latest
    environment: {X: "1"}
    deploy: {update_config: {order: start-first}}
  c:
    image: busybox:latest
    environment: {X: "1"}
"""
    stack = load(text)
    observed = observed_for(stack, *(running(stack, s, config_hash="old") for s in "abc"))
    plan = plan_up(stack, desired_services(stack), observed)
    assert {s: plan.services[s].containers[0].start_first for s in "abc"} == {
        "a": True, "b": False, "c": False}


def test_plan_as_json(load: LoadFn) -> None:
    stack = load(STACK)
    plan = plan_up(stack, desired_services(stack),
                   observed_for(stack, running(stack, "db", config_hash="x", fields={})))
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["counts"] == {"create": 1, "recreate": 1}
    web = data["services"]["web"]["containers"][0]
    assert (web["action"], web["symbol"], web["reason"]) == ("create", "+", "missing")
    db = data["services"]["db"]["containers"][0]
    assert (db["symbol"], db["id"]) == ("-/+", "id-db-1")


def test_down_stops_dependants_first_and_keeps_volumes_without_v(load: LoadFn) -> None:
    stack = load(STACK)
    observed = observed_for(stack, running(stack, "db"), running(stack, "web"))
    down = plan_down(observed, stop_order=graph.stop_order(graph.build_graph(stack)),
                     services=frozenset(stack.services), remove_volumes=False,
                     remove_orphans=False)
    assert [[c.name for c in gen] for gen in down.stop_generations] == [
        ["proj-web-1"], ["proj-db-1"]]
    assert [n.name for n in down.networks] == ["proj_default"]
    assert down.volumes == () and not down.anonymous_volumes
    with_v = plan_down(observed, stop_order=[], services=None, remove_volumes=True,
                       remove_orphans=True, external_names=frozenset({"proj_default"}))
    assert [v.name for v in with_v.volumes] == ["proj_data"]
    assert with_v.anonymous_volumes  # the containers' own go with them, as compose down -v
    assert with_v.networks == ()  # external by name: never removed


def test_down_order_from_labels_without_the_file(load: LoadFn) -> None:
    """`down -p NAME` with no file: the depends-on labels give the stop order."""
    import dataclasses

    from orchestrator.plan import label_start_order

    stack = load(STACK)
    web = dataclasses.replace(running(stack, "web"), depends_on=("db",))
    db = running(stack, "db")
    extra = dataclasses.replace(running(stack, "db"), service="cache", name="proj-cache-1",
                                id="id-cache", depends_on=("gone",))
    assert label_start_order([web, db, extra]) == [["cache", "db"], ["web"]]
    down = plan_down(observed_for(stack, web, db, extra), services=None,
                     remove_volumes=False, remove_orphans=True)
    assert [[c.name for c in gen] for gen in down.stop_generations] == [
        ["proj-web-1"], ["proj-cache-1", "proj-db-1"]]


def test_parse_scale() -> None:
    from orchestrator.cli.project_cmds import parse_scale
    from orchestrator.errors import UsageError

    assert parse_scale(["web=3", "db=0"]) == {"web": 3, "db": 0}
    with pytest.raises(UsageError, match='--scale "web": expected SERVICE=NUMBER'):
        parse_scale(["web"])
