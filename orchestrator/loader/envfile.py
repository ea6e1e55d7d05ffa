"""Read ``.env`` / ``--env-file`` / service ``env_file:`` files.

Lines are parsed by python-dotenv's parser; values are then expanded with our
own ``interpolate.substitute`` so a file understands every compose form
(``${A:-x}``, ``${A:?msg}``, ...). As in compose, a variable in a value is
looked up in the given environment first, then among the keys defined earlier
(in this file, then in env files read before it); single-quoted values are
taken literally; a bare ``KEY`` line takes the value of ``KEY`` from the
environment (and is dropped if unset).

``format: raw`` (a service's ``env_file``) reads lines as compose does for that
format: ``KEY=VALUE`` with VALUE exactly as written (no quotes removed, no
``${...}``, no comments after it); blank lines and ``#`` lines are skipped,
leading blanks of a line dropped, a bare ``KEY`` still comes from the environment.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from pathlib import Path

from orchestrator.errors import ConfigError, FileNotFoundStackError, Location
from orchestrator.loader import inputs
from orchestrator.loader.interpolate import (
    InvalidTemplateError,
    MissingRequiredError,
    TooDeepError,
    substitute,
)

log = logging.getLogger(__name__)


def read_env_file(
    path: Path,
    *,
    environ: Mapping[str, str],
    reference: Location | None = None,
    reference_path: tuple[str | int, ...] = (),
    earlier: Mapping[str, str] | None = None,
    raw: bool = False,
) -> dict[str, str]:
    """The variables ``path`` defines, expanded against ``environ`` (``raw``: taken literally).

    ``reference`` / ``reference_path`` say where the file was named, for the
    error when it is missing; ``earlier`` holds variables of env files read before.
    """
    try:
        text = inputs.read_text(path)
    except FileNotFoundError:
        raise FileNotFoundStackError(f"env file {path} not found", location=reference,
                                     path=reference_path) from None
    except IsADirectoryError:
        raise ConfigError(f"env file {path} is a directory", location=reference,
                          path=reference_path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read env file {path}: {exc}", location=reference,
                          path=reference_path) from None
    if raw:
        return parse_raw_env(text, file=str(path), environ=environ)
    return parse_env(text, file=str(path), environ=environ, earlier=earlier or {})


def read_env_files(paths: tuple[Path, ...], *, environ: Mapping[str, str]) -> dict[str, str]:
    """Several env files, later ones overriding earlier ones (``--env-file a --env-file b``)."""
    merged: dict[str, str] = {}
    for path in paths:
        merged.update(read_env_file(path, environ=environ, earlier=merged))
    return merged


def parse_env(
    text: str, *, file: str, environ: Mapping[str, str], earlier: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Parse env-file text; returns only the keys it defines. Pure: no I/O.

    A variable in a value is looked up in ``environ``, then in this file's earlier keys,
    then in ``earlier`` (previous env files).
    """
    from dotenv.parser import parse_stream  # not needed by loads without env files

    values: dict[str, str] = {}

    def lookup(name: str) -> str | None:
        found = environ.get(name)
        if found is None:
            found = values.get(name)
        if found is None and earlier:
            found = earlier.get(name)
        return found

    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error:
            raise ConfigError(
                f"env file {file}: cannot parse line {line}",
                location=Location(file=file, line=line, column=1),
                detail=binding.original.string.strip(),
                hint="lines are KEY=VALUE, # comments, or a bare KEY",
            )
        if binding.key is None:
            continue
        if binding.value is None:
            inherited = environ.get(binding.key)
            if inherited is not None:
                values[binding.key] = inherited
            continue
        if _single_quoted(binding.original.string):
            values[binding.key] = binding.value
            continue
        try:
            values[binding.key] = substitute(binding.value, lookup=lookup, on_unset=lambda _: None)
        except TooDeepError:
            raise ConfigError(f"env file {file}: interpolation is nested too deeply",
                              location=Location(file=file, line=line, column=1)) from None
        except InvalidTemplateError as exc:
            raise ConfigError(f'env file {file}: invalid interpolation format "{exc.template}"',
                              location=Location(file=file, line=line, column=1)) from None
        except MissingRequiredError as exc:
            summary = f"env file {file}: required variable {exc.variable} is missing a value"
            raise ConfigError(summary + (f": {exc.reason}" if exc.reason else ""),
                              location=Location(file=file, line=line, column=1)) from None
    return values


def parse_raw_env(text: str, *, file: str, environ: Mapping[str, str]) -> dict[str, str]:
    """Parse env-file text of ``format: raw``: values literal (see the module doc). Pure."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r").lstrip(" \t")  # lines end at \n only, as Go reads them
        if not line or line.startswith("#"):
            continue
        key, found, value = line.partition("=")
        where = Location(file=file, line=number, column=1)
        if not key:
            raise ConfigError(f"env file {file}: line {number} has no variable name before `=`",
                              location=where, detail=line, hint="lines are KEY=VALUE or a bare KEY")
        if any(c.isspace() for c in key):
            raise ConfigError(f'env file {file}: variable name "{key}" contains whitespace',
                              location=where, detail=line,
                              hint="a raw env file takes KEY=VALUE with nothing around the `=`")
        if found:
            values[key] = value
        elif key in environ:
            values[key] = environ[key]
    return values


def _single_quoted(original: str) -> bool:
    _, _, rest = original.partition("=")
    return rest.lstrip(" \t").startswith("'")
