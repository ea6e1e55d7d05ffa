"""interpolate: every substitution form, casts, warnings and error texts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import ConfigError
from orchestrator.loader.interpolate import interpolate, substitute
from orchestrator.loader.yamlread import Override, read_yaml

ENV = {"A": "a", "EMPTY": "", "N": "3", "T": "true"}


def sub(template: str, env: dict[str, str] = ENV) -> str:
    return substitute(template, lookup=env.get, on_unset=lambda _: None)


@pytest.mark.parametrize(("template", "expected"), [
    ("$A", "a"),
    ("${A}", "a"),
    ("x${A}y$A-z", "xaya-z"),
    ("${UNSET:-dflt}", "dflt"),
    ("${EMPTY:-dflt}", "dflt"),
    ("${A:-dflt}", "a"),
    ("${UNSET-dflt}", "dflt"),
    ("${EMPTY-dflt}", ""),
    ("${A:+repl}", "repl"),
    ("${EMPTY:+repl}", ""),
    ("${UNSET:+repl}", ""),
    ("${EMPTY+repl}", "repl"),
    ("${UNSET+repl}", ""),
    ("${A:?msg}", "a"),
    ("${EMPTY?msg}", ""),
    ("${UNSET:-${B:-inner}}", "inner"),
    ("${UNSET:-${A}-x}", "a-x"),
    ("${UNSET:-$A}", "a"),
    ("$$A", "$A"),
    ("$${A}", "${A}"),
    ("cost $5 and $", "cost $5 and $"),
    ("${A:-{x}}", "a"),
    ("no dollars", "no dollars"),
    ("${a_1:-x}", "x"),
])
def test_forms(template: str, expected: str) -> None:
    assert sub(template) == expected


def run(text: str, env: dict[str, str] = ENV) -> tuple[dict[str, Any], list[str]]:
    doc = read_yaml(text, file="f.yaml")
    warnings: list[str] = []
    return interpolate(doc.data, sources=doc.sources, environ=env, warnings=warnings), warnings


def error(text: str, env: dict[str, str] = ENV) -> str:
    with pytest.raises(ConfigError) as info:
        run(text, env)
    return str(info.value)


def test_values_interpolated_keys_not() -> None:
    data, _ = run("services:\n  ${A}:\n    image: img:$A\n    command: [x, '${A}']\n")
    assert data == {"services": {"${A}": {"image": "img:a", "command": ["x", "a"]}}}


def test_unset_variable_warns_once_and_defaults_blank() -> None:
    data, warnings = run("a: x${NOPE}y\nb: $NOPE\n")
    assert data == {"a": "xy", "b": ""}
    assert warnings == ['The "NOPE" variable is not set. Defaulting to a blank string.']


def test_missing_required_with_message() -> None:
    assert error("services:\n  web:\n    image: ${IMAGE:?set IMAGE first}\n") == (
        "f.yaml:3:5: services.web.image: required variable IMAGE is missing a value: set IMAGE first\n"
        "  hint: give IMAGE a value in the environment or in the .env file of the project directory"
    )


def test_missing_required_without_message_and_empty() -> None:
    assert error("x: ${EMPTY:?}\n") == (
        "f.yaml:1:1: x: required variable EMPTY is missing a value\n"
        "  hint: give EMPTY a value in the environment or in the .env file of the project directory"
    )


def test_required_message_is_interpolated() -> None:
    assert error("x: ${NOPE?need $A}\n") == (
        "f.yaml:1:1: x: required variable NOPE is missing a value: need a\n"
        "  hint: give NOPE a value in the environment or in the .env file of the project directory"
    )


@pytest.mark.parametrize("template", ["${A", "${}", "${1}", "${A!}", "x ${A:-${B}"])
def test_invalid_syntax(template: str) -> None:
    assert error(f"services:\n  web:\n    ports: ['{template}']\n") == (
        f'f.yaml:3:13: services.web.ports[0]: invalid interpolation format "{template}"\n'
        "  hint: you may need to escape any $ with another $"
    )


def test_typed_fields_are_cast() -> None:
    data, _ = run(
        "services:\n  w:\n    deploy: {replicas: '${N}'}\n    privileged: $T\n    cpus: '0.5'\n"
        "    ulimits: {nofile: {soft: '${N}'}}\n    image: '${N}'\n"
        "networks:\n  n: {external: 'yes'}\n"
    )
    svc = data["services"]["w"]
    assert svc["deploy"]["replicas"] == 3
    assert svc["privileged"] is True
    assert svc["cpus"] == 0.5
    assert svc["ulimits"]["nofile"]["soft"] == 3
    assert svc["image"] == "3"
    assert data["networks"]["n"]["external"] is True


def test_uncastable_is_left_for_validation() -> None:
    data, _ = run("services:\n  w:\n    deploy: {replicas: many}\n")
    assert data["services"]["w"]["deploy"]["replicas"] == "many"


def test_markers_are_seen_through() -> None:
    data, _ = run("x: !override [$A]\n")
    assert data == {"x": Override(["a"])}


def test_input_not_modified() -> None:
    doc = read_yaml("x: $A\n", file="f.yaml")
    interpolate(doc.data, sources=doc.sources, environ=ENV, warnings=[])
    assert doc.data == {"x": "$A"}


# -- properties ------------------------------------------------------------------------------

@given(st.text())
def test_escaped_text_round_trips(text: str) -> None:
    assert sub(text.replace("$", "$$")) == text


@given(st.text(alphabet=st.characters(blacklist_characters="$")))
def test_text_without_dollar_is_unchanged(text: str) -> None:
    assert sub(text) == text


@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), st.text(max_size=20))
def test_set_variable_round_trips_in_every_form(name: str, value: str) -> None:
    env = {name: value}
    assert sub(f"${{{name}}}", env) == value
    assert sub(f"${{{name}-x}}", env) == value
    assert sub(f"${{{name}?x}}", env) == value


def test_absurd_nesting_is_an_error_not_a_crash() -> None:
    template = "${NOPE:-" * 2000 + "x" + "}" * 2000
    assert error(f'a: "{template}"\n') == "f.yaml:1:1: a: interpolation is nested too deeply"
