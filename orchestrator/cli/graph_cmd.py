"""`stack graph`: print the service dependency graph (owner: loader back-end)."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from orchestrator.cli import render
from orchestrator.cli.options import GlobalOptions

HELP = "Print the service dependency graph (text tree, Graphviz DOT or Mermaid)."


class GraphFormat(enum.StrEnum):
    TEXT = "text"
    DOT = "dot"
    MERMAID = "mermaid"


def graph(
    ctx: typer.Context,
    format: Annotated[
        GraphFormat, typer.Option("--format", help="Output format.")
    ] = GraphFormat.TEXT,
) -> None:
    from orchestrator import graph as depgraph
    from orchestrator.loader.load import load_project

    opts: GlobalOptions = ctx.obj
    result = load_project(opts.load_options())
    for w in result.warnings:
        render.warning(w)
    g = depgraph.build_graph(result.stack, result.sources)
    if format is GraphFormat.DOT:
        render.line(depgraph.render_dot(g, name=result.stack.name))
    elif format is GraphFormat.MERMAID:
        render.line(depgraph.render_mermaid(g))
    else:
        render.line(depgraph.render_text(g))
