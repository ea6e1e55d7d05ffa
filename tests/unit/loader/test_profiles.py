"""profiles: enabled services, explicit services, dependencies on disabled ones."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.errors import ConfigError
from orchestrator.loader.profiles import all_profiles, apply_profiles
from orchestrator.loader.yamlread import read_yaml

STACK = """
services:
  web: {image: w, depends_on: {db: {condition: service_started}, debug: {required: false}}}
  db: {image: d}
  debug: {image: b, profiles: [debug]}
  tools: {image: t, profiles: [tools, ops]}
  metrics: {image: m, profiles: [ops], depends_on: [db]}
"""


def apply(active: set[str], text: str = STACK, **kw: Any) -> dict[str, Any]:
    doc = read_yaml(text, file="f.yaml")
    return apply_profiles(doc.data, doc.sources, active, **kw)["services"]


def test_no_profiles_keeps_only_unprofiled_and_drops_optional_dependency() -> None:
    services = apply(set())
    assert list(services) == ["web", "db"]
    assert services["web"]["depends_on"] == {"db": {"condition": "service_started"}}


def test_active_profile_keeps_its_services_and_dependency() -> None:
    services = apply({"debug"})
    assert list(services) == ["web", "db", "debug"]
    assert "debug" in services["web"]["depends_on"]


def test_star_enables_all() -> None:
    assert list(apply({"*"})) == ["web", "db", "debug", "tools", "metrics"]


def test_requested_service_activates_its_profiles() -> None:
    assert list(apply(set(), requested={"tools"})) == ["web", "db", "tools", "metrics"]


def test_required_dependency_on_disabled_service_is_an_error() -> None:
    text = "services:\n  web:\n    image: w\n    depends_on: [debug]\n  debug: {image: b, profiles: [debug]}\n"
    with pytest.raises(ConfigError) as info:
        apply(set(), text)
    assert str(info.value) == (
        'f.yaml:4:18: services.web.depends_on[0]: service "web" depends on service "debug", '
        "which is not enabled\n"
        '  "debug" is only in profile(s) "debug"\n'
        "  hint: enable one of its profiles (--profile), or mark the dependency `required: false`"
    )


def test_undefined_dependency_is_left_for_checks() -> None:
    services = apply(set(), "services:\n  web: {image: w, depends_on: [ghost]}\n")
    assert services["web"]["depends_on"] == ["ghost"]


def test_input_not_modified() -> None:
    doc = read_yaml(STACK, file="f.yaml")
    apply_profiles(doc.data, doc.sources, set())
    assert "debug" in doc.data["services"]["web"]["depends_on"]


def test_all_profiles() -> None:
    assert all_profiles(read_yaml(STACK, file="f.yaml").data) == ["debug", "ops", "tools"]
