"""normalize + bind: short syntax in, one typed long form out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator import model as m
from orchestrator.errors import ConfigError

LoadFn = Callable[..., m.Stack]


def test_minimal_service_gets_default_network(load: LoadFn) -> None:
    stack = load("services:\n  web:\n    image: nginx\n")
    web = stack.services["web"]
    assert web.image == "nginx"
    assert web.networks == {"default": m.ServiceNetwork()}
    assert stack.networks["default"].name == "proj_default"
    assert web.command is None and web.replicas == 1


def test_no_default_network_with_network_mode(load: LoadFn) -> None:
    stack = load("services:\n  web:\n    image: nginx\n    network_mode: host\n")
    assert stack.services["web"].networks == {}
    assert "default" not in stack.networks


def test_ports_volumes_and_paths(load: LoadFn, tmp_path: Path) -> None:
    stack = load(
        "services:\n"
        "  web:\n"
        "    build: ./app\n"
        "    ports: ['8080:80', '127.0.0.1:53:53/udp']\n"
        "    volumes: ['./data:/data:ro', 'db:/var/lib/db:nocopy', '/anon',\n"
        "              {type: tmpfs, target: /tmp, tmpfs: {size: 10m}}]\n"
        "volumes:\n  db: {}\n"
    )
    web = stack.services["web"]
    assert web.build == m.Build(context=str(tmp_path / "app"), dockerfile="Dockerfile")
    assert web.ports == (
        m.Port(target=80, published="8080"),
        m.Port(target=53, published="53", host_ip="127.0.0.1", protocol=m.Protocol.UDP),
    )
    assert web.volumes == (
        m.VolumeMount(type=m.MountType.BIND, source=str(tmp_path / "data"), target="/data",
                      read_only=True, bind=m.BindOptions()),
        m.VolumeMount(type=m.MountType.VOLUME, source="db", target="/var/lib/db",
                      volume=m.VolumeOptions(nocopy=True)),
        m.VolumeMount(type=m.MountType.VOLUME, target="/anon", volume=m.VolumeOptions()),
        m.VolumeMount(type=m.MountType.TMPFS, target="/tmp", tmpfs=m.TmpfsOptions(size=10 * 2**20)),
    )
    assert stack.volumes["db"].name == "proj_db"


def test_environment_and_env_file(load: LoadFn, tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("A=from-file\nB=from-file\n")
    stack = load(
        "services:\n"
        "  web:\n"
        "    image: x\n"
        "    env_file: app.env\n"
        "    environment: [B=own, HOME, UNSET, EMPTY=]\n",
        env={"HOME": "/home/me"},
    )
    assert stack.services["web"].environment == {
        "A": "from-file", "B": "own", "HOME": "/home/me", "UNSET": None, "EMPTY": ""}
    assert stack.services["web"].env_files == (str(tmp_path / "app.env"),)


def test_missing_env_file(load: LoadFn) -> None:
    with pytest.raises(ConfigError) as exc:
        load("services:\n  web:\n    image: x\n    env_file: [nope.env]\n")
    assert str(exc.value).startswith("stack.yaml:4:16: services.web.env_file[0]: env file ")
    assert str(exc.value).endswith('nope.env" not found\n  hint: create it, or mark it `required: false`')
    stack = load("services:\n  web:\n    image: x\n    env_file: [{path: nope.env, required: false}]\n")
    assert stack.services["web"].environment == {}


def test_depends_on_networks_healthcheck_deploy(load: LoadFn) -> None:
    stack = load(
        "services:\n"
        "  web:\n"
        "    image: x\n"
        "    depends_on: [db]\n"
        "    networks: {front: {aliases: [www], ipv4_address: 10.1.0.5}}\n"
        "    healthcheck: {test: curl -f localhost, interval: 1m30s, retries: '3'}\n"
        "    deploy:\n"
        "      replicas: 2\n"
        "      resources: {limits: {cpus: '0.5', memory: 512m}}\n"
        "      restart_policy: {condition: on-failure, delay: 5s}\n"
        "    ulimits: {nofile: 1024, nproc: {soft: 10, hard: 20}}\n"
        "    extra_hosts: ['db.local:10.0.0.1']\n"
        "    command: echo 'a b'\n"
        "    stop_grace_period: 1m\n"
        "  db:\n"
        "    image: pg\n"
        "    networks: [front]\n"
        "networks:\n  front: {}\n"
    )
    web = stack.services["web"]
    assert web.depends_on == {"db": m.DependsOn()}
    assert web.networks == {"front": m.ServiceNetwork(aliases=("www",), ipv4_address="10.1.0.5")}
    assert web.healthcheck == m.Healthcheck(test=("CMD-SHELL", "curl -f localhost"), interval=90.0, retries=3)
    assert web.deploy == m.Deploy(
        replicas=2,
        resources=m.Resources(limits=m.ResourceSpec(cpus=0.5, memory=512 * 2**20)),
        restart_policy=m.RestartPolicy(condition=m.RestartCondition.ON_FAILURE, delay=5.0),
    )
    assert web.replicas == 2
    assert web.ulimits == {"nofile": m.Ulimit(soft=1024, hard=1024), "nproc": m.Ulimit(soft=10, hard=20)}
    assert web.extra_hosts == (("db.local", "10.0.0.1"),)
    assert web.command == ("echo", "a b")
    assert web.stop_grace_period == 60.0


def test_resource_names(load: LoadFn, tmp_path: Path) -> None:
    stack = load(
        "services:\n  web: {image: x}\n"
        "volumes:\n  a: {}\n  b: {name: custom}\n  c: {external: true}\n  d: {external: {name: old}}\n"
        "networks:\n  n: {external: true, name: real}\n"
        "secrets:\n  s: {file: ./s.txt}\n"
    )
    assert [(v.key, v.name, v.external) for v in stack.volumes.values()] == [
        ("a", "proj_a", False), ("b", "custom", False), ("c", "c", True), ("d", "old", True)]
    assert stack.networks["n"].name == "real"
    assert stack.secrets["s"].file == str(tmp_path / "s.txt")


@pytest.mark.parametrize(("text", "message"), [
    ("services:\n  web:\n    image: x\n    ports: ['80:http']\n",
     'stack.yaml:4:13: services.web.ports[0]: "80:http" is not a valid port: container port "http" is not a number or range'),
    ("services:\n  web:\n    image: x\n    volumes: ['a:b:c:d']\n",
     'stack.yaml:4:15: services.web.volumes[0]: "a:b:c:d" is not a valid volume: use [SOURCE:]TARGET[:MODE]'),
    ("services:\n  web:\n    image: x\n    volumes: ['./a:/b:bogus']\n",
     'stack.yaml:4:15: services.web.volumes[0]: "./a:/b:bogus": unknown volume option "bogus"'),
    ("services:\n  web:\n    image: x\n    stop_grace_period: soon\n",
     'stack.yaml:4:5: services.web.stop_grace_period: "soon" is not a duration: use e.g. 30s, 1m30s, 500ms'),
    ("services:\n  web:\n    image: x\n    shm_size: lots\n",
     'stack.yaml:4:5: services.web.shm_size: "lots" is not a size: use e.g. 512m, 1g, or a number of bytes'),
    ("services:\n  web:\n    image: x\n    tty: maybe\n",
     'stack.yaml:4:5: services.web.tty: "maybe" is not a boolean: use true or false'),
    ("services:\n  web:\n    image: x\n    command: echo 'unclosed\n",
     "stack.yaml:4:5: services.web.command: cannot split the command line: No closing quotation"),
    ("services:\n  web:\n    image: x\nsecrets:\n  s: {name: x}\n",
     'stack.yaml:5:3: secrets.s: secret "s" has no source: set one of file, environment or content, or external: true'),
    ("services:\n  web:\n    image: x\n    pull_policy: sometimes\n",
     'stack.yaml:4:5: services.web.pull_policy: "sometimes" is not a valid value: use one of always, never, build, if_not_present, missing, refresh, daily, weekly'),
])
def test_normalize_errors(load: LoadFn, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load(text)
    assert str(exc.value) == message


def test_label_file_under_labels(load: LoadFn, tmp_path: Path) -> None:
    (tmp_path / "labels.txt").write_text("team=core\ntier=web\n")
    stack = load("services:\n  web:\n    image: x\n    label_file: labels.txt\n    labels: [tier=api]\n")
    assert stack.services["web"].labels == {"team": "core", "tier": "api"}


def test_implicit_dependencies(load: LoadFn) -> None:
    stack = load(
        "services:\n"
        "  a: {image: x, volumes_from: [b], links: ['c:cee'], network_mode: 'service:d',"
        " depends_on: {c: {condition: service_healthy}}}\n"
        "  b: {image: x}\n  c: {image: x}\n  d: {image: x}\n"
    )
    assert stack.services["a"].depends_on == {
        "c": m.DependsOn(condition=m.Condition.HEALTHY),
        "b": m.DependsOn(),
        "d": m.DependsOn(restart=True),
    }


def test_gpus_and_device_requests(load: LoadFn) -> None:
    stack = load(
        "services:\n  a:\n    image: x\n    gpus: all\n"
        "    deploy: {resources: {reservations: {devices: [{capabilities: [gpu], count: 2}]}}}\n"
    )
    a = stack.services["a"]
    assert a.gpus == (m.DeviceRequest(count=-1),)  # every GPU; compose prints no capabilities
    assert a.deploy is not None and a.deploy.resources is not None
    assert a.deploy.resources.reservations == m.ResourceSpec(
        devices=(m.DeviceRequest(capabilities=("gpu",), count=2),))


def test_numbers_become_strings_and_modes_as_compose_reads_them(load: LoadFn) -> None:
    # checked against Docker Compose v2.40: 010 is octal, floats print as Go's %v does
    stack = load(
        "services:\n  web:\n    image: x\n"
        "    environment: {A: 010, B: 1e6, C: 9.0, D: 0.5, E: 1_000, F: .inf, G: 1234567.5}\n"
        "    configs: [{source: c, mode: 0440}]\n"
        "configs:\n  c: {content: hi}\n"
    )
    web = stack.services["web"]
    assert dict(web.environment) == {"A": "8", "B": "1e+06", "C": "9", "D": "0.5", "E": "1000",
                                     "F": "+Inf", "G": "1.2345675e+06"}
    assert web.configs[0].mode == 0o440


def test_bare_build_args_come_from_the_environment(load: LoadFn) -> None:
    # as Docker Compose v2.40: a bare ARG takes the environment's value, or is left out
    stack = load("services:\n  web:\n    image: x\n    build: {context: ., args: [Z, Y, W=]}\n",
                 env={"Y": "yy"})
    build = stack.services["web"].build
    assert build is not None and dict(build.args) == {"Y": "yy", "W": ""}
