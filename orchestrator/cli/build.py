"""`stack image build` (also `stack build-image`): build an image from a Dockerfile.

Progress goes to stderr (``#3 [build 2/4] RUN make`` / ``#3 CACHED`` / output
lines); the image id goes to stdout, alone with ``-q``, so scripts can use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli import render
from orchestrator.cli.engine import get_engine

HELP = "Build an image from a Dockerfile."


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    """KEY=VALUE options; a bare KEY takes its value from the environment (like docker)."""
    import os

    out: dict[str, str] = {}
    for item in values or ():
        key, eq, value = item.partition("=")
        if not key:
            raise typer.BadParameter(f'{what} "{item}": expected KEY=VALUE')
        if not eq:
            if key not in os.environ:
                continue
            value = os.environ[key]
        out[key] = value
    return out


def build(
    ctx: typer.Context,
    context: Annotated[Path, typer.Argument(help="The build context directory.",
                                            show_default=False)],
    tag: Annotated[list[str] | None, typer.Option(
        "-t", "--tag", help="Name the image (repeatable).", show_default=False)] = None,
    file: Annotated[str | None, typer.Option(
        "-f", "--file", help="The Dockerfile (default: CONTEXT/Dockerfile; '-' reads stdin).",
        show_default=False)] = None,
    build_arg: Annotated[list[str] | None, typer.Option(
        "--build-arg", help="Set a build-time variable: KEY=VALUE (repeatable).",
        show_default=False)] = None,
    target: Annotated[str, typer.Option("--target", help="Build this stage, not the last.")] = "",
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Do not use the step cache.")] = False,
    pull: Annotated[bool, typer.Option("--pull", help="Always pull base images.")] = False,
    label: Annotated[list[str] | None, typer.Option(
        "--label", help="Add a label to the image: KEY=VALUE (repeatable).",
        show_default=False)] = None,
    network: Annotated[str, typer.Option(
        "--network", help="Network for RUN steps: host, none or bridge.")] = "host",
    quiet: Annotated[bool, typer.Option(
        "-q", "--quiet", help="Print only the image id (errors still show).")] = False,
) -> None:
    engine = get_engine(ctx)
    dockerfile: str | None = None
    dockerfile_text: str | None = None
    if file == "-":
        import sys

        dockerfile_text = sys.stdin.read()
    elif file:
        dockerfile = str(Path(file).resolve())
    info = engine.image_build(
        str(context.resolve()), dockerfile=dockerfile, dockerfile_text=dockerfile_text,
        build_args=_pairs(build_arg, "--build-arg"), target=target,
        labels=_pairs(label, "--label"), tags=tuple(tag or ()), no_cache=no_cache, pull=pull,
        network=network, progress=render.build_progress(quiet=quiet))
    render.line(info.id)
