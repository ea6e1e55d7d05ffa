"""`stack graph`: print the service dependency graph (owner: loader back-end)."""

from __future__ import annotations

import typer

HELP = "Print the service dependency graph (text tree, Graphviz DOT or Mermaid)."


def graph(ctx: typer.Context) -> None:
    raise NotImplementedError  # filled in by the loader back-end work
