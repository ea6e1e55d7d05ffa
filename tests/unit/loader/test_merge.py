"""merge: the compose override rules, markers, and positions of the winning file."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import ConfigError
from orchestrator.loader.merge import merge_documents
from orchestrator.loader.source import SourceMap
from orchestrator.loader.yamlread import read_yaml


def merge(*texts: str) -> tuple[dict[str, Any], dict[tuple, str]]:
    data: dict[str, Any] = {}
    docs = [read_yaml(t, file=f"f{i}.yaml") for i, t in enumerate(texts)]
    sources = SourceMap()
    for doc in docs:
        data, sources = merge_documents(data, sources, doc.data, doc.sources)
    return data, {k: str(v) for k, v in sources.positions.items()}


def web(*texts: str) -> dict[str, Any]:
    return merge(*(f"services:\n  web:\n{_indent(t)}" for t in texts))[0]["services"]["web"]


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.strip("\n").split("\n"))


def test_mappings_merge_recursively_scalars_replace() -> None:
    assert web("image: a\ndeploy: {replicas: 1, labels: {a: '1'}}",
               "image: b\ndeploy: {resources: {}}") == {
        "image": "b", "deploy": {"replicas": 1, "labels": {"a": "1"}, "resources": {}},
    }


@pytest.mark.parametrize("key", ["command", "entrypoint"])
def test_command_like_replaced(key: str) -> None:
    assert web(f"{key}: [a, b]", f"{key}: [c]") == {key: ["c"]}
    assert web(f"{key}: [a, b]", f"{key}: c d") == {key: "c d"}


def test_healthcheck_test_replaced_rest_merged() -> None:
    assert web("healthcheck: {test: [CMD, a], interval: 5s}", "healthcheck: {test: [CMD, b]}") == {
        "healthcheck": {"test": ["CMD", "b"], "interval": "5s"},
    }


@pytest.mark.parametrize("key", ["environment", "labels", "sysctls", "annotations"])
def test_key_value_lists_and_mappings_merge_as_mappings(key: str) -> None:
    assert web(f"{key}: [A=1, B=2, C]", f"{key}: {{B: 3, D: null}}") == {
        key: {"A": "1", "B": 3, "C": None, "D": None},
    }
    assert web(f"{key}: {{A: 1}}", f"{key}: [A=2, E=5]") == {key: {"A": "2", "E": "5"}}


def test_build_args_merge_as_mapping() -> None:
    assert web("build: {context: ., args: [A=1]}", "build: {args: {B: 2}}") == {
        "build": {"context": ".", "args": {"A": "1", "B": 2}},
    }


def test_build_string_is_context() -> None:
    assert web("build: ./app", "build: {dockerfile: D}") == {
        "build": {"context": "./app", "dockerfile": "D"},
    }
    assert web("build: {context: a, target: t}", "build: b") == {"build": {"context": "b", "target": "t"}}


def test_extra_hosts_both_syntaxes_addresses_add_up() -> None:
    # as Docker Compose v2.40: a host named on both sides keeps both addresses
    assert web("extra_hosts: ['a:1.1.1.1', 'b=2.2.2.2']",
               "extra_hosts: {b: 3.3.3.3, c: '::1', a: [1.1.1.1, 4.4.4.4]}") == {
        "extra_hosts": {"a": ["1.1.1.1", "4.4.4.4"], "b": ["2.2.2.2", "3.3.3.3"], "c": "::1"},
    }


def test_ports_unique_by_full_tuple_in_either_syntax() -> None:
    assert web(
        "ports: ['8080:80', '127.0.0.1:9000:90/udp', 443]",
        "ports: [{target: 80, published: '8080', protocol: tcp, mode: host}, '9000:90/udp', '443']",
    ) == {"ports": [
        {"target": 80, "published": "8080", "protocol": "tcp", "mode": "host"},
        "127.0.0.1:9000:90/udp", "443", "9000:90/udp",
    ]}


def test_volumes_unique_by_target() -> None:
    assert web("volumes: ['./a:/data', 'logs:/logs:ro', /anon]",
               "volumes: [{type: bind, source: ./b, target: /data}, /other]") == {
        "volumes": [{"type": "bind", "source": "./b", "target": "/data"}, "logs:/logs:ro", "/anon",
                    "/other"],
    }


def test_secrets_and_configs_unique_by_target() -> None:
    assert web("secrets: [a, {source: b, target: /x}]",
               "secrets: [{source: a, target: /run/secrets/a, mode: 0o400}, {source: c, target: /x}]") == {
        "secrets": [{"source": "a", "target": "/run/secrets/a", "mode": 0o400}, {"source": "c", "target": "/x"}],
    }
    assert web("configs: [a]", "configs: [{source: a, target: /a, uid: '1'}]") == {
        "configs": [{"source": "a", "target": "/a", "uid": "1"}],
    }


@pytest.mark.parametrize("key", ["dns", "dns_search", "tmpfs", "env_file"])
def test_string_or_list_sequences(key: str) -> None:
    assert web(f"{key}: one", f"{key}: [two, one]") == {key: ["one", "two"]}


def test_env_file_unique_by_path_long_form() -> None:
    assert web("env_file: [a.env, b.env]", "env_file: [{path: a.env, required: false}]") == {
        "env_file": [{"path": "a.env", "required": False}, "b.env"],
    }


def test_unique_value_lists() -> None:
    assert web("cap_add: [NET_ADMIN, SYS_TIME]\nexpose: ['80', 81]\nprofiles: [a]",
               "cap_add: [SYS_TIME, CHOWN]\nexpose: ['80/tcp', '82']\nprofiles: [a, b]") == {
        "cap_add": ["NET_ADMIN", "SYS_TIME", "CHOWN"], "expose": ["80/tcp", 81, "82"],
        "profiles": ["a", "b"],
    }


def test_other_sequences_append() -> None:
    assert web("security_opt: [a]\ngroup_add: [x]", "security_opt: [a, b]") == {
        "security_opt": ["a", "a", "b"], "group_add": ["x"],
    }


def test_depends_on_list_and_mapping() -> None:
    assert web("depends_on: [db, cache]", "depends_on: {db: {condition: service_healthy}}") == {
        "depends_on": {
            "db": {"condition": "service_healthy", "required": True},
            "cache": {"condition": "service_started", "required": True},
        },
    }


def test_networks_list_and_mapping() -> None:
    assert web("networks: [front, back]", "networks: {back: {aliases: [b]}, extra: null}") == {
        "networks": {"front": None, "back": {"aliases": ["b"]}, "extra": None},
    }
    assert web("networks: {n: {aliases: [a, b]}}", "networks: {n: {aliases: [b, c]}}") == {
        "networks": {"n": {"aliases": ["a", "b", "c"]}},
    }


def test_ulimits() -> None:
    assert web("ulimits: {nofile: {soft: 1, hard: 2}, nproc: 5}",
               "ulimits: {nofile: {soft: 3}, nproc: {soft: 1, hard: 1}}") == {
        "ulimits": {"nofile": {"soft": 3, "hard": 2}, "nproc": {"soft": 1, "hard": 1}},
    }


def test_logging_same_driver_merges_other_replaces() -> None:
    assert web("logging: {driver: json-file, options: {a: '1'}}", "logging: {options: {b: '2'}}") == {
        "logging": {"driver": "json-file", "options": {"a": "1", "b": "2"}},
    }
    assert web("logging: {driver: json-file, options: {a: '1'}}", "logging: {driver: syslog}") == {
        "logging": {"driver": "syslog"},
    }


def test_ipam_config_by_subnet() -> None:
    data, _ = merge(
        "networks:\n  n:\n    ipam:\n      config: [{subnet: 10.0.0.0/24}, {subnet: 10.1.0.0/24}]\n",
        "networks:\n  n:\n    ipam:\n      config: [{subnet: 10.1.0.0/24, gateway: 10.1.0.1}]\n",
    )
    assert data["networks"]["n"]["ipam"]["config"] == [
        {"subnet": "10.0.0.0/24"}, {"subnet": "10.1.0.0/24", "gateway": "10.1.0.1"},
    ]


def test_reset_removes_value_from_earlier_files() -> None:
    assert web("ports: ['80:80']\nimage: a", "ports: !reset []") == {"image": "a"}
    assert web("environment: {A: 1}", "environment: !reset {}\n") == {}


def test_reset_in_a_later_file_then_set_again() -> None:
    assert web("ports: ['80:80']", "ports: !reset []", "ports: ['81:81']") == {"ports": ["81:81"]}


def test_reset_on_first_file_drops_the_key() -> None:
    assert web("ports: !reset ['80:80']\nimage: a") == {"image": "a"}


def test_override_replaces_instead_of_merging() -> None:
    assert web("ports: ['80:80', '81:81']\nenvironment: {A: 1}",
               "ports: !override ['82:82']\nenvironment: !override {B: 2}") == {
        "ports": ["82:82"], "environment": {"B": 2},
    }


def test_override_nested() -> None:
    assert web("deploy: {resources: {limits: {cpus: '1', memory: 1g}}}",
               "deploy: {resources: !override {limits: {cpus: '2'}}}") == {
        "deploy": {"resources": {"limits": {"cpus": "2"}}},
    }


def test_null_override_keeps_base() -> None:
    assert web("image: a", "image: null") == {"image": "a"}


def test_type_mismatch_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        web("deploy: {replicas: 1}", "deploy: [x]")
    assert str(info.value) == (
        "f1.yaml:3:5: services.web.deploy: cannot override services.web.deploy: "
        "a sequence cannot be merged into a mapping\n"
        "  hint: use !override to replace the earlier value"
    )


def test_positions_come_from_the_winning_file() -> None:
    data, pos = merge(
        "services:\n  web:\n    image: a\n    environment: [A=1, B=2]\n    ports: ['80:80']\n",
        "services:\n  web:\n    image: b\n    environment: {B: 3}\n    ports: ['81:81']\n",
    )
    assert pos[("services", "web", "image")] == "f1.yaml:3:5"
    assert pos[("services", "web", "environment", "A")] == "f0.yaml:4:19"
    assert pos[("services", "web", "environment", "B")] == "f1.yaml:4:19"
    assert pos[("services", "web", "ports", 0)] == "f0.yaml:5:13"
    assert pos[("services", "web", "ports", 1)] == "f1.yaml:5:13"
    assert data["services"]["web"]["ports"] == ["80:80", "81:81"]


def test_new_services_and_top_level_sections_are_added() -> None:
    data, pos = merge("services:\n  a: {image: a}\n", "services:\n  b: {image: b}\nvolumes:\n  v: {}\n")
    assert data == {"services": {"a": {"image": "a"}, "b": {"image": "b"}}, "volumes": {"v": {}}}
    assert pos[("services", "b", "image")] == "f1.yaml:2:7"


def test_inputs_are_not_modified() -> None:
    a = read_yaml("services:\n  web: {ports: ['1:1'], environment: [A=1]}\n", file="a")
    b = read_yaml("services:\n  web: {ports: ['2:2'], environment: [B=1]}\n", file="b")
    merge_documents(a.data, a.sources, b.data, b.sources)
    assert a.data == {"services": {"web": {"ports": ["1:1"], "environment": ["A=1"]}}}


# -- properties ------------------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=12,
)
_keys = st.sampled_from(["image", "ports", "environment", "volumes", "depends_on", "networks",
                         "command", "build", "labels", "ulimits", "logging", "x"])
_services = st.dictionaries(st.sampled_from(["web", "db"]), st.dictionaries(_keys, _values, max_size=4),
                            max_size=2)


@given(_services)
def test_merging_onto_nothing_is_identity(services: dict[str, Any]) -> None:
    doc = {"services": services}
    result, _ = merge_documents({}, SourceMap(), doc, SourceMap())
    assert result == doc


@given(_services, _services)
def test_merging_any_two_documents_gives_data_or_a_config_error(a: dict[str, Any], b: dict[str, Any]) -> None:
    with contextlib.suppress(ConfigError):
        merge_documents({"services": a}, SourceMap(), {"services": b}, SourceMap())
