"""What every project command needs: the loaded stack, its graph, the engine, the
selected services, and the project's containers. Heavy imports stay inside."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import typer

from orchestrator.cli import render
from orchestrator.cli.engine import get_engine
from orchestrator.cli.options import GlobalOptions
from orchestrator.errors import EngineCallError, FileNotFoundStackError, UsageError

if TYPE_CHECKING:
    from orchestrator.loader.load import OpenedProject
    from orchestrator.model import Stack
    from orchestrator.observe import ObservedContainer
    from runtime import api


class Project:
    """A project as a command sees it; ``stack`` is None when only its name is known
    (``down -p NAME`` with no file: everything is found by label). The stack and the
    graph are made on first use: a command that only lists or stops by label imports
    neither the model (on a loader cache hit) nor networkx."""

    def __init__(self, *, name: str, stack: Stack | None = None, sources: Any = None,
                 opened: OpenedProject | None = None) -> None:
        self.name = name
        self._stack = stack
        self._sources = sources
        self._opened = opened
        self._graph: Any = None

    @property
    def stack(self) -> Stack | None:
        if self._stack is None and self._opened is not None:
            loaded = self._opened.loaded
            self._stack, self._sources = loaded.stack, loaded.sources
        return self._stack

    @property
    def opened(self) -> OpenedProject | None:
        """The load behind the stack (None: only the name is known)."""
        return self._opened

    @property
    def graph(self) -> Any:
        """networkx DiGraph of the services, or None without a stack."""
        if self._graph is None and self.stack is not None:
            from orchestrator import graph

            self._graph = graph.build_graph(self.stack, self._sources)
        return self._graph


def options(ctx: typer.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    assert isinstance(obj, GlobalOptions)
    return obj


def environment(ctx: typer.Context, project: Project) -> dict[str, str]:
    """The project's environment (the shell over its env files), as interpolation saw it:
    what ``environment:`` secrets and configs read, and so what their hash must see."""
    if project.opened is not None:
        return dict(project.opened.loaded.raw.environment)
    return dict(options(ctx).environ)


def engine(ctx: typer.Context) -> api.Engine:
    return get_engine(ctx)


def load(ctx: typer.Context, *, services: Iterable[str] = (), need_file: bool = True) -> Project:
    """Load the stack (profiles of named services switched on); without a file, a
    project named by -p / the environment is enough when ``need_file`` is False."""
    from orchestrator.loader.load import open_project
    from orchestrator.loader.project import env_lookup

    opts = options(ctx)
    load_options = dataclasses.replace(opts.load_options(), services=tuple(services))
    try:
        opened = open_project(load_options)
    except FileNotFoundStackError:
        name = opts.project_name or env_lookup(opts.environ, "STACK_PROJECT_NAME",
                                               "COMPOSE_PROJECT_NAME")
        if need_file or not name:
            raise
        return Project(name=name, stack=None)
    for warning in opened.warnings:
        render.warning(warning)
    return Project(name=opened.name, opened=opened)


def select(project: Project, names: Iterable[str], *, with_deps: bool = True
           ) -> frozenset[str] | None:
    """The services named (plus, with ``with_deps``, what they need); None: all."""
    wanted = list(names)
    if not wanted:
        return None
    if project.stack is None:
        return frozenset(wanted)
    unknown = [n for n in wanted if n not in project.stack.services]
    if unknown:
        known = ", ".join(sorted(project.stack.services))
        raise UsageError(f'no such service: {", ".join(unknown)}', hint=f"services: {known}")
    out = set(wanted)
    if with_deps:
        from orchestrator import graph

        for n in wanted:
            out.update(graph.dependencies(project.graph, n))
    return frozenset(out)


def containers(ctx: typer.Context, project: Project, *, services: Iterable[str] = (),
               all: bool = True, oneoff: bool = False) -> list[ObservedContainer]:
    """The project's containers (of ``services`` if named), sorted by service and number."""
    from orchestrator.observe import observed_container
    from runtime import api as rapi
    from runtime.errors import EngineError

    wanted = set(services)
    try:
        infos = engine(ctx).container_list(all=all, labels={rapi.LABEL_PROJECT: project.name})
    except EngineError as exc:
        raise EngineCallError(f'project "{project.name}": {exc.message}') from exc
    found = [observed_container(i) for i in infos]
    return sorted((c for c in found if (not wanted or c.service in wanted)
                   and (oneoff or not c.oneoff)),
                  key=lambda c: (c.service, c.number, c.name))


def short_name(project: str, container: str) -> str:
    """``notes-web-1`` -> ``web-1`` (the log prefix Compose prints)."""
    return container.removeprefix(f"{project}-")
