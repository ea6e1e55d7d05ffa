"""`stack image ...`: list, pull, push, tag, remove, inspect, import/export, login.

Each command asks the engine (orchestrator.cli.engine.get_engine) and renders
through orchestrator.cli.render; runtime and rich are imported lazily.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli import build as build_cmd
from orchestrator.cli import render
from orchestrator.cli.engine import get_engine

if TYPE_CHECKING:
    from runtime.api import ImageInfo

app = typer.Typer(help="Manage images: pull, push, tag, import and export.",
                  no_args_is_help=True, rich_markup_mode=None)
app.command("build", help=build_cmd.HELP)(build_cmd.build)


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.3g}{unit}" if unit != "B" else f"{int(size)}B"
        size /= 1000
    return f"{size}GB"


def ago(when: float) -> str:
    if when <= 0:
        return "N/A"
    delta = max(time.time() - when, 0)
    for unit, seconds in (("years", 31536000), ("months", 2592000), ("days", 86400),
                          ("hours", 3600), ("minutes", 60)):
        if delta >= 2 * seconds:
            return f"{int(delta // seconds)} {unit} ago"
    return "less than a minute ago" if delta < 60 else "a while ago"


def _short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def _split_name(tag: str) -> tuple[str, str]:
    from runtime.images.reference import parse_reference

    familiar = parse_reference(tag).familiar()
    name, _, version = familiar.rpartition(":")
    return name, version


def info_json(info: ImageInfo) -> dict[str, Any]:
    return dataclasses.asdict(info)


@app.command("ls", help="List images.")
def ls(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only image ids.")] = False,
) -> None:
    images = get_engine(ctx).image_list()
    if format == "json":
        render.json_out([info_json(i) for i in images])
        return
    if quiet:
        for i in images:
            render.line(_short_id(i.id))
        return
    rows: list[list[object]] = []
    for i in images:
        for tag in i.repo_tags or ("<none>:<none>",):
            name, version = _split_name(tag) if tag != "<none>:<none>" else ("<none>", "<none>")
            rows.append([name, version, _short_id(i.id), ago(i.created), human_size(i.size)])
    render.table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows)


@app.command("pull", help="Pull an image from a registry.")
def pull(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Image reference, e.g. busybox or host:5000/a/b:tag.")],
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress output.")] = False,
) -> None:
    engine = get_engine(ctx)
    with render.transfer_progress(quiet=quiet) as progress:
        info = engine.image_pull(ref, progress=progress)
    render.line(info.repo_digests[0] if info.repo_digests else info.id)


@app.command("push", help="Push an image to the registry its name says.")
def push(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Local image name, e.g. host:5000/a/b:tag.")],
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress output.")] = False,
) -> None:
    engine = get_engine(ctx)
    with render.transfer_progress(quiet=quiet) as progress:
        engine.image_push(ref, progress=progress)
    info = engine.image_inspect(ref)
    pushed = [d for d in info.repo_digests if d.startswith(_name_of(ref) + "@")]
    render.line(pushed[0] if pushed else ref)


def _name_of(ref: str) -> str:
    from runtime.images.reference import parse_reference

    return parse_reference(ref).name


@app.command("tag", help="Give an image another name.")
def tag(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Existing image (name or id).")],
    target: Annotated[str, typer.Argument(help="New name, e.g. host:5000/a/b:tag.")],
) -> None:
    get_engine(ctx).image_tag(source, target)


@app.command("rm", help="Remove images (refused while a container uses one, unless --force).")
def rm(
    ctx: typer.Context,
    refs: Annotated[list[str], typer.Argument(help="Images (names or ids).")],
    force: Annotated[bool, typer.Option("-f", "--force", help="Remove even if in use.")] = False,
) -> None:
    engine = get_engine(ctx)
    for ref in refs:
        for done in engine.image_remove(ref, force=force):
            render.line(done.replace("untagged", "Untagged").replace("deleted", "Deleted"))


@app.command("inspect", help="Show images as JSON.")
def inspect(
    ctx: typer.Context,
    refs: Annotated[list[str], typer.Argument(help="Images (names or ids).")],
) -> None:
    engine = get_engine(ctx)
    render.json_out([info_json(engine.image_inspect(r)) for r in refs])


@app.command("import", help="Import a rootfs tarball (needs NAME), a docker save archive or an "
             "OCI layout/archive (auto-detected).")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Tarball (plain, gzip or zstd) or OCI dir.")],
    name: Annotated[str | None, typer.Argument(help="Name for the image.")] = None,
) -> None:
    for info in get_engine(ctx).image_import(str(file.absolute()), ref=name):
        render.line(info.id)


@app.command("save", help="Write images to a tar archive (docker save or OCI format).")
def save(
    ctx: typer.Context,
    refs: Annotated[list[str], typer.Argument(help="Images to save.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Archive to write.")],
    format: Annotated[str, typer.Option("--format", help="docker or oci.")] = "docker",
) -> None:
    if format not in ("docker", "oci"):
        raise typer.BadParameter(f'unknown format "{format}": use docker or oci')
    get_engine(ctx).image_save(refs, str(output.absolute()),
                               format="oci" if format == "oci" else "docker")


app.command("export", help="Same as save.")(save)


@app.command("load", help="Load images from a docker save archive or an OCI archive.")
def load(
    ctx: typer.Context,
    input: Annotated[Path, typer.Option("-i", "--input", help="Archive to read.")],
) -> None:
    for info in get_engine(ctx).image_load(str(input.absolute())):
        render.line(f"Loaded image: {', '.join(info.repo_tags) or info.id}")


@app.command("prune", help="Remove untagged images (with --all: every image no container uses).")
def prune(
    ctx: typer.Context,
    all: Annotated[bool, typer.Option("-a", "--all", help="All unused images.")] = False,
) -> None:
    removed = get_engine(ctx).image_prune(all=all)
    for image_id in removed:
        render.line(f"Deleted: {image_id}")
    render.line(f"Removed {len(removed)} image(s)")


@app.command("history", help="Show how an image was made.")
def history(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Image (name or id).")],
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    steps = get_engine(ctx).image_history(ref)
    if format == "json":
        render.json_out([dataclasses.asdict(s) for s in steps])
        return
    render.table(["CREATED", "CREATED BY", "SIZE", "COMMENT"],
                 [[ago(s.created), s.created_by[:60], human_size(s.size), s.comment]
                  for s in steps])


@app.command("login", help="Log in to a registry (credentials kept in ~/.config/stack/auth.json).")
def login(
    ctx: typer.Context,
    registry: Annotated[str, typer.Argument(help="Registry host (default: Docker Hub).")] = "docker.io",
    username: Annotated[str, typer.Option("-u", "--username", prompt=True)] = "",
    password: Annotated[str | None, typer.Option("-p", "--password",
                                                 help="Prefer --password-stdin.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from stdin.")] = False,
) -> None:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif password is None:
        password = typer.prompt("Password", hide_input=True)
    path = get_engine(ctx).image_login(registry, username=username, password=password or "")
    render.line(f"Login succeeded (credentials stored in {path})")


@app.command("logout", help="Forget the credentials for a registry.")
def logout(
    ctx: typer.Context,
    registry: Annotated[str, typer.Argument(help="Registry host (default: Docker Hub).")] = "docker.io",
) -> None:
    if get_engine(ctx).image_logout(registry):
        render.line(f"Removed login credentials for {registry}")
    else:
        render.warning(f"not logged in to {registry}")
