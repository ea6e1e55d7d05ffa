"""Schema validation: messages for humans, with positions, sorted, and cached."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.loader import validate
from orchestrator.loader.yamlread import read_yaml


def run(text: str) -> None:
    doc = read_yaml(text, file="stack.yaml")
    validate.validate(doc.data, doc.sources, use_cache=False)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        run(text)
    return str(exc.value)


CASES = [
    ("services:\n  web:\n    image: x\n    enviroment: [A=1]\n",
     'stack.yaml:4:5: services.web: unknown key "enviroment" (did you mean "environment"?)'),
    ("servics:\n  web: {image: x}\n",
     'stack.yaml:1:1: unknown top-level key "servics" (did you mean "services"?)'),
    ("services:\n  web:\n    image: [x]\n",
     "stack.yaml:3:5: services.web.image: must be a string, not a list"),
    ("services:\n  web:\n    image: x\n    ports:\n      - target: 80\n        published: [1]\n",
     "stack.yaml:6:9: services.web.ports[0].published: must be a string or an integer, not a list"),
    ("services:\n  web:\n    image: x\n    depends_on:\n      db: {condition: service_healty}\n",
     'stack.yaml:5:12: services.web.depends_on.db.condition: "service_healty" is not allowed (did you mean "service_healthy"?)'),
    ("services:\n  web:\n    build: {context: ., dockerfil: Dockerfile}\n",
     'stack.yaml:3:25: services.web.build: unknown key "dockerfil" (did you mean "dockerfile"?)'),
    ("services:\n  we b: {image: x}\n",
     'stack.yaml:2:3: services: invalid name "we b": use only letters, digits, ".", "_" and "-"'),
    ("services:\n  web:\n    image: x\n    volumes:\n      - {type: bind, source: ., targt: /x}\n",
     'stack.yaml:5:33: services.web.volumes[0]: unknown key "targt" (did you mean "target"?)'),
    ("services:\n  web:\n    image: x\n    environment: 3\n",
     "stack.yaml:4:5: services.web.environment: must be a mapping or a list, not an integer"),
    ("services:\n  web:\n    image: x\n    env_file: [{pth: x}]\n",
     'stack.yaml:4:17: services.web.env_file[0]: unknown key "pth" (did you mean "path"?)'),
    ("services:\n  web:\n    image: x\n    ports: [{published: 80}]\n",
     'stack.yaml:4:13: services.web.ports[0]: missing required key "target"'),
    ("services:\n  web:\n    image: x\n    cap_add: [A, A]\n",
     "stack.yaml:4:5: services.web.cap_add: contains duplicate entries"),
    ("services:\n  web:\n    image: x\n    pull_policy: allways\n",
     'stack.yaml:4:5: services.web.pull_policy: "allways" is not a valid value (did you mean "always"?)'),
    ("services:\n  web:\n    image: x\n    deploy: {resources: {limits: {memroy: 1g}}}\n",
     'stack.yaml:4:35: services.web.deploy.resources.limits: unknown key "memroy" (did you mean "memory"?)'),
]


@pytest.mark.parametrize(("text", "message"), CASES)
def test_messages(text: str, message: str) -> None:
    assert error_of(text) == message


def test_several_errors_sorted_by_position() -> None:
    text = (
        "services:\n"
        "  web:\n"
        "    image: x\n"
        "    tty: [1]\n"
        "    enviroment: {}\n"
        "  db:\n"
        "    imag: y\n"
    )
    assert error_of(text) == (
        "stack.yaml:4:5: services.web.tty: must be a boolean or a string, not a list\n"
        "  2 more errors:\n"
        '  stack.yaml:5:5: services.web: unknown key "enviroment" (did you mean "environment"?)\n'
        '  stack.yaml:7:5: services.db: unknown key "imag" (did you mean "image"?)'
    )


def test_extensions_and_strings_for_numbers_are_allowed() -> None:
    run(
        "x-common: &c {restart: always}\n"
        "services:\n"
        "  web:\n"
        "    image: x\n"
        "    x-anything: [1, 2]\n"
        "    scale: '2'\n"
        "    tty: 'true'\n"
        "    cpus: '0.5'\n"
        "networks:\n  n: {x-note: hi}\n"
    )


def test_cache_remembers_success_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    good = read_yaml("services:\n  web: {image: x}\n", file="stack.yaml")
    validate.validate(good.data, good.sources)
    assert len(list((tmp_path / "stack" / "valid").iterdir())) == 1
    validate.validate(good.data, good.sources)  # a hit: no second entry
    assert len(list((tmp_path / "stack" / "valid").iterdir())) == 1
    bad = read_yaml("services:\n  web: {image: 1}\n", file="stack.yaml")
    for _ in range(2):
        with pytest.raises(ConfigError):
            validate.validate(bad.data, bad.sources)
    assert len(list((tmp_path / "stack" / "valid").iterdir())) == 1


def test_unwritable_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    doc = read_yaml("services:\n  web: {image: x}\n", file="stack.yaml")
    validate.validate(doc.data, doc.sources)


def test_cache_is_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(validate, "CACHE_ENTRIES", 4)
    for i in range(5):
        doc = read_yaml(f"services:\n  web{i}: {{image: x}}\n", file="stack.yaml")
        validate.validate(doc.data, doc.sources)
    assert len(list((tmp_path / "stack" / "valid").iterdir())) == 2
