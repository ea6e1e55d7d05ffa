"""Semantic checks: the full message, with the location of the offending value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator import model as m
from orchestrator.errors import ConfigError
from orchestrator.loader import bind, checks, normalize, validate
from orchestrator.loader.yamlread import read_yaml

LoadFn = Callable[..., m.Stack]

CASES = [
    ("services:\n  web: {build: {context: .}}\n  api: {}\n",
     'stack.yaml:3:3: services.api: service "api" has neither an image nor a build context\n'
     "  hint: add `image: NAME` or `build: DIRECTORY`"),
    ("services:\n  web:\n    image: x\n    networks: [front]\n",
     'stack.yaml:4:16: services.web.networks.front: service "web" refers to undefined network "front"\n'
     "  hint: declare it under the top-level `networks:`"),
    ("services:\n  web:\n    image: x\n    volumes: ['data:/data']\nvolumes:\n  date: {}\n",
     'stack.yaml:4:15: services.web.volumes[0]: service "web" refers to undefined volume "data"\n'
     "  hint: declare it under the top-level `volumes:` (declared: date)"),
    ("services:\n  web:\n    image: x\n    secrets: [token]\n",
     'stack.yaml:4:15: services.web.secrets[0]: service "web" refers to undefined secret "token"\n'
     "  hint: declare it under the top-level `secrets:`"),
    ("services:\n  web:\n    image: x\n    configs: [{source: conf}]\n",
     'stack.yaml:4:15: services.web.configs[0]: service "web" refers to undefined config "conf"\n'
     "  hint: declare it under the top-level `configs:`"),
    ("services:\n  web:\n    image: x\n    container_name: web\n    scale: 2\n",
     'stack.yaml:4:5: services.web.container_name: service "web" sets container_name "web" but asks for 2 replicas: a container name must be unique\n'
     "  hint: remove container_name, or run one replica"),
    ("services:\n  web:\n    image: x\n    network_mode: host\n    networks: [default]\n",
     'stack.yaml:4:5: services.web.network_mode: service "web" declares both network_mode and networks\n'
     "  hint: network_mode shares another namespace; drop one of them"),
    ("services:\n  web:\n    image: x\n    network_mode: 'service:vpn'\n",
     'stack.yaml:4:5: services.web.network_mode: service "web" uses network_mode "service:vpn", but there is no service "vpn"'),
    ("services:\n  web:\n    image: x\n    volumes_from: ['data:ro']\n",
     'stack.yaml:4:20: services.web.volumes_from[0]: service "web" takes volumes_from undefined service "data"'),
    ("services:\n  web:\n    image: x\n    depends_on: [db]\n",
     'stack.yaml:4:18: services.web.depends_on.db: service "web" depends on undefined service "db"\n'
     "  hint: define a service of that name, or remove the dependency"),
    ("services:\n  web:\n    image: x\n    depends_on: {db: {condition: service_started, required: false}}\n",
     'stack.yaml:4:18: services.web.depends_on.db: service "web" depends on undefined service "db"\n'
     "  hint: define a service of that name, or remove the dependency"),
    ("services:\n  web:\n    image: x\n    depends_on: [postgress]\n  postgres: {image: y}\n",
     'stack.yaml:4:18: services.web.depends_on.postgress: service "web" depends on undefined service "postgress"\n'
     '  hint: did you mean "postgres"?'),
    ("services:\n  web:\n    image: x\n    links: ['db:database']\n",
     'stack.yaml:4:13: services.web.links[0]: service "web" links to undefined service "db"'),
    ("services:\n  web:\n    image: x\n    restart: sometimes\n",
     'stack.yaml:4:5: services.web.restart: service "web" has an invalid restart policy "sometimes"\n'
     "  hint: use no, always, on-failure[:N] or unless-stopped"),
    ("services:\n  web:\n    image: x\n    networks: {default: {ipv4_address: 10.0.0.300}}\n",
     'stack.yaml:4:26: services.web.networks.default.ipv4_address: service "web" has an invalid ipv4_address "10.0.0.300" on network "default"'),
]


@pytest.mark.parametrize(("text", "message"), CASES)
def test_check_errors(load: LoadFn, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load(text)
    assert str(exc.value) == message


@pytest.mark.parametrize("text", [
    # different host IPs, different protocols, ranges and ephemeral ports do not clash
    "services:\n  a: {image: x, ports: ['127.0.0.1:80:80']}\n  b: {image: x, ports: ['127.0.0.2:80:80']}\n",
    "services:\n  a: {image: x, ports: ['53:53/udp']}\n  b: {image: x, ports: ['53:53/tcp']}\n",
    "services:\n  a: {image: x, ports: ['8000-8010:80']}\n  b: {image: x, ports: ['8000-8010:80', 80]}\n",
    "services:\n  a: {image: x, network_mode: 'service:b'}\n  b: {image: x, restart: 'on-failure:3'}\n",
    "services:\n  a: {image: x, ports: ['8000-8002:80'], scale: 2}\n  b: {image: x, ports: ['8001:80']}\n",
    "services:\n  a: {image: x, ports: ['8000:80', '8000:80/udp', 80], scale: 1}\n",
])
def test_valid(load: LoadFn, text: str) -> None:
    load(text)


PORT_WARNINGS = [
    ("services:\n  web:\n    image: x\n    ports: ['8080:80']\n  api:\n    image: y\n    ports: ['8080:8080']\n",
     'stack.yaml:4:13: services.web.ports[0]: services "api" and "web" both publish host port 8080/tcp on *; '
     "change the published port of one of them"),
    ("services:\n  web:\n    image: x\n    ports: ['9000:80']\n    deploy: {replicas: 2}\n",
     'stack.yaml:4:13: services.web.ports[0]: service "web" publishes host port 9000/tcp but runs 2 replicas: '
     'only one container can hold a host port; publish a range with a port per replica ("9000-9001:80"), '
     "or leave the host port out so the engine picks one"),
    ("services:\n  web:\n    image: x\n    ports: ['9100-9101:80']\n    scale: 3\n",
     'stack.yaml:4:13: services.web.ports[0]: service "web" runs 3 replica(s) but host port range '
     "9100-9101/tcp has only 2 free port(s); widen the range, or run fewer replicas"),
    ("services:\n  web: {image: x, ports: ['7000-7001:80'], scale: 2}\n"
     "  a: {image: x, ports: ['7001:80', '127.0.0.1:7000:80/udp']}\n  b: {image: x, ports: ['127.0.0.1:7000:80']}\n",
     'stack.yaml:2:27: services.web.ports[0]: service "web" runs 2 replica(s) but host port range '
     '7000-7001/tcp has only 0 free port(s) (7000, 7001 published by "a", "b"); '
     "widen the range, or run fewer replicas"),
]


@pytest.mark.parametrize(("text", "message"), PORT_WARNINGS)
def test_host_ports_that_cannot_all_be_held_are_warnings(text: str, message: str) -> None:
    # Docker Compose v2.40 `config` accepts all of these (only `up` fails): so do we, and warn
    doc = read_yaml(text, file="stack.yaml")
    validate.validate(doc.data, doc.sources, use_cache=False)
    data = normalize.normalize(doc.data, doc.sources, project_name="p",
                               project_directory=Path("/p"), environment={})
    stack = bind.bind(data, doc.sources, project_name="p", project_directory=Path("/p"),
                      files=(Path("/p/stack.yaml"),))
    warnings: list[str] = []
    checks.check(stack, doc.sources, warnings=warnings)
    assert warnings == [message]
