"""`stack volume ...`: ls, create, rm, inspect, prune (named volumes)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from orchestrator.cli import render
from orchestrator.cli.engine import get_engine

app = typer.Typer(help="Manage named volumes.", no_args_is_help=True, rich_markup_mode=None)


@app.command("ls", help="List volumes.")
def ls(
    ctx: typer.Context,
    filter_: Annotated[list[str] | None, typer.Option(
        "--filter", help="label=key[=value].")] = None,
    format_: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only names.")] = False,
) -> None:
    labels: dict[str, str] = {}
    for f in filter_ or []:
        key, _, value = f.partition("=")
        if key == "label":
            k, _, val = value.partition("=")
            labels[k] = val
    volumes = get_engine(ctx).volume_list(labels=labels or None)
    if format_ == "json":
        render.json_out([dataclasses.asdict(v) for v in volumes])
    elif quiet:
        for v in volumes:
            render.line(v.name)
    else:
        render.table(["DRIVER", "VOLUME NAME"], [[v.driver, v.name] for v in volumes])


@app.command("create", help="Create a volume (returns the existing one of that name).")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Volume name.")],
    label: Annotated[list[str] | None, typer.Option("-l", "--label", help="key=value.")] = None,
    opt: Annotated[list[str] | None, typer.Option("-o", "--opt", help="Driver option k=v.")] = None,
) -> None:
    from runtime.api import VolumeConfig

    labels = dict(x.partition("=")[::2] for x in label or [])
    opts = dict(x.partition("=")[::2] for x in opt or [])
    render.line(get_engine(ctx).volume_create(
        VolumeConfig(name=name, labels=labels, driver_opts=opts)).name)


@app.command("rm", help="Remove volumes (refused while a container uses one).")
def rm(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(help="Volume names.")],
    force: Annotated[bool, typer.Option("-f", "--force", help="No error if missing.")] = False,
) -> None:
    from runtime.errors import NotFound

    engine = get_engine(ctx)
    for name in names:
        try:
            engine.volume_remove(name, force=force)
        except NotFound:
            if not force:
                raise
        render.line(name)


@app.command("inspect", help="Show volumes as JSON.")
def inspect(ctx: typer.Context,
            names: Annotated[list[str], typer.Argument(help="Volume names.")]) -> None:
    engine = get_engine(ctx)
    render.json_out([dataclasses.asdict(engine.volume_inspect(n)) for n in names])


@app.command("prune", help="Remove volumes no container uses.")
def prune(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("-f", "--force", help="Do not ask.")] = False,
) -> None:
    from runtime.errors import Conflict

    engine = get_engine(ctx)
    if not force and not typer.confirm("Remove all volumes not used by a container?"):
        return
    used = {m.source for c in engine.container_list(all=True) for m in c.config.mounts
            if m.type == "volume"}
    for v in engine.volume_list():
        if v.name in used:
            continue
        try:
            engine.volume_remove(v.name)
        except Conflict:
            continue
        render.line(v.name)
