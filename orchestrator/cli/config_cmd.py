"""`stack config`: print the normalised stack (owner: loader back-end).

The output is compose-shaped (see ``orchestrator.serialize``) so that it can be
compared with ``docker compose config`` and fed back to either tool.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli import render
from orchestrator.cli.options import GlobalOptions
from orchestrator.errors import UsageError

if TYPE_CHECKING:
    from orchestrator import model

HELP = "Validate the stack file(s) and print the normalised stack."


class Format(enum.StrEnum):
    YAML = "yaml"
    JSON = "json"


def config(
    ctx: typer.Context,
    format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.YAML,
    services: Annotated[
        bool, typer.Option("--services", help="Print the service names, one per line.")
    ] = False,
    volumes: Annotated[
        bool, typer.Option("--volumes", help="Print the volume keys, one per line.")
    ] = False,
    networks: Annotated[
        bool, typer.Option("--networks", help="Print the network keys, one per line.")
    ] = False,
    images: Annotated[
        bool, typer.Option("--images", help="Print the image of each service, one per line.")
    ] = False,
    profiles: Annotated[
        bool, typer.Option("--profiles", help="Print the profiles the services use, one per line.")
    ] = False,
    hash_: Annotated[
        str | None,
        typer.Option(
            "--hash",
            metavar="SERVICE",
            help='Print "service hash" for SERVICE, or for all with "*".',
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Only validate; print nothing.")
    ] = False,
    no_interpolate: Annotated[
        bool, typer.Option("--no-interpolate", help="Do not replace ${VARIABLES}.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Write to FILE instead of standard output.", show_default=False
        ),
    ] = None,
) -> None:
    from orchestrator.loader.load import load_project

    opts: GlobalOptions = ctx.obj
    if no_interpolate:
        if hash_ is not None:
            raise UsageError("--hash needs the interpolated stack: drop --no-interpolate")
        raw = _uninterpolated(opts)
        if not quiet:
            _emit(
                _raw_lines(
                    raw,
                    services=services,
                    volumes=volumes,
                    networks=networks,
                    images=images,
                    profiles=profiles,
                ),
                raw,
                format=format,
                output=output,
            )
        return
    result = load_project(opts.load_options())
    for w in result.warnings:
        render.warning(w)
    if quiet:
        return
    stack = result.stack
    lines: list[str] | None = None
    if services:
        lines = list(stack.services)
    elif volumes:
        lines = list(stack.volumes)
    elif networks:
        lines = list(stack.networks)
    elif images:
        lines = [_image(stack, s) for s in stack.services.values()]
    elif profiles:
        lines = sorted(set(result.all_profiles))
    elif hash_ is not None:
        lines = _hashes(stack, hash_, environ=result.raw.environment)
    if lines is not None:
        _emit(lines, {}, format=format, output=output)
    else:
        from orchestrator.serialize import escape_dollars, stack_to_dict

        _emit(None, escape_dollars(stack_to_dict(stack)), format=format, output=output)


def _emit(
    lines: list[str] | None, data: dict[str, Any], *, format: Format, output: Path | None
) -> None:
    if lines is not None:
        text = "".join(f"{x}\n" for x in lines)
    elif format is Format.JSON:
        text = json.dumps(data, indent=2, default=str) + "\n"
    else:
        text = yaml_text(data)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror}") from exc
        return
    if text:
        render.line(text.rstrip("\n"))


def yaml_text(data: dict[str, Any]) -> str:
    """YAML that reads back as the same values. PyYAML writes YAML 1.1 and so
    leaves strings like "1e3" or "0o17" unquoted, which a YAML 1.2 reader (ours,
    compose's) takes for numbers: such strings are quoted here."""
    import re

    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    number_12 = re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    )
    Dumper.add_implicit_resolver("tag:yaml.org,2002:float", number_12, list("-+0123456789."))
    return yaml.dump(
        data, Dumper=Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def _uninterpolated(opts: GlobalOptions) -> dict[str, Any]:
    """The merged stack with ${VARIABLES} left as written, validated and with
    profiles applied but not normalised (normalising needs the values), as
    `docker compose config --no-interpolate` prints it."""
    from orchestrator.loader import validate
    from orchestrator.loader.load import load_raw
    from orchestrator.loader.profiles import apply_profiles

    raw = load_raw(opts.load_options(interpolate=False))
    for w in raw.warnings:
        render.warning(w)
    validate.validate(raw.data, raw.sources)
    data = apply_profiles(raw.data, raw.sources, raw.active_profiles)
    return {"name": raw.project_name, **{k: v for k, v in data.items() if k != "name"}}


def _raw_lines(
    data: dict[str, Any],
    *,
    services: bool,
    volumes: bool,
    networks: bool,
    images: bool,
    profiles: bool,
) -> list[str] | None:
    svcs = data.get("services") or {}
    if services:
        return sorted(svcs)
    if volumes:
        return sorted(data.get("volumes") or {})
    if networks:
        return sorted(data.get("networks") or {})
    if images:
        return [str(s.get("image") or f"{data['name']}-{n}") for n, s in sorted(svcs.items())]
    if profiles:
        from orchestrator.loader.profiles import all_profiles

        return all_profiles(data)
    return None


def _image(stack: model.Stack, svc: model.Service) -> str:
    # Built images are named like compose names them: <project>-<service>.
    return svc.image or f"{stack.name}-{svc.name}"


def _hashes(stack: model.Stack, which: str, *, environ: Mapping[str, str]) -> list[str]:
    from orchestrator.confighash import service_hash

    names = list(stack.services) if which == "*" else [n.strip() for n in which.split(",")]
    unknown = [n for n in names if n not in stack.services]
    if unknown:
        raise UsageError(
            f'no such service: "{unknown[0]}"',
            hint=f"services: {', '.join(stack.services) or '(none)'}",
        )
    return [f"{n} {service_hash(stack, n, environ=environ)}" for n in names]
