"""Project-level settings: which files, which directory, which environment, name, profiles.

Precedence follows compose:

- files: ``-f`` > ``STACK_FILE`` / ``COMPOSE_FILE`` (split on
  ``COMPOSE_PATH_SEPARATOR``, default ``os.pathsep``) > discovery;
- project directory: ``--project-directory`` > the first file's directory;
- environment for interpolation: the shell over the env files (``--env-file``,
  repeatable, later over earlier; without it ``.env`` in the project
  directory if present);
- project name: ``-p`` > ``STACK_PROJECT_NAME`` / ``COMPOSE_PROJECT_NAME`` >
  top-level ``name:`` (normalised) > the project directory's basename (normalised);
- profiles: ``--profile`` > ``STACK_PROFILES`` / ``COMPOSE_PROFILES``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from orchestrator.errors import ConfigError, Location, UsageError
from orchestrator.loader import inputs

log = logging.getLogger(__name__)

_NAME_CHARS: Final = re.compile(r"[a-z0-9_-]")
NAME_RULE: Final = ("must consist only of lowercase alphanumeric characters, hyphens, and "
                    "underscores as well as start with a letter or number")


def normalize_project_name(name: str) -> str:
    """Lowercase, keep ``[a-z0-9_-]``, and drop leading ``_`` / ``-`` (compose's rule)."""
    return "".join(_NAME_CHARS.findall(name.lower())).lstrip("_-")


def env_lookup(environ: Mapping[str, str], *names: str) -> str | None:
    """The first of ``names`` set to a non-empty value."""
    for name in names:
        value = environ.get(name)
        if value:
            return value
    return None


def files_from_environment(environ: Mapping[str, str], *, working_dir: Path) -> tuple[Path, ...]:
    """``STACK_FILE`` / ``COMPOSE_FILE`` as paths (relative ones against ``working_dir``)."""
    value = env_lookup(environ, "STACK_FILE", "COMPOSE_FILE")
    if value is None:
        return ()
    separator = environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
    return tuple(working_dir / part for part in value.split(separator) if part)


def resolve_project_name(
    *,
    explicit: str | None,
    environ: Mapping[str, str],
    top_level: Any,
    top_level_location: Location | None,
    project_directory: Path,
) -> str:
    """The project name by compose's precedence; a name the user gave must already be valid."""
    if explicit:
        return _checked(explicit, origin="-p/--project-name")
    from_env = env_lookup(environ, "STACK_PROJECT_NAME", "COMPOSE_PROJECT_NAME")
    if from_env:
        return _checked(from_env, origin="the environment")
    if top_level is not None and top_level != "":
        # compose normalises the top-level name (`name: My_App.Prod` is project "my_appprod"),
        # while -p and the environment must already be valid
        normalized = normalize_project_name(str(top_level))
        if not normalized:
            raise ConfigError(f'the top-level name "{top_level}" has no letters or digits',
                              location=top_level_location, path=("name",),
                              hint="a project name is made of a-z, 0-9, `_` and `-`")
        return normalized
    name = normalize_project_name(project_directory.absolute().name)
    if not name:
        raise UsageError(
            f'project name cannot be derived from the directory "{project_directory}": '
            f"it has no letters or digits",
            hint="give one with -p, COMPOSE_PROJECT_NAME or a top-level `name:`",
        )
    return name


def _checked(name: str, *, origin: str) -> str:
    if name == normalize_project_name(name):
        return name
    summary = f'invalid project name "{name}" (from {origin}): {NAME_RULE}'
    suggestion = normalize_project_name(name)
    raise UsageError(summary, hint=f'try "{suggestion}"' if suggestion else None)


def resolve_profiles(*, explicit: tuple[str, ...], environ: Mapping[str, str]) -> frozenset[str]:
    """Active profiles: ``--profile`` values, else the comma-separated environment variable."""
    if explicit:
        values: list[str] = []
        for item in explicit:
            values += item.split(",")
    else:
        values = (env_lookup(environ, "STACK_PROFILES", "COMPOSE_PROFILES") or "").split(",")
    return frozenset(v.strip() for v in values if v.strip())


def default_env_files(project_directory: Path) -> tuple[Path, ...]:
    """``.env`` in the project directory, if it is a file."""
    candidate = project_directory / ".env"
    return (candidate,) if inputs.is_file(candidate) else ()


def interpolation_environment(
    *, environ: Mapping[str, str], env_files: tuple[Path, ...],
) -> dict[str, str]:
    """The shell environment over the variables of ``env_files`` (later files win)."""
    from orchestrator.loader.envfile import read_env_files

    merged = read_env_files(env_files, environ=environ) if env_files else {}
    merged.update(environ)
    return merged
