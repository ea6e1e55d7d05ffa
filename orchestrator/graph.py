"""The service dependency graph, its order, and its renderings for `stack graph`.

An edge ``a -> b`` means "a needs b": b starts first and stops last. Edges
come from depends_on, ``network_mode: service:b``, ``volumes_from: [b]`` and
``links: [b]``; the edge's ``reasons`` lists which (with the depends_on
condition). Pure: no I/O. Edges to services that are not in the stack (an
optional dependency left out) are skipped; checks.py reports required ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orchestrator import model as m
from orchestrator.errors import CycleError
from orchestrator.loader.source import SourceMap

DiGraph = Any  # networkx ships no type hints: nx.DiGraph, documented here


def build_graph(stack: m.Stack, sources: SourceMap | None = None) -> DiGraph:
    """The dependency DiGraph of ``stack``; raises CycleError naming a cycle."""
    import networkx as nx  # deferred: ~100 ms to import, and `stack config` does not need it

    check_cycles(stack, sources or SourceMap())
    g = nx.DiGraph()
    for name in stack.services:
        g.add_node(name)
    for (name, target), reasons in dependency_edges(stack).items():
        g.add_edge(name, target, reasons=reasons)
    return g


def dependency_edges(stack: m.Stack) -> dict[tuple[str, str], list[str]]:
    """``(a, b) -> reasons`` for every "a needs b" between services of the stack."""
    edges: dict[tuple[str, str], list[str]] = {}
    for name, svc in stack.services.items():
        for target, reason in _edges(svc):
            if target in stack.services:
                edges.setdefault((name, target), []).append(reason)
    return edges


def _edges(svc: m.Service) -> Iterable[tuple[str, str]]:
    named: set[str] = set()
    mode = svc.network_mode or ""
    if mode.startswith("service:"):
        named.add(mode[len("service:") :])
        yield mode[len("service:") :], "network_mode"
    for entry in svc.volumes_from:
        if not entry.startswith("container:"):
            named.add(entry.split(":", 1)[0])
            yield entry.split(":", 1)[0], "volumes_from"
    for link in svc.links:
        named.add(link.split(":", 1)[0])
        yield link.split(":", 1)[0], "links"
    for dep, d in svc.depends_on.items():
        # normalize adds a plain depends_on for each of the above: not a reason of its own
        if dep not in named or d.condition is not m.Condition.STARTED:
            yield dep, f"depends_on: {d.condition.value}"


def _find_cycle(successors: dict[str, list[str]]) -> list[str] | None:
    """A cycle as [a, b, ..., z] (z -> a closes it), or None. Iterative DFS in
    sorted order, so the same stack always reports the same cycle."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(successors):
        if state.get(root):
            continue
        path: list[str] = [root]
        iters = [iter(sorted(successors[root]))]
        state[root] = 1
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(sorted(successors.get(nxt, ()))))
    return None


def check_cycles(stack: m.Stack, sources: SourceMap) -> None:
    """Raise CycleError for a dependency cycle. Pure Python: no networkx import."""
    edges = dependency_edges(stack)
    successors: dict[str, list[str]] = {name: [] for name in stack.services}
    for a, b in edges:
        successors[a].append(b)
    names = _find_cycle(successors)
    if names is None:
        return
    # start the printed cycle at its alphabetically first service: stable across runs
    i = names.index(min(names))
    names = names[i:] + names[:i]
    first, second = names[0], names[1] if len(names) > 1 else names[0]
    key = edges[first, second][0].split(":")[0]
    path: tuple[str | int, ...] = ("services", first, key)
    if key == "depends_on":
        path = (*path, second)
    raise CycleError(
        f"dependency cycle: {' -> '.join([*names, names[0]])}",
        location=sources.locate(path),
        path=path,
        hint="break the cycle: a service cannot wait for one that waits for it",
    )


def start_order(g: DiGraph) -> list[list[str]]:
    """Generations to start in: each one's services depend only on earlier ones
    (so a generation can start in parallel). Sorted within a generation."""
    import networkx as nx

    return [sorted(gen) for gen in reversed(list(nx.topological_generations(g)))]


def stop_order(g: DiGraph) -> list[list[str]]:
    """Generations to stop in: dependants before what they depend on."""
    import networkx as nx

    return [sorted(gen) for gen in nx.topological_generations(g)]


def dependencies(g: DiGraph, name: str) -> list[str]:
    """Everything ``name`` needs, transitively, sorted."""
    import networkx as nx

    return sorted(nx.descendants(g, name))


def dependants(g: DiGraph, name: str) -> list[str]:
    """Everything that needs ``name``, transitively, sorted."""
    import networkx as nx

    return sorted(nx.ancestors(g, name))


def _label(g: DiGraph, a: str, b: str) -> str:
    return ", ".join(r.removeprefix("depends_on: ") for r in g.edges[a, b]["reasons"])


# --- renderings --------------------------------------------------------------


def render_text(g: DiGraph) -> str:
    """A tree per top-level service (one nothing depends on), its needs below it."""
    lines: list[str] = []
    roots = sorted(n for n in g.nodes if g.in_degree(n) == 0)

    def walk(node: str, prefix: str, seen: frozenset[str]) -> None:
        children = sorted(g.successors(node))
        for i, child in enumerate(children):
            last = i == len(children) - 1
            branch = "└── " if last else "├── "
            lines.append(f"{prefix}{branch}{child} ({_label(g, node, child)})")
            if child not in seen:
                walk(child, prefix + ("    " if last else "│   "), seen | {child})

    for root in roots:
        lines.append(root)
        walk(root, "", frozenset({root}))
    return "\n".join(lines)


def _dot_id(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(g: DiGraph, *, name: str) -> str:
    out = [f"digraph {_dot_id(name)} {{", "  rankdir=LR;", "  node [shape=box];"]
    for node in sorted(g.nodes):
        out.append(f"  {_dot_id(node)};")
    for a, b in sorted(g.edges):
        out.append(f"  {_dot_id(a)} -> {_dot_id(b)} [label={_dot_id(_label(g, a, b))}];")
    out.append("}")
    return "\n".join(out)


def _mermaid_id(name: str) -> str:
    # Mermaid ids are restricted; the label keeps the real name.
    return "s_" + "".join(c if c.isalnum() else "_" for c in name)


def render_mermaid(g: DiGraph) -> str:
    out = ["graph TD"]
    for node in sorted(g.nodes):
        out.append(f'  {_mermaid_id(node)}["{node}"]')
    for a, b in sorted(g.edges):
        label = _label(g, a, b).replace('"', "'")
        out.append(f'  {_mermaid_id(a)} -->|"{label}"| {_mermaid_id(b)}')
    return "\n".join(out)
