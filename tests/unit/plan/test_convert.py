"""Model -> engine configs: names, labels, mounts, networks, restart, healthcheck."""

from __future__ import annotations

from orchestrator.convert import (
    LABEL_FIELD_HASHES,
    ServiceIdentity,
    changed_fields,
    container_config,
    decode_field_hashes,
    desired_services,
    network_config,
    volume_config,
)
from runtime import api
from tests.unit.plan.stacks import LoadFn

TEXT = """
services:
  db:
    image: busybox:latest
    volumes: [data:/data, "./site:/srv:ro"]
    tmpfs: ["/run:size=1m"]
    restart: on-failure:3
    stop_grace_period: 2s
    stop_signal: SIGINT
  web:
    image: busybox:latest
    network_mode: service:db
  app:
    image: busybox:latest
    ports: ["127.0.0.1:8000-8001:80"]
    networks:
      back: {aliases: [api]}
    healthcheck: {test: ["CMD", "true"], interval: 1s}
    environment: {SET: "x", UNSET: null}
networks:
  back: {internal: true}
volumes:
  data: {name: explicit-data}
"""


def identity(load_stack, name: str) -> ServiceIdentity:  # type: ignore[no-untyped-def]
    want = desired_services(load_stack)[name]
    return ServiceIdentity(project="proj", config_hash=want.config_hash,
                           field_hashes=want.field_hashes)


def test_names_labels_and_mounts(load: LoadFn) -> None:
    stack = load(TEXT)
    cfg = container_config(stack, stack.services["db"], number=2,
                           identity=identity(stack, "db"))
    assert cfg.name == "proj-db-2"
    assert cfg.labels[api.LABEL_PROJECT] == "proj"
    assert cfg.labels[api.LABEL_SERVICE] == "db"
    assert cfg.labels[api.LABEL_NUMBER] == "2"
    assert cfg.labels[api.LABEL_ONEOFF] == "False"
    assert cfg.labels[api.LABEL_CONFIG_HASH] == desired_services(stack)["db"].config_hash
    assert "volumes" in decode_field_hashes(cfg.labels[LABEL_FIELD_HASHES])
    assert (cfg.mounts[0].type, cfg.mounts[0].source, cfg.mounts[0].target) == (
        "volume", "explicit-data", "/data")
    assert cfg.mounts[1].type == "bind" and cfg.mounts[1].read_only
    assert cfg.mounts[2] == api.Mount(type="tmpfs", target="/run", tmpfs_size=1 << 20)
    assert cfg.restart == api.RestartPolicy(name="on-failure", max_attempts=3)
    assert (cfg.stop_signal, cfg.stop_timeout) == ("SIGINT", 2.0)


def test_network_mode_service_points_at_its_first_container(load: LoadFn) -> None:
    stack = load(TEXT)
    cfg = container_config(stack, stack.services["web"], number=1,
                           identity=identity(stack, "web"))
    assert (cfg.network_mode, cfg.networks) == ("container:proj-db-1", ())


def test_networks_ports_env_healthcheck(load: LoadFn) -> None:
    stack = load(TEXT)
    cfg = container_config(stack, stack.services["app"], number=2,
                           identity=identity(stack, "app"))
    assert cfg.networks == (api.EndpointConfig(network="proj_back", aliases=("app", "api")),)
    # a host port range gives each replica its own port
    assert cfg.ports == (api.PortBinding(container_port=80, host_ip="127.0.0.1",
                                         host_port=8001),)
    assert dict(cfg.env) == {"SET": "x"}
    assert cfg.healthcheck is not None
    assert (cfg.healthcheck.test, cfg.healthcheck.interval) == (("CMD", "true"), 1.0)
    net = network_config(stack, stack.networks["back"])
    assert (net.name, net.internal, net.labels[api.LABEL_NETWORK]) == ("proj_back", True, "back")
    vol = volume_config(stack, stack.volumes["data"])
    assert (vol.name, vol.labels[api.LABEL_PROJECT]) == ("explicit-data", "proj")


def test_oneoff_containers(load: LoadFn) -> None:
    stack = load(TEXT)
    cfg = container_config(stack, stack.services["db"], number=1, identity=identity(stack, "db"),
                           oneoff=True, name="proj-db-run-abc", command=("echo", "hi"),
                           ports=())
    assert (cfg.name, cfg.command, cfg.labels[api.LABEL_ONEOFF]) == (
        "proj-db-run-abc", ("echo", "hi"), "True")
    assert cfg.restart == api.RestartPolicy()


def test_changed_fields() -> None:
    assert changed_fields({"a": "1", "b": "2", "_version": "1"},
                          {"a": "1", "b": "3", "c": "4", "_version": "2"}) == ("b", "c")
    assert decode_field_hashes("not json") == {}
