"""Find the stack file(s) when none is named with ``-f``.

Looks in the working directory, then each parent, for the first directory that
holds one of ``DEFAULT_NAMES`` (first name in that order wins; several present
is a warning), and adds an override file from the same directory when there
is one (``compose.override.yaml`` beside ``compose.yaml``, ...), as compose does.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

from orchestrator.errors import FileNotFoundStackError
from orchestrator.loader import inputs

log = logging.getLogger(__name__)

DEFAULT_NAMES: Final = (
    "compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml",
    "stack.yaml", "stack.yml",
)
OVERRIDE_NAMES: Final = tuple(
    name.replace(".y", ".override.y", 1) for name in DEFAULT_NAMES
)


def find_stack_files(start: Path, *, warnings: list[str]) -> tuple[Path, ...]:
    """The main file and its override file (if any), searched from ``start`` upwards.

    Raises FileNotFoundStackError naming the names searched and the directory.
    """
    start = start.absolute()
    for directory in (start, *start.parents):
        found = [directory / name for name in DEFAULT_NAMES if inputs.is_file(directory / name)]
        if not found:
            continue
        main = found[0]
        if len(found) > 1:
            warnings.append(
                f"Found multiple config files with supported names: "
                f"{', '.join(str(p) for p in found)}. Using {main}"
            )
        log.debug("found stack file %s", main)
        return (main, *_override_for(main, warnings=warnings))
    raise FileNotFoundStackError(
        f"no stack file found in {start} or its parent directories",
        detail=f"looked for: {', '.join(DEFAULT_NAMES)}",
        hint="name one with -f, or set STACK_FILE / COMPOSE_FILE",
    )


def _override_for(main: Path, *, warnings: list[str]) -> tuple[Path, ...]:
    directory = main.parent
    matching = main.name.replace(".y", ".override.y", 1)
    found = [directory / name for name in OVERRIDE_NAMES if inputs.is_file(directory / name)]
    if not found:
        return ()
    # prefer the override that matches the main file's name, else compose's first in order
    chosen = next((p for p in found if p.name == matching), found[0])
    if len(found) > 1:
        warnings.append(
            f"Found multiple override files with supported names: "
            f"{', '.join(str(p) for p in found)}. Using {chosen}"
        )
    return (chosen,)
