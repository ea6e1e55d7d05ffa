"""extends: same file, other files, nested chains, relative paths, cycles, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import ConfigError, CycleError, FileNotFoundStackError
from orchestrator.loader.extends import absolutize_service, apply_extends
from orchestrator.loader.load import LoadOptions, load_raw
from orchestrator.loader.merge import merge_documents
from orchestrator.loader.source import SourceMap
from orchestrator.loader.yamlread import RESET, read_yaml

FIXTURES = Path(__file__).parents[2] / "fixtures" / "loader"


def load(case: str, file: str = "compose.yaml") -> dict[str, Any]:
    return load_raw(LoadOptions(files=(Path(file),), working_dir=FIXTURES / case)).data


def extend(text: str) -> dict[str, Any]:
    doc = read_yaml(text, file="f.yaml")

    def no_files(path: Path) -> Any:
        raise AssertionError(path)

    return apply_extends(doc.data, doc.sources, file=Path("/p/f.yaml"), project_directory=Path("/p"),
                         read_file=no_files)


def test_same_file_short_and_long_forms() -> None:
    data = extend(
        "services:\n  base: {image: a, environment: [A=1], ports: ['80:80']}\n"
        "  web: {extends: base, environment: {B: 2}, ports: ['81:81']}\n"
        "  api: {extends: {service: web}, image: b}\n"
    )
    assert data["services"]["web"] == {
        "image": "a", "environment": {"A": "1", "B": 2}, "ports": ["80:80", "81:81"],
    }
    assert data["services"]["api"] == {
        "image": "b", "environment": {"A": "1", "B": 2}, "ports": ["80:80", "81:81"],
    }
    assert data["services"]["base"] == {"image": "a", "environment": ["A=1"], "ports": ["80:80"]}


def test_extending_service_overrides_with_compose_rules() -> None:
    data = extend(
        "services:\n  base: {image: a, command: [x, y], depends_on: [db]}\n"
        "  web: {extends: base, command: [z], depends_on: {cache: {condition: service_healthy}}}\n"
    )
    assert data["services"]["web"] == {
        "image": "a", "command": ["z"],
        "depends_on": {"db": {"condition": "service_started", "required": True},
                       "cache": {"condition": "service_healthy"}},
    }


def test_reset_in_extending_service_is_kept_for_the_file_merge() -> None:
    doc = read_yaml("services:\n  base: {image: a, ports: ['80:80']}\n"
                    "  web: {extends: base, ports: !reset []}\n", file="f.yaml")
    data = apply_extends(doc.data, doc.sources, file=Path("/p/f.yaml"), project_directory=Path("/p"),
                         read_file=lambda p: ({}, SourceMap()))
    # the marker still applies to what earlier -f files say about web; merging strips it
    assert data["services"]["web"] == {"image": "a", "ports": RESET}
    earlier = read_yaml("services:\n  web: {ports: ['90:90']}\n", file="e.yaml")
    merged, _ = merge_documents(earlier.data, earlier.sources, data, doc.sources)
    assert merged["services"]["web"] == {"image": "a"}


def test_other_files_nested_with_relative_paths() -> None:
    root = FIXTURES / "extends_other_file"
    data = load("extends_other_file")
    web = data["services"]["web"]
    assert web == {
        "labels": {"tier": "root"},
        "volumes": [f"{root}/shared/root-data:/root", f"{root}/common/data:/data", "named:/named",
                    {"type": "bind", "source": f"{root}/common/conf", "target": "/conf"}],
        "build": f"{root}/common",
        "env_file": f"{root}/common/app.env",
        "environment": {"LEVEL": "base", "ROLE": "web"},
        "image": "web:1",
    }
    worker = data["services"]["worker"]
    assert worker["command"] == ["work"]
    assert worker["volumes"][1] == "./local:/data"  # same target: replaced in place, stays relative


def test_extends_positions_point_at_the_base_file() -> None:
    raw = load_raw(LoadOptions(working_dir=FIXTURES / "extends_other_file"))
    loc = raw.sources.locate(("services", "web", "build"))
    assert str(loc) == f"{FIXTURES}/extends_other_file/common/base.yaml:4:5"
    assert str(raw.sources.locate(("services", "web", "image"))) == (
        f"{FIXTURES}/extends_other_file/compose.yaml:6:5"
    )


def test_cycle() -> None:
    with pytest.raises(CycleError) as info:
        load("extends_cycle")
    assert str(info.value) == (
        f"{FIXTURES}/extends_cycle/compose.yaml:9:5: services.c.extends: "
        'service "a" extends itself: a -> b -> c -> a'
    )


def test_self_extension() -> None:
    with pytest.raises(CycleError) as info:
        extend("services:\n  a: {extends: a}\n")
    assert str(info.value) == 'f.yaml:2:7: services.a.extends: service "a" extends itself: a -> a'


def test_unknown_service() -> None:
    with pytest.raises(ConfigError) as info:
        load("extends_errors", "unknown.yaml")
    path = FIXTURES / "extends_errors" / "unknown.yaml"
    assert str(info.value) == (
        f'{path}:3:5: services.web.extends: cannot extend service "web" in {path}: '
        'service "nope" not found\n'
        "  hint: define the service to extend, or name another file with `file:`"
    )


def test_unknown_service_in_other_file() -> None:
    with pytest.raises(ConfigError) as info:
        load("extends_errors", "unknown_in_file.yaml")
    path = FIXTURES / "extends_errors" / "unknown_in_file.yaml"
    assert str(info.value) == (
        f'{path}:3:5: services.web.extends: cannot extend service "web" in {path}: '
        'service "base" not found in unknown.yaml\n'
        "  hint: services there: web"
    )


def test_missing_file() -> None:
    with pytest.raises(FileNotFoundStackError) as info:
        load("extends_errors", "missing_file.yaml")
    here = FIXTURES / "extends_errors"
    assert str(info.value) == (
        f"{here}/missing_file.yaml:4:7: services.web.extends.file: "
        f'cannot extend service "web": file {here}/missing.yaml not found'
    )


def test_invalid_extends_value() -> None:
    with pytest.raises(ConfigError) as info:
        extend("services:\n  a: {extends: {file: x.yaml}}\n")
    assert str(info.value) == (
        'f.yaml:2:7: services.a.extends: service "a" has an extends without a service name\n'
        "  hint: write `extends: {service: base}` or `extends: base`"
    )


def test_absolutize_service_paths() -> None:
    service = {
        "build": {"context": "app", "additional_contexts": ["x=../lib", "img=docker-image://a"]},
        "env_file": ["a.env", {"path": "b.env", "required": False}],
        "volumes": ["./d:/d", "name:/n", "/abs:/abs", {"type": "volume", "source": "v", "target": "/v"}],
        "develop": {"watch": [{"path": "src", "action": "sync", "target": "/src"}]},
    }
    assert absolutize_service(service, base_dir=Path("/base/dir")) == {
        "build": {"context": "/base/dir/app",
                  "additional_contexts": ["x=/base/lib", "img=docker-image://a"]},
        "env_file": ["/base/dir/a.env", {"path": "/base/dir/b.env", "required": False}],
        "volumes": ["/base/dir/d:/d", "name:/n", "/abs:/abs",
                    {"type": "volume", "source": "v", "target": "/v"}],
        "develop": {"watch": [{"path": "/base/dir/src", "action": "sync", "target": "/src"}]},
    }
    assert absolutize_service({"build": "git@github.com:x/y.git"}, base_dir=Path("/b")) == {
        "build": "git@github.com:x/y.git",
    }
