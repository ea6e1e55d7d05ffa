"""The dependency graph: edges and their reasons, cycles, order, renderings."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator import graph
from orchestrator import model as m
from orchestrator.errors import CycleError

LoadFn = Callable[..., m.Stack]

STACK = """\
services:
  web:
    image: x
    depends_on:
      api: {condition: service_healthy}
      cache: {condition: service_started}
  api:
    image: x
    depends_on:
      db: {condition: service_healthy}
    links: [db]
  db:
    image: x
  cache:
    image: x
    volumes_from: [data]
  data:
    image: x
  sidecar:
    image: x
    network_mode: "service:api"
"""


def test_edges_and_reasons(load: LoadFn) -> None:
    g = graph.build_graph(load(STACK))
    assert sorted(g.edges) == [("api", "db"), ("cache", "data"), ("sidecar", "api"),
                               ("web", "api"), ("web", "cache")]
    assert g.edges["api", "db"]["reasons"] == ["links", "depends_on: service_healthy"]
    assert g.edges["sidecar", "api"]["reasons"] == ["network_mode"]


def test_generations(load: LoadFn) -> None:
    g = graph.build_graph(load(STACK))
    assert graph.start_order(g) == [["data", "db"], ["api", "cache"], ["sidecar", "web"]]
    assert graph.stop_order(g) == [["sidecar", "web"], ["api", "cache"], ["data", "db"]]
    assert graph.dependencies(g, "web") == ["api", "cache", "data", "db"]
    assert graph.dependants(g, "db") == ["api", "sidecar", "web"]


def test_text_tree(load: LoadFn) -> None:
    g = graph.build_graph(load(STACK))
    assert graph.render_text(g) == (
        "sidecar\n"
        "└── api (network_mode)\n"
        "    └── db (links, service_healthy)\n"
        "web\n"
        "├── api (service_healthy)\n"
        "│   └── db (links, service_healthy)\n"
        "└── cache (service_started)\n"
        "    └── data (volumes_from)"
    )


def test_dot_and_mermaid(load: LoadFn) -> None:
    g = graph.build_graph(load("services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x}\n"))
    assert graph.render_dot(g, name="proj") == (
        'digraph "proj" {\n  rankdir=LR;\n  node [shape=box];\n  "a";\n  "b";\n'
        '  "a" -> "b" [label="service_started"];\n}'
    )
    assert graph.render_mermaid(g) == (
        'graph TD\n  s_a["a"]\n  s_b["b"]\n  s_a -->|"service_started"| s_b'
    )


def test_cycle_names_the_cycle_with_location(load: LoadFn) -> None:
    text = (
        "services:\n"
        "  c: {image: x, depends_on: [a]}\n"
        "  a: {image: x, depends_on: [b]}\n"
        "  b: {image: x, depends_on: [c]}\n"
        "  d: {image: x}\n"
    )
    with pytest.raises(CycleError) as exc:
        load(text)
    assert str(exc.value) == (
        "stack.yaml:3:30: services.a.depends_on.b: dependency cycle: a -> b -> c -> a\n"
        "  hint: break the cycle: a service cannot wait for one that waits for it"
    )


def test_cycle_through_network_mode(load: LoadFn) -> None:
    text = "services:\n  a: {image: x, network_mode: 'service:b'}\n  b: {image: x, volumes_from: [a]}\n"
    with pytest.raises(CycleError) as exc:
        load(text)
    assert str(exc.value) == (
        "stack.yaml:2:17: services.a.network_mode: dependency cycle: a -> b -> a\n"
        "  hint: break the cycle: a service cannot wait for one that waits for it"
    )
