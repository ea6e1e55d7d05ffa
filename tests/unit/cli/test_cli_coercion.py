"""Command-line values converted directly (orchestrator.cli.coercion) come out as typer's
own converter makes them, and what the direct way does not take still gets typer's."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from orchestrator.cli import coercion


class Color(StrEnum):
    red = "red"
    blue = "blue"


seen: dict[str, Any] = {}


def command(
    name: Annotated[str, typer.Option()] = "x",
    count: Annotated[int, typer.Option()] = 1,
    ratio: Annotated[float | None, typer.Option()] = None,
    path: Annotated[Path | None, typer.Option()] = None,
    files: Annotated[list[Path] | None, typer.Option("--file")] = None,
    color: Annotated[Color, typer.Option()] = Color.red,
    flag: Annotated[bool, typer.Option()] = False,
) -> None:
    seen.update(name=name, count=count, ratio=ratio, path=path, files=files, color=color,
                flag=flag)


class Prepared(typer.core.TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        coercion.prepare(self)  # as orchestrator.cli.lazy does


def run(args: list[str], *, direct: bool) -> tuple[int, str, dict[str, Any]]:
    app = typer.Typer()
    app.command(cls=Prepared if direct else None)(command)
    seen.clear()
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output, dict(seen)


@pytest.mark.parametrize("args", [
    [],
    ["--name", "web", "--count", "-3", "--ratio", "2.5", "--path", "a/b", "--file", "x",
     "--file", "/y", "--color", "blue", "--flag"],
    ["--ratio", "1e3", "--count", " 7", "--color", "BLUE"],  # not taken directly: typer's
    ["--count", "many"],
    ["--color", "green"],
    ["--ratio", "nan?"],
])
def test_same_values_and_messages_as_typer(args: list[str]) -> None:
    assert run(args, direct=True) == run(args, direct=False)


def test_plain_parameters_get_the_direct_converter() -> None:
    app = typer.Typer()
    app.command(cls=Prepared)(command)
    click_command = typer.main.get_command(app)
    params = click_command.get_params(typer.Context(click_command))
    kinds = {p.name: type(p._runtime_param).__name__ for p in params  # type: ignore[attr-defined]
             if p.name != "help"}
    assert set(kinds.values()) == {"Direct"}, kinds
